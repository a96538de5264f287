#include "common/routing/route_matcher.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace mca::routing {
namespace {

enum class outcome { no, yes, maybe };

bool any_glob_matches(const std::vector<glob>& globs, std::string_view text) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const glob& g) { return g.matches(text); });
}

bool field_matches(const std::string& pattern, const std::string& value) {
  return pattern == "*" || pattern == value;
}

// Conditions that only make sense for an API resource.
bool has_resource_conditions(const rule_match& m) {
  return m.resources || m.namespaces || m.names || m.needs_object_metadata();
}

outcome evaluate(const rule_match& m, const request_facts& facts) {
  const request_info& info = *facts.info;
  if (!info.is_resource_request && has_resource_conditions(m)) {
    return outcome::no;
  }
  if (m.verbs && std::find(m.verbs->begin(), m.verbs->end(), info.kind) ==
                     m.verbs->end()) {
    return outcome::no;
  }
  if (m.resources &&
      std::none_of(m.resources->begin(), m.resources->end(),
                   [&](const resource_match& r) {
                     return field_matches(r.group, info.group) &&
                            field_matches(r.resource, info.resource) &&
                            field_matches(r.subresource, info.subresource);
                   })) {
    return outcome::no;
  }
  // An empty namespace or name is "none", not a value a glob such as `*`
  // should accept: a namespaced rule must not capture cluster-scoped calls.
  if (m.namespaces && (info.namespace_name.empty() ||
                       !any_glob_matches(*m.namespaces, info.namespace_name))) {
    return outcome::no;
  }
  if (m.names &&
      (info.name.empty() || !any_glob_matches(*m.names, info.name))) {
    return outcome::no;
  }
  if (m.user_agent && !m.user_agent->matches(facts.user_agent)) {
    return outcome::no;
  }
  // Metadata last: a condition that is known to fail must win over one that
  // is merely unknown, or the rule would become a candidate for nothing.
  bool unknown = false;
  if (m.labels) {
    if (!facts.labels) {
      unknown = true;
    } else if (!m.labels->matches(*facts.labels)) {
      return outcome::no;
    }
  }
  if (m.annotations) {
    if (!facts.annotations) {
      unknown = true;
    } else {
      for (const auto& [key, value] : *m.annotations) {
        const auto it = facts.annotations->find(key);
        if (it == facts.annotations->end() || it->second != value) {
          return outcome::no;
        }
      }
    }
  }
  return unknown ? outcome::maybe : outcome::yes;
}

void add_candidate(std::vector<std::string>& candidates,
                   const std::string& target) {
  if (std::find(candidates.begin(), candidates.end(), target) ==
      candidates.end()) {
    candidates.push_back(target);
  }
}

// Route when the candidates name one target, else locate among them.
decision route_or_locate(std::vector<std::string> candidates,
                         std::string rule_name) {
  decision d;
  d.rule = std::move(rule_name);
  if (candidates.size() == 1) {
    d.what = decision::kind::route;
    d.target = std::move(candidates.front());
  } else {
    d.what = decision::kind::locate;
    d.candidates = std::move(candidates);
  }
  return d;
}

std::string describe_resource(const request_info& info) {
  if (!info.is_resource_request) return info.path;
  std::string out = info.resource;
  if (!info.group.empty()) out += "." + info.group;
  if (!info.subresource.empty()) out += "/" + info.subresource;
  return out;
}

// A refusal decided by path alone. Earlier rules that might have matched
// still name where the object could be, so those win over the refusal.
decision refuse(std::vector<std::string> candidates, std::string rule_name,
                int code, std::string message) {
  if (candidates.empty()) {
    decision d;
    d.what = decision::kind::reject;
    d.code = code;
    d.message = std::move(message);
    d.rule = std::move(rule_name);
    return d;
  }
  decision d = route_or_locate(std::move(candidates), std::move(rule_name));
  if (d.what == decision::kind::locate) {
    d.code = code;
    d.message = std::move(message);
  }
  return d;
}

