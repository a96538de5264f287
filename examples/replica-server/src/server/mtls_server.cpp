#include "server/mtls_server.hpp"

#include <array>
#include <atomic>
#include <exception>
#include <optional>
#include <unordered_set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "api/responses.hpp"
#include "server/handshake_failure.hpp"

namespace replica_server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using tls_stream = asio::ssl::stream<beast::tcp_stream>;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;
using response = bhttp::response<bhttp::string_body>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// What a refused client may still send that we read and discard, so that
// it reads our 413 rather than a reset.
constexpr std::size_t drain_limit = std::size_t{256} * 1024;
// Headroom of the read buffer beyond the largest header and body.
constexpr std::size_t read_slack = std::size_t{16} * 1024;
// Targets are logged, not echoed in full.
constexpr std::size_t logged_target_max = 200;

// Where a connection is; stop() treats each differently.
enum class phase {
  handshake,  // nothing to lose: closed at once
  idle,       // waiting for a request: closed at once
  busy,       // reading a body, handling or answering: finishes first
  closing,
};

// One accepted client. Lives in its serve() coroutine's frame; everything
// on the server's one thread.
struct connection {
  connection(tcp::socket socket, SSL* ssl)
      : stream(beast::tcp_stream(std::move(socket)), ssl) {}

  // Every pending operation completes with an error, every later one fails.
  void abort() noexcept {
    aborted = true;
    stream.next_layer().close();
  }

  tls_stream stream;  // owns the SSL
  std::string peer;
  std::string client = "-";  // the certificate's subject, once verified
  phase at = phase::handshake;
  bool aborted = false;
};

// A handler run apart from its connection, so that one which ignores
// cancellation cannot hold the answer past handler_timeout: the connection
// waits on `done` and answers without it if need be.
struct handler_call {
  explicit handler_call(const asio::any_io_executor& ex) : done(ex) {}
  asio::steady_timer done;  // cancelled when the handler has finished
  asio::cancellation_signal cancel;
  std::optional<api_reply> reply;
  std::string failure;  // what it threw
  bool finished = false;
};

asio::awaitable<void> run_handler(request_handler handler, api_request req,
                                  std::shared_ptr<handler_call> call) {
  try {
    call->reply = co_await handler(std::move(req));
  } catch (const std::exception& e) {
    call->failure = *e.what() != '\0' ? e.what() : "an exception";
  } catch (...) {
    call->failure = "an exception that is not a std::exception";
  }
  call->finished = true;
  call->done.cancel();
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
         std::to_string(ep.port());
}

std::string logged_target(std::string_view target) {
  if (target.size() <= logged_target_max) return std::string(target);
  return std::string(target.substr(0, logged_target_max)) + "...";
}

bool is_http_error(const error_code& ec) {
  return ec.category() ==
         bhttp::make_error_code(bhttp::error::bad_method).category();
}

// The server's own refusal of a request it could not read, or nullopt
// when there is no one left to answer (closed, reset, timed out).
std::optional<api_error> refusal_for(const error_code& ec,
                                     const server_limits& limits) {
  if (ec == bhttp::error::body_limit) {
    return api_error::of(413, "the request body is larger than " +
                                  std::to_string(limits.max_body_bytes) +
                                  " bytes");
  }
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return api_error::of(431, "the request's headers are larger than " +
                                  std::to_string(limits.max_header_bytes) +
                                  " bytes");
  }
  if (is_http_error(ec) && ec != bhttp::error::end_of_stream &&
      ec != bhttp::error::partial_message) {
    return api_error::of(400,
                         "the request is not valid HTTP/1.1: " + ec.message());
  }
  return std::nullopt;
}

response to_response(const api_reply& reply, unsigned version,
                     bool keep_alive) {
  response res{static_cast<bhttp::status>(reply.status), version};
  res.set(bhttp::field::content_type, "application/json");
  // Replica counts change; nothing in between should answer for us.
  res.set(bhttp::field::cache_control, "no-store");
  for (const auto& h : reply.headers) res.set(h.name, h.value);
  res.body() = reply.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// The server's own answers, built in plain functions: GCC 12 mishandles
// temporaries built inside coroutine bodies.
api_reply timeout_reply(std::chrono::milliseconds limit) {
  return error_reply(api_error::of(
      504,
      "the request took longer than " + std::to_string(limit.count()) + " ms"));
}

// Details stay in the log: the reply goes to a client.
api_reply internal_error_reply() {
  return error_reply(
      api_error::of(500, "internal error; see the server's log"));
}

void log_spawn_failure(const char* what, const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("server: {} failed: {}", what, x.what());
  } catch (...) {
    spdlog::error("server: {} failed", what);
  }
}

}  // namespace

