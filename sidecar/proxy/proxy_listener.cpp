#include "sidecar/proxy/proxy_listener.hpp"

#include <chrono>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "sidecar/proxy/proxy_session.hpp"

namespace mca::sidecar {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

proxy_listener::proxy_listener(std::vector<worker_thread*> workers,
                               asio::ssl::context& tls, proxy_shared& shared,
                               std::size_t max_connections)
    : workers_(std::move(workers)),
      tls_(tls),
      shared_(shared),
      max_connections_(max_connections) {}

mca::result<void> proxy_listener::bind(
    const std::vector<std::string>& addresses, unsigned short port) {
  auto& ctx = workers_.front()->context;
  port_ = port;
  for (const auto& address : addresses) {
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    if (ec) {
      return error::of(error_source::config,
                       "listen address '" + address + "' is not an IP address");
    }
    auto acceptor = std::make_unique<tcp::acceptor>(ctx);
    const tcp::endpoint ep(ip, port_);
    acceptor->open(ep.protocol(), ec);
    if (!ec && ip.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    // Not SO_REUSEPORT: a second process on the same port must fail loudly.
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (ec == asio::error::address_in_use) {
      return error::of(error_source::config,
                       "port " + std::to_string(port_) + " on " + address +
                           " is already in use; set MCA_LISTEN_PORT (or "
                           "--port) to a free port");
    }
    if (ec == boost::system::errc::address_not_available && ip.is_v6()) {
      // A pod without IPv6 has no ::1; the IPv4 loopback is enough.
      spdlog::info("not listening on [{}]: {}", address, ec.message());
      continue;
    }
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return error::of(error_source::config,
                       "cannot listen on " + address + " port " +
                           std::to_string(port_) + ": " + ec.message());
    }
    if (port_ == 0) port_ = acceptor->local_endpoint().port();
    acceptors_.push_back(std::move(acceptor));
  }
  if (acceptors_.empty()) {
    return error::of(error_source::config, "no listen address could be bound");
  }
  return {};
}

void proxy_listener::start() {
  for (auto& a : acceptors_) {
    asio::co_spawn(workers_.front()->context, accept_loop(*a), asio::detached);
  }
}

asio::awaitable<void> proxy_listener::accept_loop(tcp::acceptor& acceptor) {
  asio::steady_timer pause(acceptor.get_executor());
  while (acceptor.is_open()) {
    if (static_cast<std::size_t>(shared_.open_connections.load()) >=
        max_connections_) {
      pause.expires_after(std::chrono::milliseconds(10));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto* worker = workers_[next_worker_++ % workers_.size()];
    auto [ec, socket] =
        co_await acceptor.async_accept(worker->context, use_tuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      // Out of descriptors or memory: back off rather than spin.
      spdlog::warn("accepting a connection failed: {}", ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (shared_.draining.load()) break;
    socket.set_option(tcp::no_delay(true), ec);
    shared_.open_connections.fetch_add(1);
    asio::co_spawn(worker->context, serve(std::move(socket), worker),
                   asio::detached);
  }
}

asio::awaitable<void> proxy_listener::serve(tcp::socket socket,
                                            worker_thread* worker) {
  proxy_session session(std::move(socket), tls_, shared_, worker->state);
  worker->state.sessions.insert(&session);
  if (shared_.draining.load()) session.begin_drain();
  co_await session.run();
  worker->state.sessions.erase(&session);
  shared_.open_connections.fetch_sub(1);
}

void proxy_listener::stop_and_drain() {
  shared_.draining.store(true);
  asio::post(workers_.front()->context, [this] {
    for (auto& a : acceptors_) {
      boost::system::error_code ignored;
      a->close(ignored);
    }
  });
  for (auto* w : workers_) {
    asio::post(w->context, [w] {
      // begin_drain may end a session, which erases itself later, on its
      // own turn; iterate over a copy to be safe either way.
      const auto sessions = w->state.sessions;
      for (auto* s : sessions) s->begin_drain();
    });
  }
}

}  // namespace mca::sidecar
