#include "operator/grpc/tls_front.hpp"

#include <atomic>
#include <exception>
#include <optional>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include <sys/un.h>

namespace mca::op {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol::socket;
using tls_stream = asio::ssl::stream<tcp::socket>;
using error_code = boost::system::error_code;
using milliseconds = std::chrono::milliseconds;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// One accepted client and its backend connection. Lives in its serve()
// coroutine's frame; everything on the front's one thread.
struct connection {
  connection(tcp::socket socket, SSL* ssl)
      : client(std::move(socket), ssl), backend(client.get_executor()) {}

  // Ends both sides now: every pending operation completes with an error
  // and every later one fails at once, so both pumps finish.
  void abort() noexcept {
    aborted = true;
    error_code ignored;
    client.next_layer().close(ignored);
    backend.close(ignored);
  }

  tls_stream client;  // owns the SSL
  unix_socket backend;
  std::string peer;
  bool aborted = false;
};

// `op`, or nothing if `limit` passes first (the operation is then
// cancelled; the caller closes the connection).
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

// Sends close_notify without waiting for the peer's: a TLS half-close
// (RFC 8446 §6.1 lets the peer go on sending). asio's async_shutdown would
// also wait for the peer's close_notify, reading the stream the other pump
// reads. So for the one synchronous SSL_shutdown call the initiation makes,
// the peer's close_notify is marked as received (SSL_shutdown then only
// queues ours, which the operation writes); right after, the mark is
// restored, so that SSL_read goes on returning the client's data. Nothing
// else runs on the SSL in between: the initiation is one synchronous call
// on the front's one thread.
asio::awaitable<error_code> send_close_notify(tls_stream& tls) {
  auto [ec] =
      co_await asio::async_initiate<decltype(use_tuple), void(error_code)>(
          [&tls](auto handler) {
            SSL* ssl = tls.native_handle();
            const int before = SSL_get_shutdown(ssl);
            SSL_set_shutdown(ssl, before | SSL_RECEIVED_SHUTDOWN);
            tls.async_shutdown(std::move(handler));
            SSL_set_shutdown(ssl,
                             (SSL_get_shutdown(ssl) & ~SSL_RECEIVED_SHUTDOWN) |
                                 (before & SSL_RECEIVED_SHUTDOWN));
          },
          use_tuple);
  co_return ec;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
         std::to_string(ep.port());
}

}  // namespace

struct tls_front::state {
  state(const asio::any_io_executor& ex,
        std::shared_ptr<const tls_context_source> certs, tls_front_config cfg)
      : executor(ex),
        acceptor(ex),
        certificates(std::move(certs)),
        config(std::move(cfg)) {}

  asio::awaitable<void> accept_loop(std::shared_ptr<state> self);
  asio::awaitable<void> serve(std::shared_ptr<state> self, tcp::socket socket,
                              std::shared_ptr<const grpc_tls_context> tls);
  asio::awaitable<void> client_to_backend(connection& c);
  asio::awaitable<void> backend_to_client(connection& c);
  void backend_failed(const connection& c, const std::string& why);
  void shutdown() noexcept;

  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  std::shared_ptr<const tls_context_source> certificates;
  tls_front_config config;
  asio::local::stream_protocol::endpoint backend;
  unsigned short port = 0;
  bool started = false;
  bool stopped = false;
  bool backend_down = false;  // logged once until it accepts again
  std::unordered_set<connection*> connections;

  // Read by stats() from any thread.
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> open{0};
  std::atomic<std::uint64_t> handshakes_failed{0};
  std::atomic<std::uint64_t> backend_unavailable{0};
  std::atomic<std::uint64_t> write_timeouts{0};
};

