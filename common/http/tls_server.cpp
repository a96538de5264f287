#include "common/http/tls_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <optional>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "common/util/strings.hpp"

namespace mca::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using tls_stream = asio::ssl::stream<beast::tcp_stream>;
using error_code = boost::system::error_code;
using milliseconds = std::chrono::milliseconds;
using clock = std::chrono::steady_clock;
using beast_request = bhttp::request<bhttp::string_body>;
using beast_response = bhttp::response<bhttp::string_body>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// One TLS read while waiting for a request; also the slack the read
// buffer has beyond the largest header.
constexpr std::size_t read_chunk = std::size_t{16} * 1024;
// What a closing connection still reads (and discards) so that its peer,
// perhaps still sending a refused body, gets to read our reply.
constexpr std::size_t drain_limit = std::size_t{1024} * 1024;

// Where a connection is; stop() treats each differently.
enum class phase {
  handshake,  // nothing to lose: closed at once
  idle,       // waiting for a request: close_notify, then closed
  busy,       // reading, handling or answering: finishes first
  closing,
};

// One accepted client. Lives in its serve() coroutine's frame; everything
// on the server's one thread.
struct connection {
  connection(tcp::socket socket, SSL* ssl)
      : stream(beast::tcp_stream(std::move(socket)), ssl),
        idle_timer(stream.get_executor()) {}

  // Ends the connection now: every pending operation completes with an
  // error and every later one fails at once.
  void abort() noexcept {
    aborted = true;
    stream.next_layer().close();
  }

  tls_stream stream;  // owns the SSL
  // Races the read for the next request; stop() cancels it to end the
  // wait early.
  asio::steady_timer idle_timer;
  server_peer peer;
  phase at = phase::handshake;
  bool aborted = false;
};

// A handler run apart from its connection, so that a handler which
// ignores cancellation cannot hold the answer past handler_timeout: the
// connection waits on `done` and answers without it if need be.
struct handler_call {
  explicit handler_call(const asio::any_io_executor& ex) : done(ex) {}
  asio::steady_timer done;  // cancelled when the handler has finished
  asio::cancellation_signal cancel;
  std::optional<server_reply> reply;
  std::string failure;  // what it threw
  bool finished = false;
};

asio::awaitable<void> run_handler(server_handler handler, server_request req,
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

// `op`, or nothing if `limit` passes first or the timer is cancelled (the
// operation is then cancelled; the connection stays open).
template <class T>
asio::awaitable<std::optional<T>> within(asio::steady_timer& timer,
                                         milliseconds limit,
                                         asio::awaitable<T> op) {
  using namespace asio::experimental::awaitable_operators;
  timer.expires_after(limit);
  auto r = co_await (std::move(op) || timer.async_wait(use_tuple));
  if (r.index() == 0) co_return std::move(std::get<0>(r));
  co_return std::nullopt;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
         std::to_string(ep.port());
}

bool is_http_error(const error_code& ec) {
  return ec.category() ==
         bhttp::make_error_code(bhttp::error::bad_method).category();
}

}  // namespace

struct tls_server::state {
  state(const asio::any_io_executor& ex, std::function<server_tls()> source,
        server_config cfg, server_handler h)
      : executor(ex),
        acceptor(ex),
        slot_free(ex),
        tls_source(std::move(source)),
        config(std::move(cfg)),
        handler(std::move(h)) {}

  asio::awaitable<void> accept_loop(std::shared_ptr<state> self);
  asio::awaitable<void> serve(std::shared_ptr<state> self, tcp::socket socket,
                              server_tls tls);
  asio::awaitable<void> session(connection& c);
  // The handler's reply to a complete request, or the failure hook's.
  asio::awaitable<server_reply> answer(const connection& c, beast_request req);
  server_reply failure_reply(const server_request& req, const std::string& what,
                             bool timed_out);
  server_reply refusal(unsigned code, std::string_view reason,
                       std::string message);
  asio::awaitable<bool> write(connection& c, beast_response& res);
  asio::awaitable<void> close_gracefully(connection& c, bool drain);
  void answered(const connection& c, std::string_view method,
                std::string_view target, unsigned status,
                clock::time_point began);
  void shutdown() noexcept;

  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  // Wakes the accept loop when a connection below max_connections ends.
  asio::steady_timer slot_free;
  std::function<server_tls()> tls_source;
  server_config config;
  server_handler handler;
  unsigned short port = 0;
  bool started = false;
  bool stopped = false;
  std::unordered_set<connection*> connections;

