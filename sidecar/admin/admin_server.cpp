#include "sidecar/admin/admin_server.hpp"

#include <string>
#include <utility>
#include <vector>

#include "common/util/strings.hpp"
#include "sidecar/metrics/sidecar_metrics.hpp"

namespace mca::sidecar {
namespace {

std::string not_ready_text(const readiness& r) {
  std::vector<std::string> missing;
  if (!r.files_written) {
    missing.emplace_back("service-account files not written");
  }
  if (!r.listener_up) missing.emplace_back("API listener not up");
  if (!r.table_loaded) missing.emplace_back("no routing table loaded");
  std::string text = "not ready: " + join(missing, "; ");
  if (!r.detail.empty()) text += " (" + r.detail + ")";
  return text;
}

}  // namespace

admin_server::admin_server(admin_endpoint endpoint,
                           std::function<readiness()> readiness_check,
                           std::function<std::string()> routes_json,
                           sidecar_metrics& metrics) {
  std::map<std::string, http::admin_handler, std::less<>> routes;
  routes["/healthz"] = [] {
    return http::admin_reply{200, "text/plain; charset=utf-8", "ok"};
  };
  routes["/readyz"] = [check = std::move(readiness_check)] {
    const readiness r = check();
    if (r.files_written && r.listener_up && r.table_loaded) {
      return http::admin_reply{200, "text/plain; charset=utf-8", "ok"};
    }
    return http::admin_reply{503, "text/plain; charset=utf-8",
                             not_ready_text(r)};
  };
  routes["/metrics"] = [&metrics] {
    return http::admin_reply{200, "text/plain; version=0.0.4; charset=utf-8",
                             metrics.render()};
  };
  routes["/routes"] = [json = std::move(routes_json)] {
    std::string body = json();
    if (body.empty()) {
      return http::admin_reply{503, "text/plain; charset=utf-8",
                               "no routing table loaded"};
    }
    return http::admin_reply{200, "application/json", std::move(body)};
  };
  server_ = std::make_unique<http::admin_server>(std::move(endpoint),
                                                 std::move(routes));
}

admin_server::~admin_server() = default;

mca::result<void> admin_server::start() { return server_->start(); }
void admin_server::stop() { server_->stop(); }
std::uint16_t admin_server::port() const noexcept { return server_->port(); }

}  // namespace mca::sidecar