mca::result<std::unique_ptr<tls_front>> tls_front::bind(
    const asio::any_io_executor& executor,
    std::shared_ptr<const tls_context_source> certificates,
    tls_front_config config) {
  const std::string where =
      config.address + " port " + std::to_string(config.port);
  if (!certificates) {
    return error::of(error_source::internal,
                     "the gRPC TLS front on " + where + " has no certificate");
  }
  if (config.limits.buffer_bytes == 0 || config.limits.max_connections == 0) {
    return error::of(error_source::config,
                     "the gRPC TLS front on " + where +
                         " needs a buffer and at least one connection");
  }
  // asio would throw for a path sun_path cannot hold.
  const std::string socket_path = config.backend_socket.string();
  if (socket_path.empty() ||
      socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return error::of(error_source::config,
                     "the gRPC server's socket path '" + socket_path +
                         "' is empty or longer than a Unix socket path can be");
  }
  error_code ec;
  const auto ip = asio::ip::make_address(config.address, ec);
  if (ec) {
    return error::of(error_source::config, "the gRPC listen address '" +
                                               config.address +
                                               "' is not an IP address");
  }
  auto s = std::make_shared<state>(executor, std::move(certificates),
                                   std::move(config));
  s->backend = asio::local::stream_protocol::endpoint(socket_path);
  const tcp::endpoint ep(ip, s->config.port);
  s->acceptor.open(ep.protocol(), ec);
  if (!ec && ip.is_v6()) s->acceptor.set_option(asio::ip::v6_only(true), ec);
  // Not SO_REUSEPORT: a second operator on the same port must fail loudly.
  if (!ec) s->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s->acceptor.bind(ep, ec);
  if (ec == asio::error::address_in_use) {
    return error::of(error_source::config,
                     "cannot serve gRPC on " + where +
                         ": the port is already in use (another operator, "
                         "or choose another port)");
  }
  if (!ec) s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) s->port = s->acceptor.local_endpoint(ec).port();
  if (ec) {
    return error::of(error_source::config,
                     "cannot serve gRPC on " + where + ": " + ec.message());
  }
  return std::unique_ptr<tls_front>(new tls_front(std::move(s)));
}

tls_front::tls_front(std::shared_ptr<state> s) : state_(std::move(s)) {}

tls_front::~tls_front() { stop(); }

unsigned short tls_front::port() const noexcept { return state_->port; }

void tls_front::start() {
  if (state_->started) return;
  state_->started = true;
  asio::co_spawn(state_->executor, state_->accept_loop(state_),
                 [](const std::exception_ptr& e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& x) {
                     spdlog::error("gRPC TLS front: accepting stopped: {}",
                                   x.what());
                   } catch (...) {
                   }
                 });
}

void tls_front::stop() {
  asio::dispatch(state_->executor, [s = state_] { s->shutdown(); });
}

tls_front_stats tls_front::stats() const {
  tls_front_stats out;
  out.accepted = state_->accepted.load();
  out.open = state_->open.load();
  out.handshakes_failed = state_->handshakes_failed.load();
  out.backend_unavailable = state_->backend_unavailable.load();
  out.write_timeouts = state_->write_timeouts.load();
  return out;
}

void tls_front::state::shutdown() noexcept {
  stopped = true;
  error_code ignored;
  acceptor.close(ignored);
  // abort() does not end a connection's coroutine here; each unregisters
  // itself later, on its own turn.
  for (auto* c : connections) c->abort();
}

