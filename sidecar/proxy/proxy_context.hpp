#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <set>

#include "common/routing/placement_index.hpp"
#include "sidecar/proxy/merged_discovery.hpp"
#include "sidecar/routes/table_source.hpp"
#include "sidecar/upstream/upstream_registry.hpp"

namespace mca::sidecar {

class sidecar_metrics;
class proxy_session;

// Bounds and deadlines of the data path.
struct proxy_limits {
  // Request line and headers; more is answered with 431.
  std::size_t header_bytes = std::size_t{64} * 1024;
  // Bodies routing must read (creates, updates, applies, patches when
  // labels route); more is answered with 413. Other bodies are streamed
  // through without a bound of ours: the target enforces its own.
  std::size_t inspected_body_bytes = std::size_t{3} * 1024 * 1024;
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  // Between requests on a keep-alive client connection.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(90)};
  // Connect and TLS handshake to a target.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // A whole ordinary request, from its first byte to the last of the
  // response. Long-running requests (watch, follow, exec/attach/
  // port-forward/proxy upgrades) are exempt and use stream_idle_timeout.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  // A long-running stream with no byte in either direction for this long is
  // dead. Generous: a quiet watch may legitimately send nothing for as long
  // as the API server's own --min-request-timeout (30 min by default).
  std::chrono::milliseconds stream_idle_timeout{std::chrono::minutes(45)};
  // Parallel locate probes: each one's deadline.
  std::chrono::milliseconds probe_timeout{std::chrono::seconds(10)};
};

// What all workers share. Thread-safe members only.
struct proxy_shared {
  table_source& tables;
  routing::placement_index& placements;
  sidecar_metrics& metrics;
  proxy_limits limits;
  std::atomic<bool> draining{false};
  std::atomic<int> open_connections{0};
};

// One worker's own state, touched only from its thread.
struct proxy_worker {
  proxy_worker(boost::asio::any_io_executor executor,
               routing::local_identity local)
      : upstreams(std::move(executor), std::move(local)) {}
  upstream_registry upstreams;
  discovery_cache discovery;
  std::set<proxy_session*> sessions;
};

}  // namespace mca::sidecar