struct mtls_server::state {
  state(const asio::any_io_executor& ex, std::shared_ptr<const mtls_context> t,
        server_config cfg, request_handler h)
      : executor(ex),
        acceptor(ex),
        slot_free(ex),
        tls(std::move(t)),
        config(std::move(cfg)),
        handler(std::move(h)) {}

  asio::awaitable<void> accept_loop(std::shared_ptr<state> self);
  asio::awaitable<void> serve(std::shared_ptr<state> self, tcp::socket socket);
  asio::awaitable<void> session(connection& c);
  asio::awaitable<api_reply> call_handler(const connection& c, api_request req);
  asio::awaitable<bool> write(connection& c, response& res);
  asio::awaitable<void> refuse(connection& c, const api_error& e);
  asio::awaitable<void> close_gracefully(connection& c, bool drain);
  void shutdown() noexcept;

  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  // Wakes the accept loop when a connection below max_connections ends.
  asio::steady_timer slot_free;
  std::shared_ptr<const mtls_context> tls;
  server_config config;
  request_handler handler;
  std::unordered_set<connection*> connections;
  unsigned short port = 0;
  bool started = false;
  bool stopped = false;

  std::atomic<std::uint64_t> accepted{0}, open{0}, handshakes_refused{0},
      requests{0}, refused{0}, handler_failures{0};
};

mca::result<std::unique_ptr<mtls_server>> mtls_server::bind(
    const asio::any_io_executor& executor,
    std::shared_ptr<const mtls_context> tls, server_config config,
    request_handler handler) {
  error_code ec;
  const auto address = asio::ip::make_address(config.address, ec);
  if (ec) {
    return mca::error::of(
        mca::error_source::config,
        "--listen: " + config.address + " is not an IP address");
  }
  auto s = std::make_shared<state>(executor, std::move(tls), std::move(config),
                                   std::move(handler));
  const tcp::endpoint endpoint(address, s->config.port);
  const std::string where =
      s->config.address + ":" + std::to_string(s->config.port);
  s->acceptor.open(endpoint.protocol(), ec);
  if (!ec && address.is_v6()) {
    s->acceptor.set_option(asio::ip::v6_only(false), ec);
  }
  if (!ec) s->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s->acceptor.bind(endpoint, ec);
  if (ec == asio::error::address_in_use) {
    return mca::error::of(mca::error_source::config,
                          where +
                              " is already in use; pass --listen with a "
                              "free port");
  }
  if (!ec) s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) s->port = s->acceptor.local_endpoint(ec).port();
  if (ec) {
    return mca::error::of(mca::error_source::config,
                          "cannot listen on " + where + ": " + ec.message());
  }
  return std::unique_ptr<mtls_server>(new mtls_server(std::move(s)));
}

mtls_server::mtls_server(std::shared_ptr<state> s) : state_(std::move(s)) {}

mtls_server::~mtls_server() { stop(); }

unsigned short mtls_server::port() const noexcept { return state_->port; }

void mtls_server::start() {
  if (state_->started) return;
  state_->started = true;
  asio::co_spawn(state_->executor, state_->accept_loop(state_),
                 [](const std::exception_ptr& e) {
                   log_spawn_failure("accepting connections", e);
                 });
}

void mtls_server::stop() {
  asio::dispatch(state_->executor, [s = state_] { s->shutdown(); });
}

mtls_server::stats mtls_server::counts() const {
  stats out;
  out.accepted = state_->accepted.load();
  out.open = state_->open.load();
  out.handshakes_refused = state_->handshakes_refused.load();
  out.requests = state_->requests.load();
  out.refused = state_->refused.load();
  out.handler_failures = state_->handler_failures.load();
  return out;
}

void mtls_server::state::shutdown() noexcept {
  if (stopped) return;
  stopped = true;
  error_code ignored;
  acceptor.close(ignored);
  slot_free.cancel();
  for (auto* c : connections) {
    // A busy connection sees `stopped` once it has answered.
    if (c->at == phase::handshake || c->at == phase::idle) c->abort();
  }
}

