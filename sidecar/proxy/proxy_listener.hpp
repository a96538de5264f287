#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "common/core/error.hpp"
#include "sidecar/proxy/proxy_context.hpp"

namespace mca::sidecar {

// One proxy worker: its io_context and the state only it touches.
struct worker_thread {
  explicit worker_thread(routing::local_identity local)
      : context(1), state(context.get_executor(), std::move(local)) {}
  boost::asio::io_context context;
  proxy_worker state;
};

// The API listener: TLS acceptors on the loopback addresses, handing each
// connection to the next worker in turn. Connections beyond
// `max_connections` wait in the kernel's backlog instead of being accepted,
// so a flood cannot exhaust file descriptors.
class proxy_listener {
 public:
  proxy_listener(std::vector<worker_thread*> workers,
                 boost::asio::ssl::context& tls, proxy_shared& shared,
                 std::size_t max_connections);

  // Binds every address on `port` (0: any free one; all addresses then
  // share the port the first got). On a conflict: one line naming the
  // address, the port and MCA_LISTEN_PORT.
  mca::result<void> bind(const std::vector<std::string>& addresses,
                         unsigned short port);
  unsigned short port() const noexcept { return port_; }

  // Starts accepting (on the first worker's executor).
  void start();
  // Stops accepting and drains every session (from any thread).
  void stop_and_drain();

 private:
  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& a);
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket,
                                     worker_thread* worker);

  std::vector<worker_thread*> workers_;
  boost::asio::ssl::context& tls_;
  proxy_shared& shared_;
  std::size_t max_connections_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::size_t next_worker_ = 0;
  unsigned short port_ = 0;
};

}  // namespace mca::sidecar
