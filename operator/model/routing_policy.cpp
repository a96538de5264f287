#include "operator/model/routing_policy.hpp"

#include <limits>

#include "operator/model/json_fields.hpp"

namespace mca::op {

mca::result<routing_policy> parse_routing_policy(const nlohmann::json& object) {
  routing_policy p;
  try {
    const nlohmann::json* metadata = find(object, "metadata");
    if (metadata == nullptr) throw field_error{"metadata: is required"};
    p.name = required_string_at(*metadata, "name", "metadata");
    p.namespace_name = required_string_at(*metadata, "namespace", "metadata");
    p.generation = integer_at(*metadata, "generation", "metadata").value_or(0);
    const nlohmann::json* spec = find(object, "spec");
    if (spec == nullptr) throw field_error{"spec: is required"};
    const nlohmann::json* selector = find(*spec, "podSelector");
    p.pod_selector = parse_label_selector(
        selector ? *selector : nlohmann::json::object(), "spec.podSelector");
    const auto priority = integer_at(*spec, "priority", "spec").value_or(0);
    if (priority < std::numeric_limits<std::int32_t>::min() ||
        priority > std::numeric_limits<std::int32_t>::max()) {
      throw field_error{"spec.priority: must be a 32-bit integer"};
    }
    p.priority = static_cast<std::int32_t>(priority);
    p.default_target = string_at(*spec, "defaultTarget", "spec");
    if (p.default_target && p.default_target->empty()) p.default_target.reset();
    const std::string mode =
        string_at(*spec, "failureMode", "spec").value_or("FailClosed");
    if (mode == "FailClosed") {
      p.on_failure = failure_mode::fail_closed;
    } else if (mode == "LocalPassthrough") {
      p.on_failure = failure_mode::local_passthrough;
    } else {
      throw field_error{
          "spec.failureMode: must be FailClosed or LocalPassthrough"};
    }
    if (const nlohmann::json* rules = find(*spec, "rules")) {
      if (!rules->is_array()) throw field_error{"spec.rules: must be a list"};
      p.rules = *rules;
    }
  } catch (const field_error& e) {
    return error::of(error_source::config, "RoutingPolicy " + p.namespace_name +
                                               "/" + p.name + ": " + e.message);
  }
  return p;
}

mca::result<pod_info> parse_pod(const nlohmann::json& object) {
  pod_info pod;
  try {
    const nlohmann::json* metadata = find(object, "metadata");
    if (metadata == nullptr) throw field_error{"metadata: is required"};
    pod.name = required_string_at(*metadata, "name", "metadata");
    pod.namespace_name = required_string_at(*metadata, "namespace", "metadata");
    pod.uid = string_at(*metadata, "uid", "metadata").value_or("");
    pod.labels = string_map_at(*metadata, "labels", "metadata");
    if (const nlohmann::json* spec = find(object, "spec")) {
      auto sa = string_at(*spec, "serviceAccountName", "spec");
      if (sa && !sa->empty()) pod.service_account = *sa;
    }
  } catch (const field_error& e) {
    return error::of(error_source::config, "Pod " + pod.namespace_name + "/" +
                                               pod.name + ": " + e.message);
  }
  return pod;
}

}  // namespace mca::op
