#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "common/routing/routing_table.hpp"
#include "sidecar/upstream/upstream_registry.hpp"

namespace mca::sidecar {

struct discovery_answer {
  int status = 200;
  std::string body;          // the merged document, or a message (>= 400)
  std::string content_type;  // as the first answering target labelled it
};

// Recent merged answers, per worker (no locking), so that clients that
// rediscover often (kubectl runs discovery on every invocation without a
// disk cache) cost one round of upstream requests per lifetime.
class discovery_cache {
 public:
  static constexpr std::chrono::seconds lifetime{10};
  static constexpr std::size_t max_entries = 256;

  const discovery_answer* find(const std::string& key,
                               std::chrono::steady_clock::time_point now) const;
  void store(std::string key, discovery_answer answer,
             std::chrono::steady_clock::time_point now);

 private:
  struct entry {
    std::chrono::steady_clock::time_point expires;
    discovery_answer answer;
  };
  std::map<std::string, entry> entries_;
};

// Answers a discovery request (/api, /apis, /apis/G, /api/v1, /apis/G/V,
// legacy or aggregated) from every target of the table at once, merged
// (fanout::merge_discovery), so what only some clusters serve is
// discoverable. Discovery is best effort, as client-go treats it: a target
// that fails or does not serve the path (404) is left out and logged; only
// when none answers is the request failed (404 when none serves it, else
// 503 naming them). Protobuf is not asked for (a client offering it offers
// JSON too); a client accepting nothing else gets 406.
boost::asio::awaitable<discovery_answer> read_merged_discovery(
    upstream_registry& upstreams, discovery_cache& cache,
    const routing::routing_table& table, std::string target, std::string accept,
    std::chrono::milliseconds timeout, std::size_t body_limit);

}  // namespace mca::sidecar
