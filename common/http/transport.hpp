#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/core/error.hpp"

namespace mca::http {

using namespace std::chrono_literals;

struct header_field {
  std::string name;
  std::string value;
};

// Plain HTTP messages: the kube client above never sees Beast types, so a
// transport speaking HTTP/2 can replace the HTTP/1.1 one without touching it.
struct request {
  std::string method = "GET";
  std::string target;  // path and query, relative to the server's prefix
  std::vector<header_field> headers;
  std::string body;
};

struct response {
  int status = 0;
  std::vector<header_field> headers;
  std::string body;

  // The first field of that name (case-insensitive), or "".
  std::string_view header(std::string_view name) const noexcept;
};

struct request_options {
  // For the whole exchange (connect, handshake, write, read) of request();
  // for stream(), until the response headers have arrived.
  std::chrono::milliseconds timeout = 30s;
  // Responses larger than this fail (source transport) rather than
  // exhausting memory.
  std::size_t body_limit = std::size_t{64} * 1024 * 1024;
};

// A response whose body is read as it arrives (watch, logs).
class response_stream {
 public:
  virtual ~response_stream() = default;
  virtual int status() const noexcept = 0;
  virtual std::string_view header(std::string_view name) const noexcept = 0;
  // The next piece of body. An empty view with no error is the end of the
  // body. Fails (source transport) when nothing arrives within idle_timeout.
  // The view is valid until the next call.
  virtual boost::asio::awaitable<result<std::string_view>> read_some(
      std::chrono::milliseconds idle_timeout) = 0;
  // Aborts the connection; a pending read_some completes with an error.
  // Call from the transport's executor.
  virtual void close() noexcept = 0;
};

// Sends requests to one server as one identity, pooling connections.
// Thread affinity: use one transport from one executor (it is not
// thread-safe); the kube client gives each I/O thread its own.
class transport {
 public:
  virtual ~transport() = default;
  // No default arguments: see rest_client.hpp on GCC 12 and coroutines.
  virtual boost::asio::awaitable<result<response>> send(
      request req, request_options options) = 0;
  virtual boost::asio::awaitable<result<std::unique_ptr<response_stream>>>
  stream(request req, request_options options) = 0;
  // The server URL, for messages: "https://127.0.0.1:6443".
  virtual const std::string& server() const noexcept = 0;
};

}  // namespace mca::http
