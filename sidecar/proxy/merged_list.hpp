#pragma once

#include <chrono>
#include <cstddef>
#include <string>
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
  bool watch = false;    // as the classifier read ?watch=
};

// Reads the list from every target of a fan-out decision at once and merges
// the answers (ARCHITECTURE §3.5): JSON lists and kubectl's Tables, each
// item annotated with its cluster. A target that fails fails the list,
// naming it, unless the rule allows partial answers. Paged lists, lists
// from a resourceVersion, watches and protobuf-only clients get a Status
// saying what is not served (yet), never one cluster's answer presented as
// all of them.
boost::asio::awaitable<merged_list_answer> read_merged_list(
    upstream_registry& upstreams, const routing::routing_table& table,
    routing::decision decision, merged_list_request request,
    std::chrono::milliseconds timeout, std::size_t body_limit);

}  // namespace mca::sidecar
