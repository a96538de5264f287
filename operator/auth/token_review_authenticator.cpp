#include "operator/auth/token_review_authenticator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

namespace mca::op {

namespace {

kube::resource_ref token_reviews() {
  return {"authentication.k8s.io", "v1", "tokenreviews", false};
}

}  // namespace

void token_review_authenticator::authenticate(std::string bearer_token,
                                              callback done) {
  boost::asio::co_spawn(
      executor_,
      [this, token = std::move(bearer_token),
       done = std::move(done)]() mutable -> boost::asio::awaitable<void> {
        auto review = co_await client_.create(
            token_reviews(), "",
            token_review_request(token, sidecar_token_audience));
        if (!review) {
          done(error::of(
              review.error().source,
              "cannot check the sidecar's token: " + review.error().message));
          co_return;
        }
        auto id = identity_from_token_review(*review, sidecar_token_audience);
        if (!id) {
          done(id.error());
          co_return;
        }
        const auto pod = lookup_(id->namespace_name, id->pod_name);
        if (!pod) {
          done(error::of(error_source::client,
                         "sidecar token refused: pod " + id->pod_key() +
                             " is not an injected pod (label "
                             "mca.k8s.io/inject=true) the operator knows"));
          co_return;
        }
        if (pod->uid != id->pod_uid) {
          done(error::of(error_source::client,
                         "sidecar token refused: it was minted for an "
                         "earlier pod named " +
                             id->pod_key() + " (UID " + id->pod_uid + ")"));
          co_return;
        }
        if (pod->service_account != id->service_account) {
          done(error::of(error_source::client,
                         "sidecar token refused: pod " + id->pod_key() +
                             " runs as service account " +
                             pod->service_account + ", the token is of " +
                             id->service_account));
          co_return;
        }
        done(*std::move(id));
      },
      boost::asio::detached);
}

}  // namespace mca::op
