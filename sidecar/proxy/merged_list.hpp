#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/routing/route_matcher.hpp"
#include "common/routing/routing_table.hpp"
#include "sidecar/upstream/upstream_registry.hpp"

namespace mca::sidecar {

// What to answer a fan-out list with: a merged body, or a Status.
struct merged_list_answer {
  int status = 200;
  std::string body;     // the merged list, or (status >= 400) a message
  std::string warning;  // a Warning header value, when targets are missing
};

// How the client asked: the request target (path and query) and Accept.
struct merged_list_request {
  std::string target;
  std::string accept;
  std::string resource;  // for messages ("configmaps")
};

// Reads a list across the targets of a fan-out decision (ARCHITECTURE
// §3.5): JSON lists, PartialObjectMetadataLists and kubectl's Tables, each
// item annotated with its cluster, the list's version a composite.
//   - Unpaged: every target at once, each from its own version of the
//     client's, merged.
//   - Paged (limit or continue): one target per page, in rule order, so a
//     page never holds more than `limit` items and every object comes once.
// A target that does not serve the resource (404) is left out and recorded
// at "0". A target that fails fails the list, naming it, unless the rule
// allows partial answers: then the list says which are missing in a
// Warning and has no remainingItemCount. Clients that take neither JSON,
// YAML nor */* get 406 (the body is JSON; the caller converts it for
// wants_yaml()). Watches are merged_watch's.
// Whether a client asking with `accept` gets the merged list as YAML: it
// accepts YAML and not JSON (a client offering both gets JSON, as API
// servers prefer it too).
bool wants_yaml(std::string_view accept) noexcept;

boost::asio::awaitable<merged_list_answer> read_merged_list(
    upstream_registry& upstreams, const routing::routing_table& table,
    routing::decision decision, merged_list_request request,
    std::chrono::milliseconds timeout, std::size_t body_limit);

}  // namespace mca::sidecar
