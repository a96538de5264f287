#include "kube/api_health.hpp"

#include <utility>

#include <spdlog/spdlog.h>

#include "common/http/transport.hpp"

namespace replica_server {
namespace {

mca::http::request version_request() {
  mca::http::request r;
  r.method = "GET";
  r.target = "/version";
  r.headers.push_back({"Accept", "application/json"});
  return r;
}

}  // namespace

boost::asio::awaitable<health_report> api_health::check() {
  health_report report;
  if (!cache_.synced()) {
    report.error =
        "the deployment cache is not synced: " + cache_.sync_problem();
    co_return report;
  }
  mca::http::request request = version_request();
  auto answered = co_await client_.call(std::move(request));
  if (!answered) {
    report.error =
        "the Kubernetes API is not reachable: " + answered.error().message;
    spdlog::warn("health: {}", report.error);
    co_return report;
  }
  report.healthy = true;
  co_return report;
}

}  // namespace replica_server
