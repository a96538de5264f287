#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/error.hpp"
#include "common/routing/body_metadata.hpp"
#include "common/routing/request_classifier.hpp"
#include "common/routing/route_matcher.hpp"

namespace mca::routing {

// A request as routing sees it: its classification and, when its body is
// the object itself, the object's metadata.
struct inspected_request {
  request_info info;
  std::optional<object_metadata> object;  // create, update, apply bodies
};

// True when routing must read this request's body: a create or update of
// the object itself (not of a subresource such as scale or eviction) or a
// server-side apply, whose body is the object too.
bool needs_object_body(const request_info& info, std::string_view content_type);

// Classifies the request and, where needs_object_body(), reads the object's
// metadata from the body. A create names its object in the body only, so
// the body's name fills info.name (and namespace, for a body that says it
// and a path that does not). Fails (source client) for a malformed target or
// body, or one over `max_body_bytes` (status 413).
mca::result<inspected_request> inspect(
    std::string_view method, std::string_view target,
    std::string_view content_type, std::string_view body,
    std::size_t max_body_bytes = default_max_body_bytes);

// The labels a list, watch or deletecollection is known to be about: the
// equality terms (k=v, k==v) of its label selector. Set-based and negative
// terms say nothing certain about a single value and are left out.
std::map<std::string, std::string> selector_equalities(
    std::string_view selector);

// What the matcher gets: labels and annotations from the body; for
// collection requests, from the selector's equality terms (annotations then
// unknown); for everything else, unknown.
request_facts facts_of(const inspected_request& request,
                       std::string user_agent);

}  // namespace mca::routing
