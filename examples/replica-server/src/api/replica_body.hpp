#pragma once

#include <cstdint>
#include <string_view>

#include "api/api_types.hpp"

namespace replica_server {

// The replica count a PUT asks for (pure). The body must be a JSON object
// holding exactly one member, "replicaCount", an integer from 0 to
// max_replicas; the Content-Type, when sent, must be application/json.
//
// Errors: 415 for another Content-Type; 400 for an empty body, text that is
// not JSON, anything but an object, a missing or unknown member, and a
// count that is negative, too large or not an integer (3.5, "3", true). The
// size limit is the server's (413 before the body is read).
api_result<std::int32_t> parse_replica_count(std::string_view content_type,
                                             std::string_view body);

}  // namespace replica_server
