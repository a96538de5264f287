#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

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

// "answered 503", with the upstream's Status message when its body has one:
// how merged reads name an upstream's refusal.
std::string refusal_text(int status, std::string_view body);

// One upstream's answer to a merged read's GET, judged: its body when it
// answered 200 with a JSON object, else why not.
struct judged_answer {
  std::optional<nlohmann::json> body;
  std::string content_type;  // of a 200
  int status = 0;            // the upstream's; 0 when it never answered
  std::string failure;       // without body: what went wrong
};
judged_answer judge(const result<http::response>& res);

// get_from, judged. Owns its arguments, so it can run under gather().
boost::asio::awaitable<judged_answer> get_json(
    result<std::shared_ptr<upstream_target>> up, std::string target,
    std::string accept, std::chrono::milliseconds timeout,
    std::size_t body_limit);

}  // namespace mca::sidecar
