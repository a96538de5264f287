#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "sidecar/proxy/proxy_context.hpp"

namespace mca::sidecar {

// Serves one client connection: TLS handshake, then HTTP/1.1 requests one
// after another, each classified, matched, located if need be, and relayed
// to its target; an upgrade turns the connection into a byte pipe.
//
// Errors stay inside: every failure becomes a Status answer to the client
// (when no response byte has been sent yet) or a closed connection, and a
// metric. Runs on its worker's executor only.
class proxy_session_impl;

class proxy_session {
 public:
  proxy_session(boost::asio::ip::tcp::socket socket,
                boost::asio::ssl::context& tls, proxy_shared& shared,
                proxy_worker& worker);
  ~proxy_session();
  proxy_session(const proxy_session&) = delete;
  proxy_session& operator=(const proxy_session&) = delete;

  boost::asio::awaitable<void> run();

  // Shutdown: an idle connection closes now, a long-running stream ends
  // cleanly (a watch gets its terminating chunk), a request in flight
  // finishes and its response says Connection: close.
  void begin_drain();

 private:
  std::unique_ptr<proxy_session_impl> impl_;
};

}  // namespace mca::sidecar
