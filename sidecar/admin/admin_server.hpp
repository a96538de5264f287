#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/core/error.hpp"
#include "common/http/admin_server.hpp"

namespace mca::sidecar {

class sidecar_metrics;

// What /readyz checks (ARCHITECTURE §4): the pod passes its startup probe
// only when the app can find its service-account files, reach the listener
// and have its requests routed.
struct readiness {
  bool files_written = false;
  bool listener_up = false;
  bool table_loaded = false;
  std::string detail;  // appended to the "not ready" text, e.g. why no table
};

using http::admin_endpoint;

// The sidecar's admin port: /healthz, /readyz, /metrics and /routes on an
// http::admin_server (its own thread). The callbacks run on that thread and
// must be thread-safe.
class admin_server {
 public:
  // `routes_json` returns the table in force as JSON text, or "" while there
  // is none (then /routes answers 503).
  admin_server(admin_endpoint endpoint,
               std::function<readiness()> readiness_check,
               std::function<std::string()> routes_json,
               sidecar_metrics& metrics);
  ~admin_server();  // stops
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;
  admin_server(admin_server&&) = delete;
  admin_server& operator=(admin_server&&) = delete;

  // As http::admin_server's.
  mca::result<void> start();
  void stop();
  std::uint16_t port() const noexcept;

 private:
  std::unique_ptr<http::admin_server> server_;
};

}  // namespace mca::sidecar
