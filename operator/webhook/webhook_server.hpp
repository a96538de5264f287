#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "common/core/error.hpp"
#include "common/http/tls_server.hpp"
#include "operator/webhook/webhook_tls_context.hpp"

namespace mca::op {

struct webhook_http_request {
  std::string method;        // "POST", "GET", ...
  std::string target;        // as sent, query included ("/mutate?timeout=10s")
  std::string content_type;  // empty when the client sent none
  std::string body;
};

struct webhook_http_reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Handles one request. Runs on the server's executor; may co_await. It is
// cancelled (terminal cancellation) when it outlasts handler_timeout, and
// its reply is then ignored. Whatever it throws is caught by the server.
using webhook_handler =
    std::function<boost::asio::awaitable<webhook_http_reply>(
        webhook_http_request)>;

// The TLS context for the next handshake; called at each accept, on the
// server's executor. Must never return null (a connection that gets null
// is closed and logged as a bug).
using webhook_tls_source =
    std::function<std::shared_ptr<const webhook_tls_context>()>;

// tls_server's limits, whose defaults are the webhook's: handler_timeout
// (8 s) stays below the API server's webhook timeout (10 s by default, at
// most 30), so the API server gets an answer rather than a timeout.
using webhook_server_limits = http::server_limits;

struct webhook_server_config {
  std::string address = "0.0.0.0";  // an IP literal; "::" for dual-stack
  unsigned short port = 8443;       // 0: any free port (see port())
  // Named in the message when the port is taken, so the user knows what to
  // change.
  std::string flag = "--webhook-address";
  webhook_server_limits limits;
  // The reply when a handler throws or outlasts handler_timeout; `what`
  // says which (for logs and for a denied AdmissionReview's message). Not
  // set: 500 with a Status body. May throw: the server then answers 500.
  std::function<webhook_http_reply(std::string_view what)> on_handler_failure;
  // The same with the request, whose body holds the review's uid that a
  // denied AdmissionReview must echo. Takes precedence when set.
  std::function<webhook_http_reply(const webhook_http_request& request,
                                   std::string_view what)>
      on_request_failure;
};

// The operator's admission webhook port: HTTPS (HTTP/1.1 with keep-alive,
// common's tls_server) in front of a fixed set of handlers, one per exact
// path (the query is ignored: the API server appends ?timeout=10s), with
// its own answers worded as Kubernetes Statuses.
//
// Per connection: TLS handshake with the context the source gives at
// accept time (a rotated certificate serves new connections; established
// ones keep theirs and are not dropped), then requests one after another,
// each read, handled and written under its own deadline, with idle_timeout
// between them. Every failure is an answer or a close, never an exception:
// an unknown path is a 404, a body over max_body_bytes a 413 and headers
// over max_header_bytes a 431 (both then close the connection), a handler
// that throws or times out gets on_handler_failure's reply. Methods are the
// handlers' business.
//
// Thread affinity: the executor must run on one thread (an io_context run
// by one thread, as everywhere in MCA). bind() and start() on any thread
// before the executor runs or on its thread; stop() and counts() from any
// thread.
class webhook_server {
 public:
  // Binds and listens (not accepting yet). Errors (source config) name the
  // address, the port and the flag, e.g. "port 8443 on 0.0.0.0 is already
  // in use; pass --webhook-address with a free port".
  static mca::result<std::unique_ptr<webhook_server>> bind(
      const boost::asio::any_io_executor& executor, webhook_tls_source tls,
      webhook_server_config config,
      std::map<std::string, webhook_handler, std::less<>> routes);

  // stop().
  ~webhook_server();
  webhook_server(const webhook_server&) = delete;
  webhook_server& operator=(const webhook_server&) = delete;
  webhook_server(webhook_server&&) = delete;
  webhook_server& operator=(webhook_server&&) = delete;

  // The bound port: config.port, or the one the kernel chose for 0.
  unsigned short port() const noexcept;

  void start();
  // Closes the listener at once. Connections waiting for a request or in a
  // handshake are closed now (with close_notify when the handshake is
  // done); one in the middle of a request finishes it (within its
  // deadlines), answers with "Connection: close" and then closes, so that
  // a rolling update loses no review. Idempotent.
  void stop();

  // For metrics and tests. Safe from any thread.
  struct stats {
    std::uint64_t accepted = 0;
    std::uint64_t open = 0;
    std::uint64_t handshakes_failed = 0;
    std::uint64_t requests = 0;          // complete requests read
    std::uint64_t handler_failures = 0;  // threw or timed out
    std::uint64_t refused = 0;  // answered by the server itself (404, 413...)
  };
  stats counts() const;

 private:
  struct routing;
  webhook_server(std::unique_ptr<http::tls_server> server,
                 std::shared_ptr<routing> routes);
  std::unique_ptr<http::tls_server> server_;
  std::shared_ptr<routing> routes_;
};

}  // namespace mca::op
