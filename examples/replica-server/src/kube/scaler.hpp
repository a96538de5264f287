#pragma once

#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/backends.hpp"
#include "common/core/error.hpp"
#include "common/kube/rest_client.hpp"

namespace replica_server {

// The body that sets a Deployment's replica count through its scale
// subresource (pure): the merge patch {"spec":{"replicas":N}}, as
// `kubectl scale` sends. A patch rather than GET + PUT of the Scale: no
// resourceVersion to carry, so no conflict to retry when someone else
// scales at the same moment (last writer wins, as with kubectl).
std::string scale_patch(std::int32_t count);

// What the API answers when the API server (or whatever stands in for it)
// refuses or fails a scale (pure): 404, 409 and 422 pass through (the
// Deployment is missing, the object is contested, the count is refused);
// a 401/403 or any other answer is 502 (the server's own credentials or
// an upstream fault, not the client's); 429, 503, 504 and a connection
// that cannot be made are 503.
api_error scale_failure(const mca::error& e, const std::string& namespace_name,
                        const std::string& name);

// Writes replica counts to the API server. Each call is bounded by the
// rest_client's request timeout. Same thread affinity as the client.
class scaler final : public replica_writer {
 public:
  explicit scaler(mca::kube::rest_client& client) : client_(client) {}

  boost::asio::awaitable<api_result<void>> set_replicas(
      std::string namespace_name, std::string name,
      std::int32_t count) override;

 private:
  mca::kube::rest_client& client_;
};

}  // namespace replica_server
