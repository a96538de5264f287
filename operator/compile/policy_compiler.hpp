#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/core/error.hpp"
#include "operator/model/cluster_target.hpp"
#include "operator/model/routing_policy.hpp"

namespace mca::op {

// Decisions of the control plane, as pure functions over plain data: the
// controller feeds them from its caches and acts on what they return.

// What the operator knows of the cluster a policy lives in.
struct namespace_facts {
  std::string operator_namespace;
  // Labels of namespaces, for allowedNamespaces.selector; a namespace
  // missing here has no labels.
  std::map<std::string, std::map<std::string, std::string>> labels;
};

// Whether `target` may be used by policies in `ns`.
bool target_allows_namespace(const cluster_target& target,
                             const std::string& ns,
                             const namespace_facts& facts);

// The Accepted condition of a RoutingPolicy.
struct policy_verdict {
  bool accepted = false;
  std::string
      reason;  // Accepted | UnknownTarget | TargetNotAllowed | InvalidRule
  std::string message;
  std::set<std::string> targets;  // every target it names, sorted

  bool operator==(const policy_verdict&) const = default;
};

policy_verdict judge_policy(
    const routing_policy& policy,
    const std::map<std::string, cluster_target>& targets,
    const namespace_facts& facts);

// Whether the policy applies to the pod (same namespace, selector matches).
bool policy_selects(const routing_policy& policy, const pod_info& pod);

// Policies in the order their rules are tried: priority high to low, then
// name.
std::vector<const routing_policy*> merge_order(
    std::vector<const routing_policy*> policies);

// A pod's routing table as the sidecar receives it.
struct compiled_table {
  std::string version;  // content hash: equal state, equal version
  std::string json;     // the routes-file schema, version included
  failure_mode on_failure = failure_mode::fail_closed;
  std::vector<std::string> policies;  // "ns/name", in merge order
  std::set<std::string> targets;

  bool operator==(const compiled_table&) const = default;
};

// Compiles the table of `pod` from the accepted policies that select it
// (any order; merged here) and the targets' resolved table entries
// (resolve_target). Fails when no policy selects the pod, or a target it
// needs could not be resolved: the caller then keeps the pod's last good
// table. The table is validated by the same parser the sidecar uses, so an
// operator never pushes what a sidecar would refuse.
mca::result<compiled_table> compile_pod_table(
    const pod_info& pod, std::vector<const routing_policy*> policies,
    const std::map<std::string, cluster_target>& targets,
    const std::map<std::string, mca::result<nlohmann::json>>& resolved);

}  // namespace mca::op
