#pragma once

// Heavy (Beast SSL) on purpose: only the transports include this, never a
// header the rest of the tree includes.

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "common/core/error.hpp"
#include "common/http/https_transport.hpp"
#include "common/kube/credentials.hpp"

namespace mca::http {

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// An https:// server URL taken apart.
struct server_address {
  std::string url;     // canonical: https://host[:port][/prefix]
  std::string host;    // without brackets for IPv6
  std::string port;    // "443" when the URL had none
  std::string prefix;  // path prefix without a trailing slash, or ""

  // The Host header value: brackets for IPv6, port unless 443.
  std::string host_header() const;
};

// Fails (source config) for anything but an https:// URL with a host.
result<server_address> parse_server_url(const std::string& server);

// Connections to one server: TCP connect, TLS handshake verifying the
// server's certificate and name, the client certificate of the credential
// (if any), and a pool of idle keep-alive connections per TLS identity.
//
// Thread affinity: one pool per executor (it is not thread-safe).
class tls_connection_pool {
 public:
  struct lease {
    std::unique_ptr<tls_stream> stream;
    std::string identity;  // which pool it goes back to
    bool reused = false;   // from the idle pool: it may have been closed
  };

  tls_connection_pool(boost::asio::any_io_executor executor,
                      server_address address, tls_settings tls,
                      https_options options);

  // An idle connection for this credential's TLS identity if there is one,
  // else a new one. `timeout` bounds connect and handshake.
  boost::asio::awaitable<result<lease>> acquire(
      kube::credential cred, std::chrono::milliseconds timeout);
  // Always a new connection (for long-lived streams and upgrades).
  boost::asio::awaitable<result<lease>> connect_new(
      kube::credential cred, std::chrono::milliseconds timeout);
  // Back to the idle pool. Only for a connection whose last response was
  // read completely and allowed keep-alive.
  void release(lease l);

  const server_address& address() const noexcept { return address_; }
  const tls_settings& tls() const noexcept { return tls_; }

 private:
  struct idle_connection {
    std::string identity;
    std::unique_ptr<tls_stream> stream;
    std::chrono::steady_clock::time_point idle_since;
  };

  result<std::pair<std::string, std::shared_ptr<boost::asio::ssl::context>>>
  context_for(const kube::credential& cred);

  boost::asio::any_io_executor executor_;
  server_address address_;
  tls_settings tls_;
  https_options options_;
  std::string verify_name_;
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> contexts_;
  std::deque<idle_connection> idle_;
};

}  // namespace mca::http
