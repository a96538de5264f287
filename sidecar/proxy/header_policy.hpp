#pragma once

#include <string_view>

namespace mca::sidecar {

// Headers that carry or claim an identity: the app's own credentials
// (Authorization, Proxy-Authorization), impersonation (Impersonate-User,
// -Group, -Uid, -Extra-*) and the front-proxy headers an API server trusts
// from an authenticating proxy (X-Remote-User, -Group, -Extra-*). None may
// reach a target: the target must see the identity the sidecar presents
// and nothing the app chose. Case-insensitive.
bool is_identity_header(std::string_view name) noexcept;

// Hop-by-hop headers (RFC 9110 §7.6.1) that describe one connection, not
// the request: Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
// Upgrade. A proxy sets its own; for an upgrade it sets Connection and
// Upgrade again from the request. Transfer-Encoding is not in this list
// because the relayed body keeps its framing.
bool is_hop_by_hop_header(std::string_view name) noexcept;

// Whether the request's header fields must not be copied upstream as they
// are: identity or hop-by-hop.
inline bool is_dropped_request_header(std::string_view name) noexcept {
  return is_identity_header(name) || is_hop_by_hop_header(name);
}

}  // namespace mca::sidecar
