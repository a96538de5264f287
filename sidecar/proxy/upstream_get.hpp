#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/core/error.hpp"
#include "common/http/transport.hpp"
#include "sidecar/upstream/upstream_registry.hpp"

namespace mca::sidecar {

// The GETs of the sidecar's own merged reads (lists, watches, discovery),
// sent with the target's credentials over its probe transport.

// A GET of `target` accepting `accept`. A plain function: GCC 12
// mis-compiles braced initialisers and temporaries inside coroutines.
http::request get_request(const std::string& target, const std::string& accept);

// The request-target each of `clusters` gets for a client's `target`: its
// own version of the client's resourceVersion (upstream_version). Fails as
// upstream_version does (410 for a composite lacking a cluster).
result<std::vector<std::string>> cluster_targets(
    std::string_view target, std::string_view client_version,
    const std::vector<std::string>& clusters);

// One GET to one upstream (or the reason there is none). Owns its
// arguments, so it can run under gather().
boost::asio::awaitable<result<http::response>> get_from(
    result<std::shared_ptr<upstream_target>> up, std::string target,
    std::string accept, std::chrono::milliseconds timeout,
    std::size_t body_limit);

}  // namespace mca::sidecar
