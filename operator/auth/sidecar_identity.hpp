#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/core/error.hpp"

namespace mca::op {

// Who is on the other end of a routing stream, as the API server vouches
// for it: never what the sidecar says about itself.
struct sidecar_identity {
  std::string namespace_name;
  std::string service_account;
  std::string pod_name;
  std::string pod_uid;

  std::string pod_key() const { return namespace_name + "/" + pod_name; }
  bool operator==(const sidecar_identity&) const = default;
};

// The audience sidecar tokens must be minted for.
inline constexpr const char* sidecar_token_audience = "mca-operator";

// Reads a TokenReview the API server answered: the token must be
// authenticated, for `audience`, belong to a service account and be bound
// to a pod (the pod-name and pod-uid claims a projected token carries).
// Errors (source client) say which check failed and never repeat the token.
mca::result<sidecar_identity> identity_from_token_review(
    const nlohmann::json& review, const std::string& audience);

// The TokenReview to create for `token`.
nlohmann::json token_review_request(const std::string& token,
                                    const std::string& audience);

}  // namespace mca::op
