#pragma once

// TEST DOUBLE. Stands in for a Kubernetes exec/attach/port-forward endpoint
// in integration tests: the local test clusters run an API server without a
// kubelet, so no real exec stream exists to proxy to. It is not an API
// server and implements none of the Kubernetes streaming protocols; it only
// upgrades to WebSocket and echoes, and reports which headers reached it.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/core/error.hpp"

namespace mca::test {

// What the last WebSocket upgrade request carried, for a test to assert
// which credentials and impersonation a proxy passed on.
struct upgrade_request {
  std::string method;
  std::string target;
  std::string authorization;  // empty if absent
  // Every Impersonate-* header (User, Group, Uid, Extra-*) in arrival
  // order, repeated headers repeated; names as sent.
  std::vector<std::pair<std::string, std::string>> impersonate;
};

// A TLS server on 127.0.0.1 (port chosen by the kernel) running on its own
// thread and io_context. Per connection it reads HTTP requests: an upgrade
// becomes a WebSocket that echoes every message (text stays text, binary
// stays binary) until the client closes; any other request gets 200 with
// {"kind":"Echo","target":...,"authorization":...} and keep-alive.
class websocket_echo_server {
 public:
  // Binds and starts serving. Fails if the key or certificate is invalid or
  // no port can be bound.
  static mca::result<std::unique_ptr<websocket_echo_server>> start(
      const std::string& key_pem, const std::string& cert_pem);

  // Stops accepting, closes open connections and joins the thread.
  ~websocket_echo_server();

  websocket_echo_server(const websocket_echo_server&) = delete;
  websocket_echo_server& operator=(const websocket_echo_server&) = delete;
  websocket_echo_server(websocket_echo_server&&) = delete;
  websocket_echo_server& operator=(websocket_echo_server&&) = delete;

  unsigned short port() const noexcept;
  std::string server_url() const;  // "https://127.0.0.1:PORT"

  // The last upgrade request accepted, or nothing before the first one.
  // Safe to call from any thread.
  std::optional<upgrade_request> last_request() const;

 private:
  struct impl;
  explicit websocket_echo_server(std::unique_ptr<impl> state);

  std::unique_ptr<impl> impl_;
};

}  // namespace mca::test
