#include "sidecar/fanout/opaque_token.hpp"

#include <algorithm>

#include "common/util/base64.hpp"

namespace mca::sidecar::fanout {

namespace {

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::string encode_opaque(std::string_view prefix,
                          const nlohmann::json& value) {
  std::string b64 = util::base64_encode(value.dump());
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  std::replace(b64.begin(), b64.end(), '+', '-');
  std::replace(b64.begin(), b64.end(), '/', '_');
  std::string out;
  out.reserve(prefix.size() + b64.size());
  out += prefix;
  out += b64;
  return out;
}

opaque_decoded decode_opaque(std::string_view prefix, std::string_view text,
                             std::size_t max_bytes) {
  opaque_decoded out;
  if (!text.starts_with(prefix)) {
    out.fault = opaque_fault::wrong_prefix;
    return out;
  }
  if (text.size() > max_bytes) {
    out.fault = opaque_fault::too_long;
    return out;
  }
  std::string b64(text.substr(prefix.size()));
  // util::base64_decode tolerates whitespace and padding; a token has
  // neither, so the alphabet is checked here first.
  if (b64.empty() || !std::all_of(b64.begin(), b64.end(), is_base64url)) {
    out.fault = opaque_fault::bad_base64;
    return out;
  }
  std::replace(b64.begin(), b64.end(), '-', '+');
  std::replace(b64.begin(), b64.end(), '_', '/');
  const auto raw = util::base64_decode(b64);
  if (!raw) {
    out.fault = opaque_fault::bad_base64;
    return out;
  }
  out.value = nlohmann::json::parse(*raw, nullptr, /*allow_exceptions=*/false);
  if (out.value.is_discarded()) {
    out.fault = opaque_fault::bad_json;
    out.value = nullptr;
    return out;
  }
  if (encode_opaque(prefix, out.value) != text) {
    out.fault = opaque_fault::not_canonical;
    out.value = nullptr;
  }
  return out;
}

}  // namespace mca::sidecar::fanout
