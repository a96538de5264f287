#pragma once

#include <functional>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "common/kube/rest_client.hpp"
#include "operator/auth/sidecar_authenticator.hpp"
#include "operator/model/routing_policy.hpp"

namespace mca::op {

// Checks a sidecar's token with a TokenReview on the home cluster (audience
// mca-operator), then that the pod its claims name is an injected pod the
// operator knows, with the same UID and service account: a token of a
// deleted pod, or of a pod that was never injected, gets nothing.
class token_review_authenticator final : public sidecar_authenticator {
 public:
  using pod_lookup = std::function<std::optional<pod_info>(
      const std::string& ns, const std::string& name)>;

  // `client` and `lookup` are used on `executor` only.
  token_review_authenticator(boost::asio::any_io_executor executor,
                             kube::rest_client& client, pod_lookup lookup)
      : executor_(std::move(executor)),
        client_(client),
        lookup_(std::move(lookup)) {}

  void authenticate(std::string bearer_token, callback done) override;

 private:
  boost::asio::any_io_executor executor_;
  kube::rest_client& client_;
  pod_lookup lookup_;
};

}  // namespace mca::op
