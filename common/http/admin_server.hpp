#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/core/error.hpp"

namespace mca::http {

struct admin_endpoint {
  std::string address = "0.0.0.0";  // an IP literal; "::" for dual-stack
  std::uint16_t port = 9090;        // 0: any free port (tests)
  // Per read or write; also how long an idle keep-alive connection stays.
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
  // Named in the "port in use" error, so the user knows what to change.
  std::string flag = "--admin-address";
};

struct admin_reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
using admin_handler = std::function<admin_reply()>;

// A plain-HTTP admin port (health, readiness, metrics and the like) for
// both binaries: GET and HEAD of a fixed set of paths, no request bodies,
// bounded headers and sessions. It runs on its own thread with its own
// io_context, so a busy data or control plane never delays a probe or a
// scrape (and the other way round). Handlers run on that thread and must be
// thread-safe.
class admin_server {
 public:
  admin_server(admin_endpoint endpoint,
               std::map<std::string, admin_handler, std::less<>> routes);
  ~admin_server();  // stops
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;
  admin_server(admin_server&&) = delete;
  admin_server& operator=(admin_server&&) = delete;

  // Binds and starts serving. Fails with error_source::config naming the
  // address and port, e.g. when the port is in use. Call at most once.
  mca::result<void> start();
  // Closes the port and every connection and joins the thread. Idempotent.
  void stop();

  // The bound port (the chosen one when the endpoint asked for 0); 0 before
  // start().
  std::uint16_t port() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mca::http
