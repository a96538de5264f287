#include "operator/webhook/injection_webhook.hpp"

#include <utility>

#include <spdlog/spdlog.h>

#include "operator/webhook/admission_review.hpp"

namespace mca::op {

namespace {

namespace asio = boost::asio;

webhook_http_reply review_reply(std::string body) {
  webhook_http_reply reply;
  reply.status = 200;
  reply.content_type = "application/json";
  reply.body = std::move(body);
  return reply;
}

}  // namespace

const char* to_string(admission_result r) noexcept {
  switch (r) {
    case admission_result::injected:
      return "injected";
    case admission_result::unchanged:
      return "unchanged";
    case admission_result::skipped:
      return "skipped";
    case admission_result::refused:
      return "refused";
    case admission_result::error:
      return "error";
  }
  return "error";
}

injection_webhook::injection_webhook(injection_context context,
                                     injection_webhook_hooks hooks)
    : context_(std::move(context)), hooks_(std::move(hooks)) {}

webhook_http_reply injection_webhook::failure_reply(
    const webhook_http_request& request, std::string_view what) {
  auto parsed = parse_admission_review(request.body);
  const std::string uid = parsed ? parsed->uid : parsed.error().uid;
  return review_reply(admission_denied(
      uid, 500, "InternalError",
      "mca-operator could not decide on this pod: " + std::string(what)));
}

asio::awaitable<webhook_http_reply> injection_webhook::handle(
    webhook_http_request request) {
  const auto started = std::chrono::steady_clock::now();
  if (request.method != "POST") {
    webhook_http_reply reply;
    reply.status = 405;
    reply.content_type = "text/plain; charset=utf-8";
    reply.body = "POST an AdmissionReview (admission.k8s.io/v1) here\n";
    co_return reply;
  }
  auto [outcome, body] = co_await review(std::move(request.body));
  if (hooks_.on_admission) {
    hooks_.on_admission(outcome, std::chrono::steady_clock::now() - started);
  }
  co_return review_reply(std::move(body));
}

asio::awaitable<std::pair<admission_result, std::string>>
injection_webhook::review(std::string body) {
  auto parsed = parse_admission_review(body);
  if (!parsed) {
    spdlog::warn("webhook: refused an AdmissionReview: {}",
                 parsed.error().error.message);
    co_return std::make_pair(
        admission_result::error,
        admission_denied(parsed.error().uid, 400, "BadRequest",
                         parsed.error().error.message));
  }
  const admission_request& req = *parsed;
  // The webhook configuration sends pod creations; anything else it is
  // sent by mistake passes untouched rather than blocking the cluster.
  if (req.resource != "pods" || !req.sub_resource.empty() ||
      req.operation != "CREATE" || !req.object.is_object()) {
    co_return std::make_pair(admission_result::skipped,
                             admission_allowed(req.uid, nullptr, {}));
  }
  injection_context ctx = context_;
  ctx.namespace_name = req.namespace_name;
  const injection_result r = inject_pod(req.object, ctx);
  const std::string who =
      req.namespace_name + "/" +
      (req.name.empty()
           ? req.object.value("/metadata/generateName"_json_pointer,
                              std::string()) +
                 "*"
           : req.name);
  switch (r.outcome) {
    case injection_outcome::skipped:
      co_return std::make_pair(admission_result::skipped,
                               admission_allowed(req.uid, nullptr, {}));
    case injection_outcome::unchanged:
      co_return std::make_pair(admission_result::unchanged,
                               admission_allowed(req.uid, nullptr, {}));
    case injection_outcome::refused:
      spdlog::info("webhook: refused pod {}: {}", who, r.reason);
      co_return std::make_pair(
          admission_result::refused,
          admission_denied(req.uid, 400, "BadRequest", r.reason));
    case injection_outcome::injected:
      break;
  }
  // A dry run must leave nothing behind (the webhook declares
  // sideEffects: NoneOnDryRun), so the ConfigMap is only written for real.
  if (!req.dry_run && hooks_.ensure_namespace_bundle) {
    auto ensured = co_await hooks_.ensure_namespace_bundle(req.namespace_name);
    if (!ensured) {
      spdlog::warn("webhook: pod {}: {}", who, ensured.error().message);
      co_return std::make_pair(admission_result::error,
                               admission_denied(req.uid, 500, "InternalError",
                                                ensured.error().message));
    }
  }
  spdlog::debug("webhook: injected pod {}{}", who,
                req.dry_run ? " (dry run)" : "");
  co_return std::make_pair(admission_result::injected,
                           admission_allowed(req.uid, &r.patch, {}));
}

}  // namespace mca::op
