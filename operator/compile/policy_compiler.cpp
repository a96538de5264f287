#include "operator/compile/policy_compiler.hpp"

#include <algorithm>

#include "common/routing/routing_table.hpp"
#include "common/util/strings.hpp"

namespace mca::op {

namespace {

constexpr const char* table_api_version = "mca.x-k8s.io/v1alpha1";

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// The targets a policy names, in the order it names them. Values of the
// wrong type are skipped here: the table parser reports them by field.
std::vector<std::string> named_targets(const routing_policy& p) {
  std::vector<std::string> out;
  if (p.default_target) out.push_back(*p.default_target);
  const auto add = [&out](const nlohmann::json& value) {
    if (value.is_string()) out.push_back(value.get<std::string>());
  };
  for (const auto& rule : p.rules) {
    if (!rule.is_object()) continue;
    if (const auto it = rule.find("target"); it != rule.end()) add(*it);
    if (const auto it = rule.find("targets"); it != rule.end()) {
      if (it->is_array()) {
        for (const auto& name : *it) add(name);
      }
    }
    if (const auto it = rule.find("writeTarget"); it != rule.end()) add(*it);
  }
  return out;
}

// The routing table only requires writeTarget to be a known target; a
// policy, like the CRD, also requires it to be one of the rule's targets, so
// that creates land where the rule's reads look. Empty when every rule
// complies, else the reason naming the rule as the parser would.
std::string write_target_outside_targets(const routing::routing_table& table) {
  for (std::size_t i = 0; i < table.rules.size(); ++i) {
    const routing::rule& r = table.rules[i];
    if (!r.fan_out || !r.fan_out->write_target) continue;
    const auto& targets = r.fan_out->targets;
    const std::string& write = *r.fan_out->write_target;
    if (std::find(targets.begin(), targets.end(), write) != targets.end()) {
      continue;
    }
    std::string where = "spec.rules[" + std::to_string(i) + "]";
    if (!r.name.empty()) where += " (" + quoted(r.name) + ")";
    return where + ".writeTarget: must be one of targets (" +
           join(targets, ", ") + "), got " + quoted(write);
  }
  return {};
}

// A rule as the table names it: prefixed with its policy, so that a merged
// table's 403s, metrics and /routes say where each rule came from.
nlohmann::json table_rule(const routing_policy& p, const nlohmann::json& rule) {
  nlohmann::json out = rule;
  if (out.is_object() && out.contains("name") && out["name"].is_string()) {
    out["name"] = p.name + "/" + out["name"].get<std::string>();
  }
  return out;
}

// The table parser says "routing table: rules[2] ("x").match...: ..."; in a
// policy's status the same place is spec.rules[2].
std::string as_policy_path(std::string message, const std::string& origin) {
  const std::string prefix = origin + ": ";
  if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
  if (message.rfind("rules[", 0) == 0) message = "spec." + message;
  return message;
}

}  // namespace

bool target_allows_namespace(const cluster_target& target,
                             const std::string& ns,
                             const namespace_facts& facts) {
  const auto& allowed = target.allowed;
  if (!allowed.names && !allowed.selector) {
    return ns == facts.operator_namespace;
  }
  if (allowed.names && std::find(allowed.names->begin(), allowed.names->end(),
                                 ns) != allowed.names->end()) {
    return true;
  }
  if (allowed.selector) {
    const auto it = facts.labels.find(ns);
    static const std::map<std::string, std::string> none;
    return allowed.selector->matches(it == facts.labels.end() ? none
                                                              : it->second);
  }
  return false;
}

policy_verdict judge_policy(
    const routing_policy& policy,
    const std::map<std::string, cluster_target>& targets,
    const namespace_facts& facts) {
  policy_verdict v;
  const auto names = named_targets(policy);
  v.targets.insert(names.begin(), names.end());
  for (const auto& name : names) {
    const auto it = targets.find(name);
    if (it == targets.end()) {
      v.reason = "UnknownTarget";
      v.message = "ClusterTarget " + quoted(name) + " does not exist";
      return v;
    }
    if (!target_allows_namespace(it->second, policy.namespace_name, facts)) {
      v.reason = "TargetNotAllowed";
      v.message = "ClusterTarget " + quoted(name) +
                  " does not allow RoutingPolicies in namespace " +
                  quoted(policy.namespace_name) +
                  " (see its spec.allowedNamespaces)";
      return v;
    }
  }
  // The rules alone, against stand-in targets: the same parser the sidecar
  // runs decides whether they are valid.
  nlohmann::json table{{"apiVersion", table_api_version},
                       {"kind", "RoutingTable"},
                       {"policy", policy.key()},
                       {"rules", nlohmann::json::array()},
                       {"targets", nlohmann::json::array()}};
  for (const auto& name : v.targets) {
    table["targets"].push_back({{"name", name},
                                {"server", "https://validation.invalid"},
                                {"credentials", {{"local", nullptr}}}});
  }
  if (v.targets.empty()) {
    table["targets"].push_back({{"name", "-"},
                                {"server", "https://validation.invalid"},
                                {"credentials", {{"local", nullptr}}}});
  }
  if (policy.default_target) table["defaultTarget"] = *policy.default_target;
  for (const auto& rule : policy.rules) table["rules"].push_back(rule);
  const std::string origin = "RoutingPolicy " + policy.key();
  auto parsed = routing::routing_table::parse(table.dump(), origin);
  if (!parsed) {
    v.reason = "InvalidRule";
    v.message = as_policy_path(parsed.error().message, origin);
    return v;
  }
  if (auto outside = write_target_outside_targets(*parsed); !outside.empty()) {
    v.reason = "InvalidRule";
    v.message = std::move(outside);
    return v;
  }
  v.accepted = true;
  v.reason = "Accepted";
  v.message = "the policy is valid and its targets allow namespace " +
              quoted(policy.namespace_name);
  return v;
}

bool policy_selects(const routing_policy& policy, const pod_info& pod) {
  return policy.namespace_name == pod.namespace_name &&
         policy.pod_selector.matches(pod.labels);
}

std::vector<const routing_policy*> merge_order(
    std::vector<const routing_policy*> policies) {
  std::sort(policies.begin(), policies.end(),
            [](const routing_policy* a, const routing_policy* b) {
              if (a->priority != b->priority) return a->priority > b->priority;
              return a->name < b->name;
            });
  return policies;
}

mca::result<compiled_table> compile_pod_table(
    const pod_info& pod, std::vector<const routing_policy*> policies,
    const std::map<std::string, cluster_target>& targets,
    const std::map<std::string, mca::result<nlohmann::json>>& resolved) {
  if (policies.empty()) {
    return error::of(error_source::config,
                     "no accepted RoutingPolicy selects pod " + pod.key());
  }
  policies = merge_order(std::move(policies));
  compiled_table out;
  out.on_failure = policies.front()->on_failure;
  nlohmann::json rules = nlohmann::json::array();
  std::optional<std::string> default_target;
  for (const routing_policy* p : policies) {
    out.policies.push_back(p->key());
    for (const auto& name : named_targets(*p)) out.targets.insert(name);
    for (const auto& rule : p->rules) {
      rules.push_back(table_rule(*p, rule));
    }
    if (!default_target && p->default_target)
      default_target = p->default_target;
  }
  nlohmann::json table_targets = nlohmann::json::array();
  for (const auto& name : out.targets) {
    const auto r = resolved.find(name);
    const auto t = targets.find(name);
    if (r == resolved.end() || t == targets.end()) {
      return error::of(error_source::config,
                       "ClusterTarget " + quoted(name) + " is unknown");
    }
    if (!r->second) return r->second.error();
    nlohmann::json entry = *r->second;
    if (t->second.impersonate) {
      entry["impersonateUser"] = "system:serviceaccount:" + pod.namespace_name +
                                 ":" + pod.service_account;
    }
    table_targets.push_back(std::move(entry));
  }
  if (table_targets.empty()) {
    return error::of(
        error_source::config,
        "the RoutingPolicies selecting pod " + pod.key() + " name no target");
  }
  nlohmann::json table{{"apiVersion", table_api_version},
                       {"kind", "RoutingTable"},
                       {"policy", join(out.policies, ",")},
                       {"targets", std::move(table_targets)},
                       {"rules", std::move(rules)}};
  if (default_target) table["defaultTarget"] = *default_target;
  const std::string origin = "table of pod " + pod.key();
  auto parsed = routing::routing_table::parse(table.dump(), origin);
  if (!parsed) return parsed.error();
  out.version = parsed->version;
  table["version"] = out.version;
  out.json = table.dump();
  return out;
}

}  // namespace mca::op
