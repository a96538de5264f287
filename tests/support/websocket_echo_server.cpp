// TEST DOUBLE: see websocket_echo_server.hpp.
#include "support/websocket_echo_server.hpp"

#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

namespace mca::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ssl_stream = beast::ssl_stream<beast::tcp_stream>;
using ws_stream = websocket::stream<ssl_stream>;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Generous for a test on a loaded machine, short enough that a stuck peer
// fails the test instead of hanging it.
constexpr auto io_timeout = 30s;

// The registry of open connections, so the destructor can close them.
// Touched only on the server's own thread.
class registration {
 public:
  registration(std::set<beast::tcp_stream*>& live, beast::tcp_stream* stream)
      : live_(live), stream_(stream) {
    live_.insert(stream_);
  }
  registration(const registration&) = delete;
  registration& operator=(const registration&) = delete;
  registration(registration&&) = delete;
  registration& operator=(registration&&) = delete;
  ~registration() { live_.erase(stream_); }

 private:
  std::set<beast::tcp_stream*>& live_;
  beast::tcp_stream* stream_;
};

bool starts_with_ignoring_case(beast::string_view s,
                               beast::string_view prefix) {
  return s.size() >= prefix.size() &&
         beast::iequals(s.substr(0, prefix.size()), prefix);
}

upgrade_request describe(const bhttp::request<bhttp::string_body>& req) {
  upgrade_request out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  out.authorization = std::string(req[bhttp::field::authorization]);
  for (const auto& field : req) {
    if (starts_with_ignoring_case(field.name_string(), "impersonate-")) {
      out.impersonate.emplace_back(std::string(field.name_string()),
                                   std::string(field.value()));
    }
  }
  return out;
}

// The first subprotocol the client offers (Kubernetes clients offer e.g.
// v5.channel.k8s.io first): some clients refuse an upgrade that picks none.
std::string first_subprotocol(const bhttp::request<bhttp::string_body>& req) {
  std::string offered(req[bhttp::field::sec_websocket_protocol]);
  const auto end = offered.find(',');
  offered = offered.substr(0, end);
  const auto first = offered.find_first_not_of(" \t");
  const auto last = offered.find_last_not_of(" \t");
  if (first == std::string::npos) return {};
  return offered.substr(first, last - first + 1);
}

bhttp::response<bhttp::string_body> echo_response(
    const bhttp::request<bhttp::string_body>& req) {
  const nlohmann::json body = {
      {"kind", "Echo"},
      {"target", std::string(req.target())},
      {"authorization", std::string(req[bhttp::field::authorization])},
  };
  bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  // replace: a target with bytes that are not UTF-8 must not throw.
  res.body() =
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

}  // namespace

struct websocket_echo_server::impl {
  // Declared before io_context: coroutine frames still pending when it is
  // destroyed unregister themselves and use the TLS context on the way out.
  mutable std::mutex mutex;
  std::optional<upgrade_request> last;
  std::set<beast::tcp_stream*> live;
  ssl::context tls{ssl::context::tls_server};

  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  unsigned short port = 0;
  std::promise<void> stopped;
  std::thread thread;

