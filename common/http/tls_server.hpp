#pragma once

// Heavy on purpose (Asio, std::function): only the servers built on it
// include this, never a header the rest of the tree includes.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include "common/core/error.hpp"
#include "common/http/transport.hpp"

// OpenSSL's own declarations of these, so this header needs no OpenSSL one.
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace mca::http {

struct server_request {
  std::string method;        // "POST", "GET", ...
  std::string target;        // as sent, query included
  std::string content_type;  // empty when the client sent none
  std::string body;
};

struct server_reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<header_field> headers;  // besides Content-Type/Length
};

// The TLS configuration for one handshake: an SSL_CTX and whatever keeps it
// alive (the connection holds `owner` until it ends, so a context replaced
// meanwhile serves its connections to their end).
struct server_tls {
  std::shared_ptr<const void> owner;
  SSL_CTX* context = nullptr;
};

// Handles one request. Runs on the server's executor; may co_await. It is
// cancelled (terminal cancellation) when it outlasts handler_timeout, and
// its reply is then ignored. Whatever it throws is caught by the server.
using server_handler =
    std::function<boost::asio::awaitable<server_reply>(server_request)>;

struct server_limits {
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
  // From the first byte of a request to its last (and, for a connection's
  // first request, from the end of the handshake).
  std::chrono::milliseconds read_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds write_timeout = std::chrono::seconds(10);
  // Between requests on a keep-alive connection.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(90);
  // Past this the server answers hooks.failure's reply itself.
  std::chrono::milliseconds handler_timeout = std::chrono::seconds(8);
  // Sending close_notify, and reading what a client still sends after a
  // reply that closes the connection, so that it gets to read that reply
  // rather than a reset.
  std::chrono::milliseconds close_timeout = std::chrono::seconds(1);
  std::size_t max_body_bytes = std::size_t{8} * 1024 * 1024;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  // Beyond this, connections wait in the kernel's backlog.
  std::size_t max_connections = 256;
};

// Who is on the other end, for the hooks' logs.
struct server_peer {
  std::string address;  // "10.0.0.7:51234"
  std::string client;   // what on_handshake said (a certificate subject)
};

// What servers built on this differ in: how they word their own answers,
// and what they log.
struct server_hooks {
  // The body of an answer the server makes itself: 400 (not HTTP/1.1),
  // 413, 431, and 500/504 when no `failure` hook is set. Required.
  std::function<server_reply(unsigned code, std::string_view reason,
                             std::string message)>
      refusal;
  // The reply when the handler threw (`timed_out` false) or outlasted
  // handler_timeout; `what` says which. Not set: refusal(500 or 504).
  // May throw: the server then answers refusal(500).
  std::function<server_reply(const server_request& request,
                             std::string_view what, bool timed_out)>
      failure;
  // Before each handshake, with its SSL; what it returns lives as long as
  // the connection (e.g. where a verify callback records why it refused).
  std::function<std::shared_ptr<void>(SSL* ssl)> prepare;
  // After a handshake that succeeded: the client's identity for logs ("" for
  // none). Not set: "".
  std::function<std::string(SSL* ssl, const std::string& address)> on_handshake;
  // After one that failed (or timed out: `timed_out`), with what prepare
  // returned. Not set: a debug log line.
  std::function<void(const std::string& address,
                     const boost::system::error_code& error, bool timed_out,
                     const std::shared_ptr<void>& prepared)>
      on_handshake_failure;
  // After each answer, the handler's or the server's own (an access log).
  std::function<void(const server_peer& peer, std::string_view method,
                     std::string_view target, unsigned status,
                     std::chrono::milliseconds took)>
      on_answer;
};

struct server_config {
  std::string name = "server";      // in log lines: "webhook: ..."
  std::string address = "0.0.0.0";  // an IP literal; "::" for dual-stack
  unsigned short port = 0;          // 0: any free port (see port())
  // Named in the message when the port is taken ("pass --webhook-address
  // with a free port"); empty: no advice.
  std::string flag;
  server_limits limits;
  server_hooks hooks;
};

// An HTTPS (HTTP/1.1, keep-alive) server in front of one handler, as
// Beast's own examples build one, with every operation under a deadline:
//
// Per connection: the TLS handshake with the configuration the source gives
// at accept time (a rotated certificate serves new connections; established
// ones keep theirs), then requests one after another, each read, handled
// and written under its own deadline, with idle_timeout between them.
// Every failure is an answer or a close, never an exception: a body over
// max_body_bytes is a 413 and headers over max_header_bytes a 431 (both
// then close the connection, after draining what the client still sends),
// malformed HTTP a 400, a handler that throws or times out gets
// hooks.failure's reply.
//
// Thread affinity: the executor must run on one thread (an io_context run
// by one thread, as everywhere in MCA). bind() and start() on any thread
// before the executor runs or on its thread; stop() and counts() from any
// thread.
class tls_server {
 public:
  // Binds and listens (not accepting yet). Errors (source config) name the
  // address, the port and config.flag, e.g. "port 8443 on 0.0.0.0 is
  // already in use; pass --webhook-address with a free port".
  static mca::result<std::unique_ptr<tls_server>> bind(
      const boost::asio::any_io_executor& executor,
      std::function<server_tls()> tls, server_config config,
      server_handler handler);

  // stop().
  ~tls_server();
  tls_server(const tls_server&) = delete;
  tls_server& operator=(const tls_server&) = delete;
  tls_server(tls_server&&) = delete;
  tls_server& operator=(tls_server&&) = delete;

  // The bound port: config.port, or the one the kernel chose for 0.
  unsigned short port() const noexcept;

  void start();
  // Closes the listener at once. Connections waiting for a request or in a
  // handshake are closed now (with close_notify when the handshake is
  // done); one in the middle of a request finishes it (within its
  // deadlines), answers with "Connection: close" and then closes, so that
  // a rolling update loses no request. Idempotent.
  void stop();

  // For metrics and tests. Safe from any thread.
  struct stats {
    std::uint64_t accepted = 0;
    std::uint64_t open = 0;
    std::uint64_t handshakes_failed = 0;
    std::uint64_t requests = 0;          // complete requests read
    std::uint64_t handler_failures = 0;  // threw or timed out
    std::uint64_t refused = 0;  // answered by the server itself (400, 413...)
  };
  stats counts() const;

  struct state;

 private:
  explicit tls_server(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

}  // namespace mca::http