  // Read by counts() from any thread.
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> open{0};
  std::atomic<std::uint64_t> handshakes_failed{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> handler_failures{0};
  std::atomic<std::uint64_t> refused{0};
};

mca::result<std::unique_ptr<tls_server>> tls_server::bind(
    const asio::any_io_executor& executor, std::function<server_tls()> tls,
    server_config config, server_handler handler) {
  const std::string where =
      "port " + std::to_string(config.port) + " on " + config.address;
  const std::string advice =
      config.flag.empty() ? std::string()
                          : "; pass " + config.flag + " with a free port";
  if (!tls || !handler || !config.hooks.refusal) {
    return error::of(error_source::internal,
                     "the " + config.name + " server on " + where +
                         " lacks a certificate source, a handler or a "
                         "refusal hook");
  }
  const auto& l = config.limits;
  if (l.max_connections == 0 || l.max_header_bytes == 0 ||
      l.max_header_bytes > std::uint32_t{1} << 30) {
    return error::of(error_source::config,
                     "the " + config.name + " server on " + where +
                         " needs at least one connection and a header "
                         "limit between 1 byte and 1 GiB");
  }
  error_code ec;
  const auto ip = asio::ip::make_address(config.address, ec);
  if (ec) {
    return error::of(error_source::config,
                     "the " + config.name + " address " +
                         quote(config.address) + " is not an IP address" +
                         (config.flag.empty() ? std::string()
                                              : "; pass " + config.flag +
                                                    " with an IP and a port"));
  }
  auto s = std::make_shared<state>(executor, std::move(tls), std::move(config),
                                   std::move(handler));
  const tcp::endpoint ep(ip, s->config.port);
  s->acceptor.open(ep.protocol(), ec);
  if (!ec && ip.is_v6()) s->acceptor.set_option(asio::ip::v6_only(false), ec);
  // Not SO_REUSEPORT: a second server on the same port must fail loudly.
  if (!ec) s->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s->acceptor.bind(ep, ec);
  if (ec == asio::error::address_in_use) {
    return error::of(error_source::config,
                     where + " is already in use" + advice);
  }
  if (!ec) s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) s->port = s->acceptor.local_endpoint(ec).port();
  if (ec) {
    return error::of(
        error_source::config,
        "cannot serve the " + s->config.name + " on " + where + ": " +
            ec.message() +
            (s->config.flag.empty() ? std::string()
                                    : " (see " + s->config.flag + ")"));
  }
  return std::unique_ptr<tls_server>(new tls_server(std::move(s)));
}

tls_server::tls_server(std::shared_ptr<state> s) : state_(std::move(s)) {}

tls_server::~tls_server() { stop(); }

unsigned short tls_server::port() const noexcept { return state_->port; }

void tls_server::start() {
  if (state_->started) return;
  state_->started = true;
  asio::co_spawn(state_->executor, state_->accept_loop(state_),
                 [name = state_->config.name](const std::exception_ptr& e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& x) {
                     spdlog::error("{}: accepting stopped: {}", name, x.what());
                   } catch (...) {
                   }
                 });
}

void tls_server::stop() {
  asio::dispatch(state_->executor, [s = state_] { s->shutdown(); });
}

tls_server::stats tls_server::counts() const {
  stats out;
  out.accepted = state_->accepted.load();
  out.open = state_->open.load();
  out.handshakes_failed = state_->handshakes_failed.load();
  out.requests = state_->requests.load();
  out.handler_failures = state_->handler_failures.load();
  out.refused = state_->refused.load();
  return out;
}

