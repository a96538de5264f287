#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace replica_server {

// What the API says about one Deployment.
struct deployment_summary {
  std::string namespace_name;
  std::string name;
  // spec.replicas: the count asked for, which is what the API sets. (The
  // test clusters run no controllers, so status never follows; a real
  // cluster's status.replicas would lag behind it anyway.)
  std::int64_t replicas = 1;

  bool operator==(const deployment_summary&) const = default;
};

// From a Deployment object as the API server (or the informer's cache)
// holds it (pure). spec.replicas absent means 1, as Kubernetes defaults it.
// nullopt when the object has no metadata.name or metadata.namespace.
std::optional<deployment_summary> summarize(const nlohmann::json& deployment);

}  // namespace replica_server
