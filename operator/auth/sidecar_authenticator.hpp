#pragma once

#include <functional>
#include <string>

#include "common/core/error.hpp"
#include "operator/auth/sidecar_identity.hpp"

namespace mca::op {

// Decides who a stream's bearer token belongs to. Asynchronous because the
// answer comes from the API server; `done` runs exactly once, on any thread.
class sidecar_authenticator {
 public:
  using callback = std::function<void(mca::result<sidecar_identity>)>;
  virtual ~sidecar_authenticator() = default;
  virtual void authenticate(std::string bearer_token, callback done) = 0;
};

}  // namespace mca::op