void tls_server::state::shutdown() noexcept {
  if (stopped) return;
  stopped = true;
  error_code ignored;
  acceptor.close(ignored);
  slot_free.cancel();
  for (auto* c : connections) {
    if (c->at == phase::handshake) {
      c->abort();
    } else if (c->at == phase::idle) {
      // The wait ends; the connection says close_notify and closes.
      c->idle_timer.cancel();
    }
    // A busy connection sees `stopped` once it has answered.
  }
}

asio::awaitable<void> tls_server::state::accept_loop(
    std::shared_ptr<state> self) {
  asio::steady_timer pause(executor);
  while (!stopped) {
    if (open.load() >= config.limits.max_connections) {
      // Full: leave further connections in the kernel's backlog rather
      // than run out of descriptors; a connection ending wakes us.
      slot_free.expires_at(asio::steady_timer::time_point::max());
      co_await slot_free.async_wait(use_tuple);
      continue;
    }
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (stopped || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of descriptors or memory: back off rather than spin.
      spdlog::warn("{}: accepting a connection failed: {}", config.name,
                   ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    accepted.fetch_add(1);
    open.fetch_add(1);
    // The configuration current now serves this connection to its end.
    server_tls tls;
    try {
      tls = tls_source();
    } catch (const std::exception& e) {
      spdlog::error("{}: no TLS context for a connection: {}", config.name,
                    e.what());
    }
    asio::co_spawn(executor, serve(self, std::move(socket), std::move(tls)),
                   [name = config.name](const std::exception_ptr& e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& x) {
                       spdlog::error("{}: a connection failed: {}", name,
                                     x.what());
                     } catch (...) {
                     }
                   });
  }
}

asio::awaitable<void> tls_server::state::serve(std::shared_ptr<state> self,
                                               tcp::socket socket,
                                               server_tls tls) {
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
  std::string address = ec ? "a client" : endpoint_text(remote);
  if (tls.context == nullptr) {
    spdlog::error(
        "{}: the certificate source gave no TLS context (a bug); closing "
        "the connection from {}",
        config.name, address);
    co_return;
  }
  SSL* ssl = SSL_new(tls.context);
  if (ssl == nullptr) {
    spdlog::error("{}: no TLS session for {}: out of memory", config.name,
                  address);
    co_return;
  }
  // Declared before the connection, so it outlives the SSL that may point
  // at it (a verify callback's record).
  std::shared_ptr<void> prepared;
  if (config.hooks.prepare) prepared = config.hooks.prepare(ssl);
  connection c(std::move(socket), ssl);
  c.peer.address = std::move(address);
  connections.insert(&c);
  reg.c = &c;
  if (stopped) co_return;

  c.stream.next_layer().expires_after(config.limits.handshake_timeout);
  auto [hec] = co_await c.stream.async_handshake(asio::ssl::stream_base::server,
                                                 use_tuple);
  if (hec || c.aborted) {
    // A scanner, an old client, a client whose certificate or CA does not
    // do; OpenSSL has sent the alert saying which.
    handshakes_failed.fetch_add(1);
    const bool timed_out = hec == beast::error::timeout;
    if (config.hooks.on_handshake_failure) {
      config.hooks.on_handshake_failure(c.peer.address, hec, timed_out,
                                        prepared);
    } else {
      spdlog::debug("{}: TLS handshake with {} failed: {}", config.name,
                    c.peer.address, hec.message());
    }
    co_return;
  }
  if (config.hooks.on_handshake) {
    c.peer.client =
        config.hooks.on_handshake(c.stream.native_handle(), c.peer.address);
  }
  co_await session(c);
}

server_reply tls_server::state::refusal(unsigned code, std::string_view reason,
                                        std::string message) {
  try {
    return config.hooks.refusal(code, reason, std::move(message));
  } catch (const std::exception& e) {
    spdlog::error("{}: wording a {} failed: {}", config.name, code, e.what());
  }
  server_reply r;
  r.status = code;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::string(reason);
  return r;
}

void tls_server::state::answered(const connection& c, std::string_view method,
                                 std::string_view target, unsigned status,
                                 clock::time_point began) {
  if (!config.hooks.on_answer) return;
  try {
    config.hooks.on_answer(
        c.peer, method, target, status,
        std::chrono::duration_cast<milliseconds>(clock::now() - began));
  } catch (...) {
    // A log line is not worth a connection.
  }
}

asio::awaitable<void> tls_server::state::session(connection& c) {
  const auto& limits = config.limits;
  auto& tcp_layer = c.stream.next_layer();
  beast::flat_buffer buffer(limits.max_header_bytes + read_chunk);
  bool first = true;
  for (;;) {
    // Waiting for a request, which only our own timer may end: a Beast
    // timeout would close the socket before close_notify could be sent.
    if (buffer.size() == 0) {
      c.at = phase::idle;
      if (stopped) break;
      tcp_layer.expires_never();
      const std::size_t room =
          std::min(read_chunk, buffer.max_size() - buffer.size());
      const milliseconds wait =
          first ? limits.read_timeout : limits.idle_timeout;
      auto got = co_await within(
          c.idle_timer, wait,
          c.stream.async_read_some(buffer.prepare(room), use_tuple));
      if (c.aborted) co_return;
      if (!got) break;  // idle too long, or stopped
      const auto& [rec, n] = *got;
      buffer.commit(n);
      if (rec) {
        // eof: the client's close_notify, answered with ours below. Other
        // errors (a reset, a close without close_notify) leave nothing to
        // answer.
        if (rec != asio::error::eof) co_return;
        break;
      }
    }
    c.at = phase::busy;
    first = false;
    const auto began = clock::now();

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    tcp_layer.expires_after(limits.read_timeout);
    auto [rec, rn] =
        co_await bhttp::async_read_header(c.stream, buffer, parser, use_tuple);
    if (!rec && !parser.is_done()) {
      // curl sends this for large bodies and waits a second for it.
      if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_,
                                                 parser.get().version()};
        tcp_layer.expires_after(limits.write_timeout);
        auto [wec, wn] =
            co_await bhttp::async_write(c.stream, go_on, use_tuple);
        if (wec) co_return;
      }
      tcp_layer.expires_after(limits.read_timeout);
      auto [bec, bn] =
          co_await bhttp::async_read(c.stream, buffer, parser, use_tuple);
      rec = bec;
    }
    if (c.aborted) co_return;

    if (rec) {
      std::optional<server_reply> refused_with;
      if (rec == bhttp::error::body_limit) {
        refused_with =
            refusal(413, "RequestEntityTooLarge",
                    "the request body is larger than the " + config.name +
                        " accepts (" + std::to_string(limits.max_body_bytes) +
                        " bytes)");
      } else if (rec == bhttp::error::header_limit ||
                 rec == bhttp::error::buffer_overflow) {
        refused_with =
            refusal(431, "RequestHeaderFieldsTooLarge",
                    "the request's headers are larger than the " + config.name +
                        " accepts (" + std::to_string(limits.max_header_bytes) +
                        " bytes)");
      } else if (is_http_error(rec) && rec != bhttp::error::end_of_stream &&
                 rec != bhttp::error::partial_message) {
        refused_with =
            refusal(400, "BadRequest",
                    "the request is not valid HTTP/1.1: " + rec.message());
      }
      if (!refused_with) {
        // Closed, reset or too slow: no one to answer. A timeout has
        // closed the socket already.
        spdlog::debug("{}: {} ended: {}", config.name, c.peer.address,
                      rec.message());
        co_return;
      }
      refused.fetch_add(1);
      spdlog::debug("{}: refusing a request from {}: {}", config.name,
                    c.peer.address, rec.message());
      // What the parser left unread makes the connection useless: answer,
      // then close.
      beast_response res{static_cast<bhttp::status>(refused_with->status), 11};
      res.set(bhttp::field::content_type, refused_with->content_type);
      for (const auto& h : refused_with->headers) res.set(h.name, h.value);
      res.body() = std::move(refused_with->body);
      res.keep_alive(false);
      res.prepare_payload();
      const unsigned status = refused_with->status;
      const bool written = co_await write(c, res);
      answered(c, "", "", status, began);
      if (written) co_await close_gracefully(c, true);
      co_return;
    }

    requests.fetch_add(1);
    beast_request req = parser.release();
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    const std::string method(req.method_string());
    const std::string target(req.target());
    server_reply reply = co_await answer(c, std::move(req));
    if (c.aborted) co_return;
    if (reply.status < 100 || reply.status > 599) {
      spdlog::error("{}: a handler answered with status {}; sending 500",
                    config.name, reply.status);
      reply =
          refusal(500, "InternalError",
                  "the " + config.name + "'s handler gave an invalid status");
    }
    beast_response res{static_cast<bhttp::status>(reply.status), version};
    if (!reply.content_type.empty()) {
      res.set(bhttp::field::content_type, reply.content_type);
    }
    for (const auto& h : reply.headers) res.set(h.name, h.value);
    res.body() = std::move(reply.body);
    res.keep_alive(keep_alive && !stopped);
    res.prepare_payload();
    const bool written = co_await write(c, res);
    answered(c, method, target, reply.status, began);
    if (!written) co_return;
    if (!res.keep_alive()) break;
  }
  co_await close_gracefully(c, false);
}

