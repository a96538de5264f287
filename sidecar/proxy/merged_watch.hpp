#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "common/routing/route_matcher.hpp"
#include "common/routing/routing_table.hpp"
#include "sidecar/proxy/merged_list.hpp"
#include "sidecar/upstream/upstream_registry.hpp"

namespace mca::sidecar {

// Events of a merged watch ready to write, as the API server writes a
// watch body: one JSON object per event, newline-terminated.
struct merged_watch_batch {
  std::string bytes;
  std::size_t events = 0;
  // Write `bytes`, then end the response: the merged watch is over (the
  // last event is the 410 that makes the client relist, or there is none
  // and the client resumes from the last version it saw).
  bool last = false;
};

// One watch per target of a fan-out rule, merged into one stream
// (ARCHITECTURE §3.5): events relayed as they arrive, each with the
// composite version updated for its cluster, so a client resuming from the
// last event it saw misses nothing and repeats nothing.
//
// How it ends:
//   - an upstream ends its watch cleanly (its timeoutSeconds): the merged
//     watch ends cleanly; the client watches again from its last version,
//     which gives every cluster its own place back;
//   - an upstream sends an ERROR event (410 for a compacted version), its
//     connection breaks, or it sends what cannot be decoded: an ERROR event
//     410 Expired naming the cluster ends the merged watch, so the client
//     relists rather than silently watching fewer clusters than it listed;
//   - close() (the sidecar drains): a clean end.
//
// Thread affinity: the session's executor; the upstream readers run there.
class merged_watch {
 public:
  struct opened {
    int status = 200;     // not 200: answer `message` as a Status instead
    std::string message;  // why it could not open
    std::unique_ptr<merged_watch> watch;
  };

  // Opens one upstream watch per target at once, each from its own version
  // of the client's `resourceVersion`. A target that does not serve the
  // resource (404: a CRD installed on some clusters only) takes no part; a
  // target that fails to open fails the whole watch, naming it, whatever
  // the rule's `partial` says: a watch missing a cluster is the silent
  // half-watch the rule's partial lists warn about.
  static boost::asio::awaitable<opened> open(
      upstream_registry& upstreams, const routing::routing_table& table,
      routing::decision decision, merged_list_request request,
      std::chrono::milliseconds open_timeout,
      std::chrono::milliseconds idle_timeout);

  ~merged_watch();
  merged_watch(const merged_watch&) = delete;
  merged_watch& operator=(const merged_watch&) = delete;

  // The events that arrived since the last call (waiting for at least one,
  // or for the end), merged, up to about `max_bytes` of them.
  boost::asio::awaitable<merged_watch_batch> next(std::size_t max_bytes);

  // Ends the upstream watches; a pending or later next() ends cleanly.
  void close() noexcept;

  struct state;

 private:
  explicit merged_watch(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

}  // namespace mca::sidecar