asio::awaitable<void> mtls_server::state::accept_loop(
    std::shared_ptr<state> self) {
  asio::steady_timer pause(executor);
  while (!stopped) {
    if (open.load() >= config.limits.max_connections) {
      // Full: leave further clients in the kernel's backlog rather than
      // run out of descriptors; a connection ending wakes us.
      slot_free.expires_at(asio::steady_timer::time_point::max());
      co_await slot_free.async_wait(use_tuple);
      continue;
    }
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (stopped || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of descriptors or memory: back off rather than spin.
      spdlog::warn("server: accepting a connection failed: {}", ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    accepted.fetch_add(1);
    open.fetch_add(1);
    asio::co_spawn(executor, serve(self, std::move(socket)),
                   [](const std::exception_ptr& e) {
                     log_spawn_failure("a connection", e);
                   });
  }
}

asio::awaitable<void> mtls_server::state::serve(std::shared_ptr<state> self,
                                                tcp::socket socket) {
  // Counted from accept; uncounted however this coroutine ends.
  struct registration {
    state& s;
    connection* c = nullptr;
    ~registration() {
      if (c != nullptr) s.connections.erase(c);
      s.open.fetch_sub(1);
      s.slot_free.cancel();
    }
  } reg{*self};

  error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  std::string peer = ec ? std::string("a client") : endpoint_text(remote);
  SSL* ssl = SSL_new(tls->native_handle());
  if (ssl == nullptr) {
    spdlog::error("mTLS: no TLS session for {}: out of memory", peer);
    co_return;
  }
  // Declared before the connection, so it outlives the SSL that points
  // at it.
  verify_failure verify;
  record_verify_failure(ssl, &verify);
  connection c(std::move(socket), ssl);
  c.peer = std::move(peer);
  connections.insert(&c);
  reg.c = &c;
  if (stopped) co_return;

  c.stream.next_layer().expires_after(config.limits.handshake_timeout);
  auto [hec] = co_await c.stream.async_handshake(asio::ssl::stream_base::server,
                                                 use_tuple);
  if (hec || c.aborted) {
    handshakes_refused.fetch_add(1);
    // OpenSSL has sent the alert saying why; the log says it in words.
    const std::string reason =
        hec == beast::error::timeout
            ? "the handshake did not finish within " +
                  std::to_string(config.limits.handshake_timeout.count()) +
                  " ms"
            : hec.message();
    spdlog::warn("mTLS: refused {}: {}", c.peer,
                 describe_refusal(verify, reason));
    co_return;
  }
  if (auto id = peer_of(c.stream.native_handle())) {
    c.client = id->subject;
    spdlog::info(R"(mTLS: {} authenticated as "{}" (issuer "{}", {}))", c.peer,
                 id->subject, id->issuer,
                 SSL_get_version(c.stream.native_handle()));
  }
  co_await session(c);
}

asio::awaitable<void> mtls_server::state::session(connection& c) {
  const auto& limits = config.limits;
  auto& tcp_layer = c.stream.next_layer();
  beast::flat_buffer buffer(limits.max_header_bytes + limits.max_body_bytes +
                            read_slack);
  bool first = true;
  for (;;) {
    c.at = phase::idle;
    if (stopped) break;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    tcp_layer.expires_after(first ? limits.read_timeout : limits.idle_timeout);
    first = false;
    auto [hec, hn] =
        co_await bhttp::async_read_header(c.stream, buffer, parser, use_tuple);
    if (c.aborted) co_return;
    c.at = phase::busy;
    const auto started_at = clock::now();
    error_code rec = hec;
    if (!rec && !parser.is_done()) {
      // curl asks before sending a large body, and waits a second for this.
      if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_,
                                                 parser.get().version()};
        tcp_layer.expires_after(limits.write_timeout);
        auto [wec, wn] =
            co_await bhttp::async_write(c.stream, go_on, use_tuple);
        if (wec || c.aborted) co_return;
      }
      tcp_layer.expires_after(limits.read_timeout);
      auto [bec, bn] =
          co_await bhttp::async_read(c.stream, buffer, parser, use_tuple);
      rec = bec;
      if (c.aborted) co_return;
    }
    if (rec) {
      auto refusal = refusal_for(rec, limits);
      if (!refusal) {
        // Closed, reset or too slow: no one to answer. A timeout has
        // closed the socket already.
        spdlog::debug("server: connection from {} ended: {}", c.peer,
                      rec.message());
        co_return;
      }
      co_await refuse(c, *refusal);
      co_return;
    }

    requests.fetch_add(1);
    auto req = parser.release();
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    api_request in;
    in.method = std::string(req.method_string());
    in.target = std::string(req.target());
    in.content_type = std::string(req[bhttp::field::content_type]);
    in.body = std::move(req.body());
    const std::string method = in.method;
    const std::string target = logged_target(in.target);
    api_reply reply = co_await call_handler(c, std::move(in));
    if (c.aborted) co_return;
    if (reply.status < 100 || reply.status > 599) {
      spdlog::error("server: the handler answered status {}; sending 500",
                    reply.status);
      reply = internal_error_reply();
    }
    response res = to_response(reply, version, keep_alive && !stopped);
    const bool written = co_await write(c, res);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        clock::now() - started_at);
    spdlog::info("access: {} \"{}\" {} {} -> {} ({} ms)", c.peer, c.client,
                 method, target, reply.status, took.count());
    if (!written) co_return;
    if (!res.keep_alive()) break;
  }
  co_await close_gracefully(c, false);
}

