#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "common/core/error.hpp"

namespace mca::sidecar::fanout {

// The resourceVersion of something merged from several clusters: each
// cluster's own version. Clients see it only encoded, as an opaque string
// (API conventions forbid them to parse resourceVersions), and hand it back
// in `resourceVersion=` of a watch or list, or in an object they write.
struct composite_version {
  std::map<std::string, std::string> versions;  // cluster -> its version

  friend bool operator==(const composite_version&,
                         const composite_version&) = default;
};

inline constexpr std::string_view composite_prefix = "mca1.";

// Bounds, so a token fits in a URL and a header everywhere (Go's default
// header limit is 1 MiB, but proxies in front of clients are often at
// 8-16 KiB). A fan-out over more clusters than this is refused when it is
// encoded, rather than producing a version some client cannot send back.
inline constexpr std::size_t max_composite_clusters = 64;
// ClusterTarget names are Kubernetes object names (DNS subdomains).
inline constexpr std::size_t max_cluster_name_bytes = 253;
// etcd revisions are at most 20 decimal digits; aggregated API servers may
// use other schemes, so allow room without allowing anything.
inline constexpr std::size_t max_upstream_version_bytes = 128;
// Worst case of the three bounds above, encoded.
inline constexpr std::size_t max_composite_bytes = 48 * 1024;

// The token: composite_prefix + unpadded base64url of the compact JSON
// array of [cluster, version] pairs sorted by cluster. Stable (the same map
// gives the same bytes whatever order it was filled in), so clients that
// compare versions see a change only when a cluster's version changed.
// Errors (each naming the cluster): no cluster (internal), more than
// max_composite_clusters (config: the rule fans out too widely), an empty
// or too long cluster name (internal), an empty, too long or already
// composite version (decode: the upstream's answer; nesting one composite
// in another is how versions get double-encoded and then never match).
result<std::string> encode(const composite_version& version);

// The inverse of encode. Everything else is a client error (400) whose
// message says what is wrong with it: not a composite, bad base64 or JSON,
// a malformed pair, an empty or duplicated cluster, a version that is
// itself a composite, a token over the bounds, or not in canonical form.
result<composite_version> decode(std::string_view text);

// Whether `text` claims to be a composite (has the prefix); decode decides
// whether it is a valid one. "" and "0" never are: they are the API's
// "any version" and "most recent" and pass through as they are.
bool is_composite(std::string_view text) noexcept;

// `version` with `cluster`'s version set to `upstream_version`.
composite_version with(composite_version version, std::string cluster,
                       std::string upstream_version);

// The version to send to `cluster` for the `resourceVersion` a client sent:
//   - "" and "0" unchanged (their meaning does not depend on the cluster);
//   - a composite: that cluster's own version; a client error naming the
//     clusters it does have when it lacks this one (the rule gained a
//     target after the client listed, or the client wrote an object back to
//     a cluster other than the one it came from), with status 410 Expired
//     so that clients relist;
//   - any other version unchanged when the request goes to one cluster
//     only (`clusters` == 1: the client got it from that cluster through a
//     single-target rule), else a client error: the sidecar never hands out
//     a raw version for a fan-out, so the client made it up or kept it from
//     before the rule changed.
result<std::string> upstream_version(std::string_view client_version,
                                     std::string_view cluster,
                                     std::size_t clusters);

}  // namespace mca::sidecar::fanout
