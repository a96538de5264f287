#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "common/core/error.hpp"
#include "operator/inject/pod_injector.hpp"
#include "operator/webhook/webhook_server.hpp"

namespace mca::op {

// What an admission ended as, for the duration metric's `result` label.
enum class admission_result { injected, unchanged, skipped, refused, error };
const char* to_string(admission_result r) noexcept;

struct injection_webhook_hooks {
  // Before a pod that mounts mca-ca-bundle is admitted (not on dry runs):
  // the ConfigMap must exist in its namespace.
  std::function<boost::asio::awaitable<result<void>>(std::string ns)>
      ensure_namespace_bundle;
  std::function<void(admission_result, std::chrono::nanoseconds)> on_admission;
};

// The /mutate handler: AdmissionReview v1 in, AdmissionReview v1 out, always
// HTTP 200. Whatever goes wrong (a review that does not parse, a pod that
// cannot be patched, the ConfigMap that cannot be written) becomes a denied
// review whose message says what and why, so `kubectl apply` prints it
// instead of the API server's "failed calling webhook ... 500".
class injection_webhook {
 public:
  injection_webhook(injection_context context, injection_webhook_hooks hooks);

  boost::asio::awaitable<webhook_http_reply> handle(
      webhook_http_request request);

  // For the server's on_request_failure (the handler threw or ran past its
  // deadline): a denied review carrying the request's uid, which the API
  // server needs to accept the answer at all.
  static webhook_http_reply failure_reply(const webhook_http_request& request,
                                          std::string_view what);

 private:
  boost::asio::awaitable<std::pair<admission_result, std::string>> review(
      std::string body);

  injection_context context_;
  injection_webhook_hooks hooks_;
};

}  // namespace mca::op
