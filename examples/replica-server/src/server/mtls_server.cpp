#include "server/mtls_server.hpp"

#include <utility>

#include <spdlog/spdlog.h>

#include "api/responses.hpp"
#include "server/handshake_failure.hpp"

namespace replica_server {
namespace {

namespace http = mca::http;

constexpr std::size_t logged_target_max = 200;

std::string logged_target(std::string_view target) {
  if (target.size() <= logged_target_max) return std::string(target);
  return std::string(target.substr(0, logged_target_max)) + "...";
}

// Every answer is JSON, and nothing in between should answer for us:
// replica counts change.
http::server_reply to_server(const api_reply& reply) {
  http::server_reply out;
  out.status = static_cast<unsigned>(reply.status);
  out.content_type = "application/json";
  out.body = reply.body;
  out.headers.push_back(mca::http::header_field{"Cache-Control", "no-store"});
  for (const auto& h : reply.headers) {
    out.headers.push_back(mca::http::header_field{h.name, h.value});
  }
  return out;
}

api_request to_api(http::server_request r) {
  api_request out;
  out.method = std::move(r.method);
  out.target = std::move(r.target);
  out.content_type = std::move(r.content_type);
  out.body = std::move(r.body);
  return out;
}

// The per-connection record the verify callback fills, so that a refused
// handshake's log says why in words.
std::shared_ptr<void> prepare(SSL* ssl) {
  auto record = std::make_shared<verify_failure>();
  record_verify_failure(ssl, record.get());
  return record;
}

void log_refusal(const std::string& address,
                 const boost::system::error_code& error, bool timed_out,
                 const std::shared_ptr<void>& prepared,
                 std::chrono::milliseconds handshake_timeout) {
  const std::string reason =
      timed_out ? "the handshake did not finish within " +
                      std::to_string(handshake_timeout.count()) + " ms"
                : error.message();
  const verify_failure none;
  const auto* verify = static_cast<const verify_failure*>(prepared.get());
  spdlog::warn("mTLS: refused {}: {}", address,
               describe_refusal(verify != nullptr ? *verify : none, reason));
}

std::string log_identity(SSL* ssl, const std::string& address) {
  auto id = peer_of(ssl);
  if (!id) return {};
  spdlog::info(R"(mTLS: {} authenticated as "{}" (issuer "{}", {}))", address,
               id->subject, id->issuer, SSL_get_version(ssl));
  return id->subject;
}

}  // namespace

mca::result<std::unique_ptr<mtls_server>> mtls_server::bind(
    const boost::asio::any_io_executor& executor,
    std::shared_ptr<const mtls_context> tls, server_config config,
    request_handler handler) {
  if (!tls || !handler) {
    return mca::error::of(mca::error_source::internal,
                          "the server needs a TLS context and a handler");
  }
  http::server_config server;
  server.name = "server";
  server.address = config.address;
  server.port = config.port;
  server.flag = "--listen";
  const auto& l = config.limits;
  server.limits = l;
  server.hooks.refusal = [](unsigned code, std::string_view,
                            std::string message) {
    return to_server(
        error_reply(api_error::of(static_cast<int>(code), std::move(message))));
  };
  server.hooks.failure = [limit = l.handler_timeout](
                             const http::server_request&, std::string_view,
                             bool timed_out) {
    // Details stay in the log: the reply goes to a client.
    if (timed_out) {
      return to_server(error_reply(
          api_error::of(504, "the request took longer than " +
                                 std::to_string(limit.count()) + " ms")));
    }
    return to_server(error_reply(
        api_error::of(500, "internal error; see the server's log")));
  };
  server.hooks.prepare = prepare;
  server.hooks.on_handshake = log_identity;
  server.hooks.on_handshake_failure =
      [limit = l.handshake_timeout](
          const std::string& address, const boost::system::error_code& error,
          bool timed_out, const std::shared_ptr<void>& prepared) {
        log_refusal(address, error, timed_out, prepared, limit);
      };
  server.hooks.on_answer = [](const http::server_peer& peer,
                              std::string_view method, std::string_view target,
                              unsigned status, std::chrono::milliseconds took) {
    if (method.empty()) {
      spdlog::info("access: {} \"{}\" refused -> {}", peer.address, peer.client,
                   status);
      return;
    }
    spdlog::info("access: {} \"{}\" {} {} -> {} ({} ms)", peer.address,
                 peer.client, method, logged_target(target), status,
                 took.count());
  };

  http::server_handler wrapped =
      [handler = std::move(handler)](http::server_request req)
      -> boost::asio::awaitable<http::server_reply> {
    // Named, not a temporary in the call: GCC 12 mis-destroys those in a
    // coroutine call's arguments.
    api_request in = to_api(std::move(req));
    api_reply reply = co_await handler(std::move(in));
    co_return to_server(reply);
  };
  auto source = [tls = std::move(tls)]() -> http::server_tls {
    http::server_tls out;
    out.context = tls->native_handle();
    out.owner = tls;
    return out;
  };
  auto bound = http::tls_server::bind(executor, std::move(source),
                                      std::move(server), std::move(wrapped));
  if (!bound) return bound.error();
  return std::unique_ptr<mtls_server>(new mtls_server(std::move(*bound)));
}

mtls_server::mtls_server(std::unique_ptr<http::tls_server> server)
    : server_(std::move(server)) {}

mtls_server::~mtls_server() = default;

unsigned short mtls_server::port() const noexcept { return server_->port(); }

void mtls_server::start() { server_->start(); }

void mtls_server::stop() { server_->stop(); }

mtls_server::stats mtls_server::counts() const {
  const auto s = server_->counts();
  stats out;
  out.accepted = s.accepted;
  out.open = s.open;
  out.handshakes_refused = s.handshakes_failed;
  out.requests = s.requests;
  out.refused = s.refused;
  out.handler_failures = s.handler_failures;
  return out;
}

}  // namespace replica_server
