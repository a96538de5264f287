#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/routing/request_classifier.hpp"
#include "common/routing/routing_table.hpp"

namespace mca::routing {

// What the proxy knows about one request.
struct request_facts {
  const request_info* info = nullptr;  // from classify(); must be set
  std::string user_agent;
  // Labels/annotations known for the object: from the request body
  // (create/update/apply) or, for list/watch/deletecollection, the equality
  // requirements (k=v, k==v) of the label selector. nullopt = unknown (get,
  // delete or patch by name: there is no object to look at).
  std::optional<std::map<std::string, std::string>> labels;
  std::optional<std::map<std::string, std::string>> annotations;
};

struct decision {
  // fan_out: a collection read (list, watch) spanning `candidates`, merged.
  enum class kind { route, reject, locate, fan_out };
  kind what = kind::reject;
  std::string target;  // route
  // reject. For locate, when the fallback reached by path alone was a
  // refusal (a reject rule, or no rule and no default), also that refusal:
  // what to answer if the object is in none of the candidates.
  int code = 0;
  std::string message;
  // locate: in rule order, unique. fan_out: the rule's targets in order.
  std::vector<std::string> candidates;
  bool allow_partial = false;  // fan_out: answer without failed targets
  std::string rule;  // the deciding rule's display name; "" for the default
};

// Decides where one request goes. Pure: no I/O, no clock, no state.
//
// Rules are tried in order; the first that matches decides. A rule matches
// when every condition it has holds:
//   - verbs: the request's verb (to_string names) is listed;
//   - resources: an entry's group, resource and subresource each equal the
//     request's or are "*";
//   - namespaces: a glob matches the request's namespace. Cluster-scoped
//     requests (empty namespace) never match a rule with `namespaces`;
//   - names: a glob matches request_info::name. Requests naming no object
//     (lists, collection creates unless the caller filled the body's name
//     into the request_info) never match a rule with `names`;
//   - userAgent: the glob matches the User-Agent (empty if none was sent);
//   - labelSelector / annotations: evaluated on request_facts::labels /
//     annotations (annotations must equal exactly).
//
// Non-resource requests (discovery, /version, /healthz) only match rules
// without resource, namespace, name, label or annotation conditions; with
// none of those they fall through to the default target.
//
// Unknown metadata: when a rule has label or annotation conditions and the
// facts say nullopt, the rule *might* match. A target rule then adds its
// target to the candidates and matching continues; a reject rule is skipped
// (an object it would have refused was never created through this policy,
// so it cannot be where the request is meant to go). When a later rule or
// the default then decides by path alone, its target joins the candidates
// and the decision is `locate` over them, or `route` if they name only one
// target. A path-alone reject (rule, or no rule and no default) with
// candidates also yields locate/route over the candidates, carrying the
// refusal in code/message.
//
// A fan-out rule (`targets`) that matches decides by verb: list and watch
// are `fan_out` over its targets; a request naming an object (get, update,
// patch, delete, connect) is `locate` among them, since the object lives in
// one; create and deletecollection go to its writeTarget, or are refused
// with 422 naming the rule; non-resource requests go to its first target.
// With unknown metadata, it adds all its targets to the candidates.
//
// Nothing matched, no default and no candidates: `reject` 403 with
// "request <verb> <resource> is not routed by policy <policy>: no rule
// matches and it has no defaultTarget".
decision match(const routing_table& table, const request_facts& facts);

// Whether an object of `info`'s resource in `info`'s namespace could be in
// more than one target, so that a request naming it must be located (label
// or fan-out rules could have put it in several). Only then is what a list,
// watch or create shows of placements worth learning: parsing a large list
// to learn what no request will ask costs the proxy more than the relay.
// True for a collection across namespaces (its objects' namespaces are not
// known yet) when any rule could place by labels; rules matching by `names`
// are not considered (a collection names no object).
bool placement_ambiguous(const routing_table& table, const request_info& info);

}  // namespace mca::routing