decision fan_out(std::vector<std::string> candidates, const rule& r,
                 std::size_t index, const routing_table& table,
                 const request_info& info) {
  const fan_out_action& f = *r.fan_out;
  switch (info.kind) {
    case verb::list:
    case verb::watch: {
      decision d;
      d.what = decision::kind::fan_out;
      d.candidates = f.targets;
      d.allow_partial = f.allow_partial;
      d.rule = r.display_name(index);
      return d;
    }
    case verb::create:
    case verb::deletecollection:
      if (f.write_target) {
        decision d;
        d.what = decision::kind::route;
        d.target = *f.write_target;
        d.rule = r.display_name(index);
        return d;
      } else {
        decision d;
        d.what = decision::kind::reject;
        d.code = 422;
        d.rule = r.display_name(index);
        d.message = "request " + std::string(to_string(info.kind)) + " " +
                    describe_resource(info) + " is matched only by rule " +
                    d.rule + " of policy " + table.policy +
                    ", which reads from several targets (" +
                    [&] {
                      std::string names;
                      for (const auto& t : f.targets) {
                        names += (names.empty() ? "" : ", ") + t;
                      }
                      return names;
                    }() +
                    ") and names no writeTarget for writes";
        return d;
      }
    case verb::non_resource: {
      decision d;
      d.what = decision::kind::route;
      d.target = f.targets.front();
      d.rule = r.display_name(index);
      return d;
    }
    default:
      for (const auto& t : f.targets) add_candidate(candidates, t);
      return route_or_locate(std::move(candidates), r.display_name(index));
  }
}

}  // namespace

decision match(const routing_table& table, const request_facts& facts) {
  std::vector<std::string> candidates;
  for (std::size_t i = 0; i < table.rules.size(); ++i) {
    const rule& r = table.rules[i];
    const outcome o = evaluate(r.match, facts);
    if (o == outcome::no) continue;
    if (o == outcome::maybe) {
      if (r.fan_out) {
        for (const auto& t : r.fan_out->targets) add_candidate(candidates, t);
      } else if (!r.reject) {
        add_candidate(candidates, r.target);
      }
      continue;
    }
    if (r.fan_out)
      return fan_out(std::move(candidates), r, i, table, *facts.info);
    if (r.reject) {
      std::string message = r.reject->message;
      if (message.empty()) {
        message = "request " + std::string(to_string(facts.info->kind)) + " " +
                  describe_resource(*facts.info) + " is rejected by rule " +
                  r.display_name(i) + " of policy " + table.policy;
      }
      return refuse(std::move(candidates), r.display_name(i), r.reject->code,
                    std::move(message));
    }
    add_candidate(candidates, r.target);
    return route_or_locate(std::move(candidates), r.display_name(i));
  }
  if (table.default_target) {
    add_candidate(candidates, *table.default_target);
    return route_or_locate(std::move(candidates), "");
  }
  return refuse(std::move(candidates), "", 403,
                "request " + std::string(to_string(facts.info->kind)) + " " +
                    describe_resource(*facts.info) +
                    " is not routed by policy " + table.policy +
                    ": no rule matches and it has no defaultTarget");
}

bool placement_ambiguous(const routing_table& table, const request_info& info) {
  if (!info.is_resource_request) return false;
  if (info.namespace_name.empty()) {
    return std::any_of(
        table.rules.begin(), table.rules.end(), [](const rule& r) {
          return r.match.needs_object_metadata() || r.fan_out.has_value();
        });
  }
  request_info named = info;
  named.kind = verb::get;
  named.name.clear();
  named.watch = false;
  request_facts facts;
  facts.info = &named;  // labels and annotations unknown, as for a get
  const auto d = match(table, facts);
  return d.what == decision::kind::locate;
}

}  // namespace mca::routing