asio::awaitable<server_reply> tls_server::state::answer(const connection& c,
                                                        beast_request req) {
  server_request in;
  in.method = std::string(req.method_string());
  in.target = std::string(req.target());
  in.content_type = std::string(req[bhttp::field::content_type]);
  in.body = std::move(req.body());
  // Only the failure hook needs a copy.
  std::optional<server_request> kept;
  if (config.hooks.failure) kept = in;

  auto call = std::make_shared<handler_call>(executor);
  call->done.expires_after(config.limits.handler_timeout);
  asio::co_spawn(
      executor, run_handler(handler, std::move(in), call),
      asio::bind_cancellation_slot(call->cancel.slot(),
                                   [call](const std::exception_ptr&) {}));
  if (!call->finished) {
    co_await call->done.async_wait(use_tuple);
  }

  std::string what;
  bool timed_out = false;
  if (!call->finished) {
    // It may still end later; whatever it answers then is dropped.
    call->cancel.emit(asio::cancellation_type::terminal);
    timed_out = true;
    what = "the handler did not answer within " +
           std::to_string(config.limits.handler_timeout.count()) + " ms";
  } else if (call->reply) {
    co_return std::move(*call->reply);
  } else {
    what = "the handler failed: " + call->failure;
  }
  handler_failures.fetch_add(1);
  spdlog::warn("{}: {} (request from {})", config.name, what, c.peer.address);
  co_return failure_reply(kept ? *kept : server_request{}, what, timed_out);
}