asio::awaitable<void> tls_front::state::accept_loop(
    std::shared_ptr<state> self) {
  asio::steady_timer pause(executor);
  while (!stopped) {
    if (open.load() >= config.limits.max_connections) {
      // Full: leave further connections in the kernel's backlog rather
      // than run out of descriptors.
      pause.expires_after(std::chrono::milliseconds(10));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (stopped || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of descriptors or memory: back off rather than spin.
      spdlog::warn("gRPC TLS front: accepting a connection failed: {}",
                   ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    accepted.fetch_add(1);
    open.fetch_add(1);
    // The context current now serves this connection to its end.
    asio::co_spawn(
        executor, serve(self, std::move(socket), certificates->current()),
        [](const std::exception_ptr& e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            spdlog::error("gRPC TLS front: a connection failed: {}", x.what());
          } catch (...) {
          }
        });
  }
}

asio::awaitable<void> tls_front::state::serve(
    std::shared_ptr<state> self, tcp::socket socket,
    std::shared_ptr<const grpc_tls_context> tls) {
  // Counted from accept; uncounted however this coroutine ends.
  struct registration {
    state& s;
    connection* c = nullptr;
    ~registration() {
      if (c != nullptr) s.connections.erase(c);
      s.open.fetch_sub(1);
    }
  } reg{*self};

  error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  std::string peer = ec ? "a client" : endpoint_text(remote);
  SSL* ssl = SSL_new(tls->native_handle());
  if (ssl == nullptr) {
    spdlog::error("gRPC TLS front: no TLS session for {}: out of memory", peer);
    co_return;
  }
  connection c(std::move(socket), ssl);
  c.peer = std::move(peer);
  connections.insert(&c);
  reg.c = &c;
  if (stopped) co_return;
  const auto& limits = config.limits;
  asio::steady_timer deadline(executor);

  auto handshake = co_await within(
      deadline, limits.handshake_timeout,
      c.client.async_handshake(asio::ssl::stream_base::server, use_tuple));
  if (!handshake || std::get<0>(*handshake)) {
    // A scanner, a TLS 1.2 client, or one without h2; OpenSSL has sent the
    // alert saying which.
    handshakes_failed.fetch_add(1);
    spdlog::debug("gRPC TLS front: handshake with {} failed: {}", c.peer,
                  handshake ? std::get<0>(*handshake).message() : "timed out");
    co_return;
  }
  if (c.aborted) co_return;

  auto connected = co_await within(deadline, limits.backend_connect_timeout,
                                   c.backend.async_connect(backend, use_tuple));
  if (c.aborted) co_return;
  if (!connected || std::get<0>(*connected)) {
    backend_failed(c,
                   connected ? std::get<0>(*connected).message() : "timed out");
    // A clean end tells the client this was no network fault; gRPC retries.
    co_await within(deadline, limits.close_timeout,
                    send_close_notify(c.client));
    co_return;
  }
  if (backend_down) {
    backend_down = false;
    spdlog::info(
        "gRPC TLS front: the gRPC server at {} accepts connections "
        "again",
        backend.path());
  }

  using namespace asio::experimental::awaitable_operators;
  co_await (client_to_backend(c) && backend_to_client(c));
  // Both sides have closed (or one failed and abort() closed both).
}

void tls_front::state::backend_failed(const connection& c,
                                      const std::string& why) {
  backend_unavailable.fetch_add(1);
  if (!backend_down) {
    backend_down = true;
    spdlog::warn(
        "gRPC TLS front: the gRPC server at {} does not accept "
        "connections ({}); closing client connections until it does",
        backend.path(), why);
  }
  spdlog::debug("gRPC TLS front: closing {}: no gRPC server", c.peer);
}

asio::awaitable<void> tls_front::state::client_to_backend(connection& c) {
  std::vector<char> buf(config.limits.buffer_bytes);
  asio::steady_timer deadline(executor);
  for (;;) {
    auto [rec, n] =
        co_await c.client.async_read_some(asio::buffer(buf), use_tuple);
    if (c.aborted) co_return;
    if (n > 0) {
      auto w = co_await within(
          deadline, config.limits.write_timeout,
          asio::async_write(c.backend, asio::buffer(buf.data(), n), use_tuple));
      if (c.aborted) co_return;
      if (!w) {
        write_timeouts.fetch_add(1);
        spdlog::info(
            "gRPC TLS front: closing {}: the gRPC server stopped "
            "reading",
            c.peer);
        c.abort();
        co_return;
      }
      if (const auto& [wec, wn] = *w; wec) {
        spdlog::debug("gRPC TLS front: {}: writing to the gRPC server: {}",
                      c.peer, wec.message());
        c.abort();
        co_return;
      }
    }
    if (rec == asio::error::eof) {
      // close_notify: the client sends no more, but may still be answered.
      error_code ignored;
      c.backend.shutdown(asio::socket_base::shutdown_send, ignored);
      co_return;
    }
    if (rec) {
      // Reset, or closed without close_notify (stream_truncated): gRPC
      // clients often just close, so this is an ordinary end, not an alarm.
      spdlog::debug("gRPC TLS front: {} ended: {}", c.peer, rec.message());
      c.abort();
      co_return;
    }
  }
}

asio::awaitable<void> tls_front::state::backend_to_client(connection& c) {
  std::vector<char> buf(config.limits.buffer_bytes);
  asio::steady_timer deadline(executor);
  for (;;) {
    auto [rec, n] =
        co_await c.backend.async_read_some(asio::buffer(buf), use_tuple);
    if (c.aborted) co_return;
    if (n > 0) {
      auto w = co_await within(
          deadline, config.limits.write_timeout,
          asio::async_write(c.client, asio::buffer(buf.data(), n), use_tuple));
      if (c.aborted) co_return;
      if (!w) {
        write_timeouts.fetch_add(1);
        spdlog::info("gRPC TLS front: closing {}: it stopped reading", c.peer);
        c.abort();
        co_return;
      }
      if (const auto& [wec, wn] = *w; wec) {
        spdlog::debug("gRPC TLS front: {}: writing: {}", c.peer, wec.message());
        c.abort();
        co_return;
      }
    }
    if (rec == asio::error::eof) {
      // The gRPC server sends no more: say so with close_notify; the
      // client may still send until its own close_notify.
      auto sent = co_await within(deadline, config.limits.close_timeout,
                                  send_close_notify(c.client));
      if (c.aborted) co_return;
      if (!sent || *sent) c.abort();
      co_return;
    }
    if (rec) {
      spdlog::debug("gRPC TLS front: {}: the gRPC server's side ended: {}",
                    c.peer, rec.message());
      c.abort();
      co_return;
    }
  }
}

}  // namespace mca::op
