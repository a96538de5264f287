#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mca::sidecar::fanout {

// The wire form shared by the tokens the sidecar hands to clients
// (composite resourceVersions, continue tokens): `prefix` followed by the
// unpadded base64url of compact JSON. Only [A-Za-z0-9._-] appear, so a token
// survives URLs, query strings and label values without escaping — an
// escaped copy would be a different string and break the "same state, same
// bytes" promise clients rely on when comparing versions.
std::string encode_opaque(std::string_view prefix, const nlohmann::json& value);

// Why decode_opaque refused a text; callers word the message for their
// token, since the client never sees the JSON inside.
enum class opaque_fault {
  none,
  wrong_prefix,
  too_long,
  bad_base64,
  bad_json,
  not_canonical,
};

struct opaque_decoded {
  opaque_fault fault = opaque_fault::none;
  nlohmann::json value;  // when fault == none
};

// The inverse of encode_opaque. `max_bytes` bounds the text before any work
// is done on it. A text that decodes but is not what encode_opaque would
// have produced for its value (padding, other JSON spacing or key order)
// is not_canonical: tokens are compared as strings by clients, so there is
// exactly one spelling of each.
opaque_decoded decode_opaque(std::string_view prefix, std::string_view text,
                             std::size_t max_bytes);

}  // namespace mca::sidecar::fanout
