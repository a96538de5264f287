#include "kube/deployment_summary.hpp"

namespace replica_server {

std::optional<deployment_summary> summarize(const nlohmann::json& deployment) {
  if (!deployment.is_object()) return std::nullopt;
  const auto meta = deployment.find("metadata");
  if (meta == deployment.end() || !meta->is_object()) return std::nullopt;
  const auto name = meta->find("name");
  const auto ns = meta->find("namespace");
  if (name == meta->end() || !name->is_string() || ns == meta->end() ||
      !ns->is_string()) {
    return std::nullopt;
  }
  deployment_summary out;
  out.namespace_name = ns->get<std::string>();
  out.name = name->get<std::string>();
  const auto spec = deployment.find("spec");
  if (spec != deployment.end() && spec->is_object()) {
    const auto replicas = spec->find("replicas");
    if (replicas != spec->end() && replicas->is_number_integer()) {
      out.replicas = replicas->get<std::int64_t>();
    }
  }
  return out;
}

}  // namespace replica_server