  void record(upgrade_request request) {
    const std::lock_guard lock(mutex);
    last = std::move(request);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
          co_return;
        }
        continue;
      }
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    // The WebSocket stream from the start, so one object (and one lowest
    // layer to close on shutdown) serves both plain HTTP and the upgrade.
    ws_stream ws(std::move(socket), tls);
    auto& lowest = beast::get_lowest_layer(ws);
    const registration registered(live, &lowest);

    lowest.expires_after(io_timeout);
    auto [hec] = co_await ws.next_layer().async_handshake(
        ssl::stream_base::server, use_tuple);
    if (hec) co_return;

    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      lowest.expires_after(io_timeout);
      auto [rec, rn] =
          co_await bhttp::async_read(ws.next_layer(), buffer, req, use_tuple);
      if (rec) co_return;  // closed, timed out or garbage: nothing to answer

      if (websocket::is_upgrade(req)) {
        record(describe(req));
        // The WebSocket keeps its own timers; the TCP ones would cut off a
        // quiet but healthy stream.
        lowest.expires_never();
        ws.set_option(websocket::stream_base::timeout{
            .handshake_timeout = io_timeout,
            .idle_timeout = 2 * io_timeout,
            .keep_alive_pings = true,
        });
        ws.set_option(websocket::stream_base::decorator(
            [protocol = first_subprotocol(req)](websocket::response_type& res) {
              if (!protocol.empty()) {
                res.set(bhttp::field::sec_websocket_protocol, protocol);
              }
            }));
        auto [aec] = co_await ws.async_accept(req, use_tuple);
        if (aec) co_return;
        beast::flat_buffer message;
        for (;;) {
          auto [mec, mn] = co_await ws.async_read(message, use_tuple);
          if (mec) co_return;  // the client closed (answered) or failed
          ws.text(ws.got_text());
          auto [wec, wn] = co_await ws.async_write(message.data(), use_tuple);
          if (wec) co_return;
          message.consume(message.size());
        }
      }

      auto res = echo_response(req);
      lowest.expires_after(io_timeout);
      auto [wec, wn] =
          co_await bhttp::async_write(ws.next_layer(), res, use_tuple);
      if (wec) co_return;
      if (!res.keep_alive()) {
        lowest.expires_after(io_timeout);
        co_await ws.next_layer().async_shutdown(use_tuple);
        co_return;
      }
    }
  }
};

mca::result<std::unique_ptr<websocket_echo_server>>
websocket_echo_server::start(const std::string& key_pem,
                             const std::string& cert_pem) {
  auto state = std::make_unique<impl>();
  boost::system::error_code ec;
  SSL_CTX_set_min_proto_version(state->tls.native_handle(), TLS1_2_VERSION);
  state->tls.use_certificate_chain(asio::buffer(cert_pem), ec);
  if (ec) {
    return error::of(
        error_source::config,
        "websocket echo server: the certificate is invalid: " + ec.message());
  }
  state->tls.use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) {
    return error::of(error_source::config,
                     "websocket echo server: the key is invalid or does not "
                     "match the certificate: " +
                         ec.message());
  }

  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
  auto& acceptor = state->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) state->port = acceptor.local_endpoint(ec).port();
  if (ec) {
    return error::of(
        error_source::transport,
        "websocket echo server: listening on 127.0.0.1: " + ec.message());
  }

  asio::co_spawn(state->io, state->accept_loop(), asio::detached);
  impl* s = state.get();
  state->thread = std::thread([s] {
    s->io.run();
    s->stopped.set_value();
  });
  return std::unique_ptr<websocket_echo_server>(
      new websocket_echo_server(std::move(state)));
}

websocket_echo_server::websocket_echo_server(std::unique_ptr<impl> state)
    : impl_(std::move(state)) {}

websocket_echo_server::~websocket_echo_server() {
  auto stopped = impl_->stopped.get_future();
  // Closing the acceptor and every socket fails all pending operations, so
  // each coroutine ends and io_context::run returns by itself.
  asio::post(impl_->io, [s = impl_.get()] {
    boost::system::error_code ignored;
    s->acceptor.close(ignored);
    for (auto* stream : s->live) stream->close();
  });
  // A timer or operation we did not think of must not hang the test run;
  // stopping abandons whatever is left, which the io_context then frees.
  if (stopped.wait_for(10s) != std::future_status::ready) impl_->io.stop();
  impl_->thread.join();
}

unsigned short websocket_echo_server::port() const noexcept {
  return impl_->port;
}

std::string websocket_echo_server::server_url() const {
  return "https://127.0.0.1:" + std::to_string(impl_->port);
}

std::optional<upgrade_request> websocket_echo_server::last_request() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->last;
}

}  // namespace mca::test
