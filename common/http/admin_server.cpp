#include "common/http/admin_server.hpp"

#include <atomic>
#include <cstddef>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/util/strings.hpp"

namespace mca::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t header_limit = std::size_t{8} * 1024;
// Probes and scrapers hold a connection or two each; past this, a client is
// misbehaving and must not starve them of the admin thread's memory.
constexpr std::size_t max_sessions = 64;
// How long stop() lets connections wind down before abandoning them.
constexpr auto stop_grace = std::chrono::seconds(2);

using request = bhttp::request<bhttp::empty_body>;
using response = bhttp::response<bhttp::string_body>;

std::string describe(const asio::ip::address& address, std::uint16_t port) {
  const std::string host =
      address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(port);
}

response text_response(bhttp::status status, unsigned version,
                       std::string body) {
  response res{status, version};
  res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  return res;
}

// A status for a request that could not be read, or nullopt when the
// connection just ended (closed, timed out, stopped) and there is no one to
// answer.
std::optional<bhttp::status> status_for_read_error(
    const boost::system::error_code& ec) {
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return bhttp::status::request_header_fields_too_large;
  }
  if (ec == bhttp::error::end_of_stream ||
      ec == bhttp::error::partial_message) {
    return std::nullopt;
  }
  if (ec.category() ==
      bhttp::make_error_code(bhttp::error::bad_method).category()) {
    return bhttp::status::bad_request;
  }
  return std::nullopt;
}

// 404 or 405 when the request is wrong whatever it carries, else nullopt.
std::optional<response> refusal(
    const request& req,
    const std::map<std::string, admin_handler, std::less<>>& routes) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (!routes.contains(path)) {
    return text_response(bhttp::status::not_found, req.version(), "not found");
  }
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
    response res = text_response(bhttp::status::method_not_allowed,
                                 req.version(), "method not allowed");
    res.set(bhttp::field::allow, "GET, HEAD");
    return res;
  }
  return std::nullopt;
}

}  // namespace

struct admin_server::impl {
  impl(admin_endpoint e, std::map<std::string, admin_handler, std::less<>> r)
      : endpoint(std::move(e)), routes(std::move(r)) {}

  response handle(const request& req) const;
  static asio::awaitable<void> accept_loop(impl* self);
  static asio::awaitable<void> session(impl* self, tcp::socket socket);
  void run_io() noexcept;

  const admin_endpoint endpoint;
  const std::map<std::string, admin_handler, std::less<>> routes;

  std::mutex state_mutex;  // start() / stop()
  bool started = false;
  std::atomic<std::uint16_t> bound_port{0};
  std::future<void> io_done;

  // Declared before what uses it so that it is destroyed last.
  asio::io_context io{1};
  std::optional<tcp::acceptor> acceptor;
  // Only touched on the io thread, so no lock.
  bool closing = false;
  std::unordered_set<beast::tcp_stream*> sessions;
  std::thread thread;
};

response admin_server::impl::handle(const request& req) const {
  if (auto refused = refusal(req, routes)) return *std::move(refused);
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  admin_reply reply = routes.find(path)->second();
  response res{static_cast<bhttp::status>(reply.status), req.version()};
  res.set(bhttp::field::content_type, reply.content_type);
  res.body() = std::move(reply.body);
  return res;
}

