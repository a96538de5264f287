#include "operator/inject/pod_templates.hpp"

#include <array>
#include <string_view>

namespace mca::op {

namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 6> workload_kinds{
    "Deployment", "ReplicaSet", "StatefulSet",
    "DaemonSet",  "Job",        "ReplicationController"};

std::string namespace_of(const json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  const auto ns = metadata->find("namespace");
  return ns != metadata->end() && ns->is_string() ? ns->get<std::string>() : "";
}

}  // namespace

std::optional<pod_template_ref> find_pod_template(const json& object) {
  if (!object.is_object()) return std::nullopt;
  const auto kind_it = object.find("kind");
  const std::string kind = kind_it != object.end() && kind_it->is_string()
                               ? kind_it->get<std::string>()
                               : "";
  const auto found = [&object](std::string pointer) {
    return pod_template_ref{std::move(pointer), namespace_of(object)};
  };
  if (kind == "Pod") return found("");
  if (kind == "PodTemplate") return found("/template");
  if (kind == "CronJob") return found("/spec/jobTemplate/spec/template");
  for (auto k : workload_kinds) {
    if (kind == k) return found("/spec/template");
  }
  static const json::json_pointer containers("/spec/template/spec/containers");
  if (object.contains(containers) && object.at(containers).is_array()) {
    return found("/spec/template");
  }
  return std::nullopt;
}

}  // namespace mca::op
