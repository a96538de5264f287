#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "common/core/error.hpp"
#include "operator/grpc/certificate_files.hpp"

namespace mca::op {

// Bounds of the front. There is no idle timeout: a connection carries
// long-lived gRPC streams whose own keepalive and heartbeats find a dead
// peer; what is bounded is everything a peer could stall.
struct tls_front_limits {
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
  // Connecting to the gRPC server's Unix socket: immediate unless its
  // backlog is full.
  std::chrono::milliseconds backend_connect_timeout = std::chrono::seconds(5);
  // One write of at most buffer_bytes: longer means the reader stopped
  // reading (with gRPC's flow control, a wedged peer), and the connection
  // is closed.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  // Sending close_notify at the end.
  std::chrono::milliseconds close_timeout = std::chrono::seconds(2);
  // Beyond this, connections wait in the kernel's backlog.
  std::size_t max_connections = 1024;
  // Relay buffer, per direction and connection.
  std::size_t buffer_bytes = std::size_t{16} * 1024;
};

struct tls_front_config {
  std::string address = "0.0.0.0";  // an IP literal
  unsigned short port = 0;          // 0: any free port (see port())
  // The gRPC server's Unix socket (insecure credentials, in a 0700
  // directory: the front is its only way in).
  std::filesystem::path backend_socket;
  tls_front_limits limits;
};

// Counts of what happened, for metrics and tests. Safe from any thread.
struct tls_front_stats {
  std::uint64_t accepted = 0;
  std::uint64_t open = 0;
  std::uint64_t handshakes_failed = 0;
  std::uint64_t backend_unavailable = 0;  // the Unix socket refused us
  std::uint64_t write_timeouts = 0;
};

// The TCP port of the operator's gRPC service: TLS 1.3 only, terminated
// here, relayed byte for byte to the gRPC server on a Unix socket.
// Bookworm's gRPC 1.51 cannot refuse TLS 1.2 itself
// (TlsCredentialsOptions::set_min_tls_version came later).
//
// Per connection: accept, TLS handshake with the context current at accept
// time (certificate_files swaps it on rotation; established connections
// keep theirs), connect to the Unix socket, then relay both ways until both
// sides have closed. Half-closes carry over: the client's close_notify
// becomes shutdown(send) on the Unix socket, the backend's end of stream
// becomes close_notify. An error on either side (reset, truncated TLS, a
// stalled write) closes both. A backend that refuses connections closes the
// client's, and is logged once until it accepts again.
//
// Thread affinity: the executor must run on one thread (an io_context run
// by one thread, as everywhere in MCA). bind() and start() on any thread
// before the executor runs or on its thread; stop() and stats() from any
// thread. The certificate source is shared: the front keeps it alive.
class tls_front {
 public:
  // Binds and listens (not accepting yet). Errors (source config) name the
  // address and port: not an IP, already in use, a socket path too long.
  static mca::result<std::unique_ptr<tls_front>> bind(
      const boost::asio::any_io_executor& executor,
      std::shared_ptr<const tls_context_source> certificates,
      tls_front_config config);

  // stop(): a destroyed front accepts nothing and leaves no connection.
  ~tls_front();
  tls_front(const tls_front&) = delete;
  tls_front& operator=(const tls_front&) = delete;
  tls_front(tls_front&&) = delete;
  tls_front& operator=(tls_front&&) = delete;

  // The bound port: config.port, or the one the kernel chose for 0.
  unsigned short port() const noexcept;

  void start();
  // Closes the acceptor and every connection (both sides). Idempotent.
  void stop();

  tls_front_stats stats() const;

 private:
  struct state;
  explicit tls_front(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

}  // namespace mca::op