asio::awaitable<void> admin_server::impl::session(impl* self,
                                                  tcp::socket socket) {
  // Spawned just before stop() closed everything: it was never registered,
  // so nothing would close it.
  if (self->closing) co_return;
  beast::tcp_stream stream(std::move(socket));
  // Registered while it lives, so that stop() can close it.
  class unregister {
   public:
    unregister(impl* owner, beast::tcp_stream* stream)
        : owner_(owner), stream_(stream) {
      owner_->sessions.insert(stream_);
    }
    unregister(const unregister&) = delete;
    unregister& operator=(const unregister&) = delete;
    ~unregister() { owner_->sessions.erase(stream_); }

   private:
    impl* owner_;
    beast::tcp_stream* stream_;
  };
  const unregister guard(self, &stream);

  // Bounded: headers are capped, bodies refused, so this never grows.
  beast::flat_buffer buffer(2 * header_limit);
  for (;;) {
    bhttp::request_parser<bhttp::empty_body> parser;
    parser.header_limit(header_limit);
    stream.expires_after(self->endpoint.timeout);
    // The header alone: a body is never read, so its size cannot matter.
    auto [rec, read] =
        co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
    response res;
    bool head = false;
    if (rec) {
      const auto status = status_for_read_error(rec);
      if (!status) break;
      // The parser's state is unknown after an error: answer and close.
      res = text_response(*status, 11, rec.message());
      res.keep_alive(false);
    } else if (const request& req = parser.get(); !parser.is_done()) {
      // A body follows. Nothing here takes one, and the connection cannot
      // be reused without reading it, so answer and close.
      auto refused = refusal(req, self->routes);
      res = refused
                ? *std::move(refused)
                : text_response(bhttp::status::payload_too_large, req.version(),
                                "request bodies are not accepted");
      res.keep_alive(false);
    } else {
      head = req.method() == bhttp::verb::head;
      try {
        res = self->handle(req);
      } catch (const std::exception& e) {
        res = text_response(bhttp::status::internal_server_error, req.version(),
                            std::string("internal error: ") + e.what());
      }
      res.keep_alive(req.keep_alive());
    }
    res.prepare_payload();
    // The length GET would have, without the body.
    if (head) res.body().clear();
    stream.expires_after(self->endpoint.timeout);
    auto [wec, written] = co_await bhttp::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

asio::awaitable<void> admin_server::impl::accept_loop(impl* self) {
  for (;;) {
    auto [ec, socket] = co_await self->acceptor->async_accept(use_tuple);
    if (self->closing) co_return;
    if (ec) {
      // Out of descriptors or a connection reset before accept: transient.
      // A short pause keeps an exhausted process from spinning.
      asio::steady_timer pause(self->io, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      if (self->closing) co_return;
      continue;
    }
    if (self->sessions.size() >= max_sessions) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    asio::co_spawn(self->io, session(self, std::move(socket)),
                   [](const std::exception_ptr&) {
                     // A session failed (out of memory); others go on.
                   });
  }
}

void admin_server::impl::run_io() noexcept {
  for (;;) {
    try {
      io.run();
      return;
    } catch (...) {
      // Handlers do not throw; should one, keep serving the probes.
    }
  }
}

admin_server::admin_server(
    admin_endpoint endpoint,
    std::map<std::string, admin_handler, std::less<>> routes)
    : impl_(std::make_unique<impl>(std::move(endpoint), std::move(routes))) {}

admin_server::~admin_server() { stop(); }

std::uint16_t admin_server::port() const noexcept {
  return impl_->bound_port.load();
}

mca::result<void> admin_server::start() {
  impl& s = *impl_;
  const std::lock_guard lock(s.state_mutex);
  if (s.started) {
    return error::of(error_source::internal,
                     "the admin server was already started");
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(s.endpoint.address, ec);
  if (ec) {
    return error::of(
        error_source::config,
        "admin address " + quote(s.endpoint.address) + " is not an IP address");
  }
  const tcp::endpoint where(address, s.endpoint.port);
  const std::string shown = describe(address, s.endpoint.port);
  const auto failed = [&](std::string_view step) {
    s.acceptor.reset();
    return error::of(error_source::config, "cannot " + std::string(step) +
                                               " admin address " + shown +
                                               ": " + ec.message());
  };
  s.acceptor.emplace(s.io);
  if (s.acceptor->open(where.protocol(), ec)) return failed("open");
  // Lets a restarted process bind while old connections sit in TIME_WAIT;
  // on Linux it does not allow two live listeners on one port.
  if (s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec)) {
    return failed("configure");
  }
  if (address.is_v6() && s.acceptor->set_option(asio::ip::v6_only(false), ec)) {
    return failed("configure");
  }
  if (s.acceptor->bind(where, ec)) {
    if (ec == asio::error::address_in_use) {
      s.acceptor.reset();
      return error::of(error_source::config,
                       "admin port " + std::to_string(s.endpoint.port) +
                           " is in use on " + address.to_string() + " (set " +
                           s.endpoint.flag + ")");
    }
    return failed("bind");
  }
  if (s.acceptor->listen(asio::socket_base::max_listen_connections, ec)) {
    return failed("listen on");
  }
  const tcp::endpoint local = s.acceptor->local_endpoint(ec);
  if (ec) return failed("read the port of");
  s.bound_port = local.port();

  asio::co_spawn(s.io, impl::accept_loop(&s), [](const std::exception_ptr&) {});
  std::promise<void> done;
  s.io_done = done.get_future();
  s.thread = std::thread([&s, done = std::move(done)]() mutable {
    s.run_io();
    done.set_value();
  });
  s.started = true;
  return {};
}

void admin_server::stop() {
  impl& s = *impl_;
  const std::lock_guard lock(s.state_mutex);
  if (!s.thread.joinable()) return;
  // On the io thread, which owns the acceptor and the sessions: closing them
  // completes every pending operation, so run() returns on its own.
  asio::post(s.io, [&s] {
    s.closing = true;
    boost::system::error_code ignored;
    s.acceptor->close(ignored);
    for (beast::tcp_stream* stream : s.sessions) stream->close();
  });
  if (s.io_done.wait_for(stop_grace) != std::future_status::ready) {
    // Something is stuck (a callback that does not return); abandon it.
    s.io.stop();
  }
  s.thread.join();
  s.acceptor.reset();
}

}  // namespace mca::http