asio::awaitable<api_reply> mtls_server::state::call_handler(const connection& c,
                                                            api_request req) {
  auto call = std::make_shared<handler_call>(executor);
  call->done.expires_after(config.limits.handler_timeout);
  asio::co_spawn(
      executor, run_handler(handler, std::move(req), call),
      asio::bind_cancellation_slot(call->cancel.slot(),
                                   [call](const std::exception_ptr&) {}));
  if (!call->finished) {
    co_await call->done.async_wait(use_tuple);
  }
  if (call->finished && call->reply) co_return std::move(*call->reply);
  handler_failures.fetch_add(1);
  if (!call->finished) {
    // It may still end later; whatever it answers then is dropped.
    call->cancel.emit(asio::cancellation_type::terminal);
    spdlog::warn("server: a request from {} took longer than {} ms", c.peer,
                 config.limits.handler_timeout.count());
    co_return timeout_reply(config.limits.handler_timeout);
  }
  spdlog::error("server: handling a request from {} failed: {}", c.peer,
                call->failure);
  co_return internal_error_reply();
}

asio::awaitable<bool> mtls_server::state::write(connection& c, response& res) {
  c.stream.next_layer().expires_after(config.limits.write_timeout);
  auto [wec, wn] = co_await bhttp::async_write(c.stream, res, use_tuple);
  if (wec) {
    spdlog::debug("server: answering {} failed: {}", c.peer, wec.message());
    co_return false;
  }
  co_return !c.aborted;
}

asio::awaitable<void> mtls_server::state::refuse(connection& c,
                                                 const api_error& e) {
  refused.fetch_add(1);
  spdlog::info("access: {} \"{}\" refused -> {}: {}", c.peer, c.client,
               e.status, e.message);
  // What the parser left unread makes the connection useless: answer,
  // then close.
  response res = to_response(error_reply(e), 11, false);
  if (co_await write(c, res)) co_await close_gracefully(c, true);
}

asio::awaitable<void> mtls_server::state::close_gracefully(connection& c,
                                                           bool drain) {
  c.at = phase::closing;
  if (c.aborted) co_return;
  auto& tcp_layer = c.stream.next_layer();
  // The TCP connection closes right after, so the peer's close_notify is
  // not awaited (RFC 8446 §6.1 allows it): marked as received, SSL_shutdown
  // only sends ours.
  SSL* ssl = c.stream.native_handle();
  SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
  tcp_layer.expires_after(config.limits.close_timeout);
  auto [sec] = co_await c.stream.async_shutdown(use_tuple);
  if (drain && !sec && !c.aborted) {
    error_code ignored;
    tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Closing with unread bytes would reset the connection, and the peer
    // could lose our answer before reading it.
    std::array<char, 4096> sink{};
    std::size_t discarded = 0;
    tcp_layer.expires_after(config.limits.close_timeout);
    while (discarded < drain_limit) {
      auto [rec, n] =
          co_await tcp_layer.async_read_some(asio::buffer(sink), use_tuple);
      discarded += n;
      if (rec) break;
    }
  }
  tcp_layer.close();
}

}  // namespace replica_server
