#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/api_types.hpp"
#include "kube/deployment_summary.hpp"

namespace replica_server {

// The API's JSON bodies (pure), members in the order RFD 156 writes them.
// Text that is not valid UTF-8 (a client's path in a message, say) is
// replaced rather than failing the reply.

// {"namespace": ..., "name": ..., "replicaCount": N}
std::string replicas_body(const deployment_summary& d);
// [{"namespace": ..., "name": ..., "replicaCount": N}, ...] in the given
// order.
std::string list_body(const std::vector<deployment_summary>& items);
// {"message": "Replica count updated successfully."}
std::string updated_body();
// {"error": message}
std::string error_body(std::string_view message);

struct health_report {
  bool healthy = false;
  std::string error;  // why not, when unhealthy
};
// {"status":"healthy","kubernetes":"connected"} or
// {"status":"unhealthy","error": ...}
std::string health_body(const health_report& report);

// The reply for an error: its status, {"error": ...} and, for a 405, the
// Allow header.
api_reply error_reply(const api_error& e);

}  // namespace replica_server