server_reply tls_server::state::failure_reply(const server_request& req,
                                              const std::string& what,
                                              bool timed_out) {
  try {
    if (config.hooks.failure) return config.hooks.failure(req, what, timed_out);
  } catch (const std::exception& e) {
    spdlog::error("{}: answering a handler's failure failed too: {}",
                  config.name, e.what());
  } catch (...) {
    spdlog::error("{}: answering a handler's failure failed too", config.name);
  }
  // Details stay in the log: the reply may reach whoever made the request.
  if (timed_out) {
    return refusal(504, "Timeout",
                   "the " + config.name + " did not answer in time");
  }
  return refusal(500, "InternalError",
                 "the " + config.name + " failed to answer; see its log");
}

asio::awaitable<bool> tls_server::state::write(connection& c,
                                               beast_response& res) {
  c.stream.next_layer().expires_after(config.limits.write_timeout);
  auto [wec, wn] = co_await bhttp::async_write(c.stream, res, use_tuple);
  if (wec) {
    spdlog::debug("{}: answering {} failed: {}", config.name, c.peer.address,
                  wec.message());
    co_return false;
  }
  co_return !c.aborted;
}

asio::awaitable<void> tls_server::state::close_gracefully(connection& c,
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
    // could lose our reply before reading it.
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

}  // namespace mca::http
