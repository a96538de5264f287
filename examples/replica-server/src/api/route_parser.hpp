#pragma once

#include <string>
#include <string_view>

#include "api/api_types.hpp"

namespace replica_server {

// The API's endpoints, all under /api/v1 (RFD 156):
//   GET /namespaces/{ns}/deployments/{name}/replicas  -> get_replicas
//   PUT /namespaces/{ns}/deployments/{name}/replicas  -> set_replicas
//   GET /deployments                                  -> list_deployments
//   GET /health                                       -> health
enum class endpoint { get_replicas, set_replicas, list_deployments, health };

const char* to_string(endpoint e) noexcept;

struct route {
  endpoint what = endpoint::health;
  std::string namespace_name;  // get_replicas, set_replicas
  std::string name;            // likewise
};

// Decides which endpoint a request is for (pure). The query is ignored;
// path segments are percent-decoded and then validated as Kubernetes names
// (namespace: DNS-1123 label; Deployment: DNS-1123 subdomain).
//
// Errors: 404 for a path the API does not serve (an empty segment, a
// trailing slash or an unknown word included), 400 for a name that is not
// valid or a malformed escape, 405 (with `allow`) for a method the endpoint
// does not take. HEAD is not served: every answer has a body.
api_result<route> parse_route(std::string_view method, std::string_view target);

}  // namespace replica_server
