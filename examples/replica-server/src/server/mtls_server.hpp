#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "api/api_types.hpp"
#include "common/core/error.hpp"
#include "common/http/tls_server.hpp"
#include "server/mtls_context.hpp"

namespace replica_server {

// tls_server's limits with the API's defaults: small bodies (a replica
// count), and a handler deadline above the Kubernetes client's own timeout,
// as a backstop.
struct server_limits : mca::http::server_limits {
  server_limits() {
    idle_timeout = std::chrono::seconds(60);
    handler_timeout = std::chrono::seconds(15);
    max_body_bytes = 4096;
    max_header_bytes = std::size_t{8} * 1024;
    max_connections = 128;
  }
};

struct server_config {
  std::string address = "127.0.0.1";  // an IP literal; "::" for dual-stack
  unsigned short port = 8443;         // 0: any free port (see port())
  server_limits limits;
};

// Answers one request. Runs on the server's executor. Whatever it throws
// becomes a 500; past handler_timeout the client gets a 504 and the
// handler is cancelled.
using request_handler =
    std::function<boost::asio::awaitable<api_reply>(api_request)>;

// The API's HTTPS port: mutual TLS (see mtls_context) in front of one
// handler, HTTP/1.1 with keep-alive, on MCA's common tls_server.
//
// Per connection: the handshake under its deadline (a refusal is logged at
// warn with the reason: no certificate, unknown CA, expired, not TLS 1.3);
// the client's identity logged at info; then requests one after another,
// each read, handled and written under its own deadline, with an access
// log line each. Every failure is an answer or a close, never an
// exception: a body over max_body_bytes is a 413 and headers over
// max_header_bytes a 431 (both close the connection), malformed HTTP a
// 400.
//
// Thread affinity: the executor must be one thread's (an io_context run by
// one thread). bind() and start() before or on that thread; stop() and
// counts() from any thread.
class mtls_server {
 public:
  // Binds and listens (not accepting yet). Errors (source config) name the
  // address and port, e.g. when the port is in use.
  static mca::result<std::unique_ptr<mtls_server>> bind(
      const boost::asio::any_io_executor& executor,
      std::shared_ptr<const mtls_context> tls, server_config config,
      request_handler handler);

  ~mtls_server();  // stop()
  mtls_server(const mtls_server&) = delete;
  mtls_server& operator=(const mtls_server&) = delete;
  mtls_server(mtls_server&&) = delete;
  mtls_server& operator=(mtls_server&&) = delete;

  // The bound port: config.port, or the kernel's choice for 0.
  unsigned short port() const noexcept;

  void start();
  // Stops accepting. Connections in a handshake or waiting for a request
  // are closed now; one in the middle of a request answers it (within its
  // deadlines) with "Connection: close" and then closes. Idempotent.
  void stop();

  struct stats {
    std::uint64_t accepted = 0;
    std::uint64_t open = 0;
    std::uint64_t handshakes_refused = 0;
    std::uint64_t requests = 0;          // complete requests handled
    std::uint64_t refused = 0;           // 400/413/431 from the server itself
    std::uint64_t handler_failures = 0;  // threw or timed out
  };
  stats counts() const;

 private:
  explicit mtls_server(std::unique_ptr<mca::http::tls_server> server);
  std::unique_ptr<mca::http::tls_server> server_;
};

}  // namespace replica_server
