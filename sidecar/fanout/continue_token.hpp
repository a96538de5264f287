#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.hpp"
#include "sidecar/fanout/composite_version.hpp"

namespace mca::sidecar::fanout {

// Where a paged fan-out list stopped. Pages walk the clusters in the rule's
// order, one upstream request per page, so a page never holds more than
// `limit` items and every object is returned once: each cluster is paged
// by its own continue token, which keeps its own consistent snapshot.
struct fanout_continue {
  std::size_t cluster_index = 0;  // the cluster the next page comes from
  std::string upstream_continue;  // its token; empty: its first page
  // Encoded composite of the clusters listed so far, each at the version of
  // its snapshot (the version its first page answered with). A watch from
  // the last page's version therefore starts every cluster exactly where
  // its listing saw it, whenever in the walk that was.
  std::string list_version;

  friend bool operator==(const fanout_continue&,
                         const fanout_continue&) = default;
};

inline constexpr std::string_view continue_prefix = "mca1c.";
// An API server's token is base64 of a small JSON with the next etcd key;
// the bound leaves room for long keys without trusting any length.
inline constexpr std::size_t max_upstream_continue_bytes = 8 * 1024;
inline constexpr std::size_t max_continue_bytes =
    max_composite_bytes + 2 * max_upstream_continue_bytes;

// continue_prefix + unpadded base64url of [index, continue, list_version].
// Precondition: upstream_continue within max_upstream_continue_bytes and
// list_version from encode() — finish_page guarantees both.
std::string encode(const fanout_continue& token);

// The inverse of encode. Anything else is a client error whose message
// kubectl shows as "Error from server (BadRequest): the continue token is
// not one this sidecar issued (...); start a new list without it".
result<fanout_continue> decode_continue(std::string_view text);

// Whether a list is paged (planned here) or fanned out to every cluster at
// once and merged whole (limit 0 and no continue).
bool is_paged(std::int64_t limit, std::string_view continue_param) noexcept;

// The one upstream request that serves a page.
struct page_request {
  std::size_t cluster_index = 0;
  std::string cluster;
  std::int64_t upstream_limit = 0;        // 0: no limit
  std::string upstream_continue;          // empty: the cluster's first page
  std::string upstream_resource_version;  // to send as resourceVersion
  composite_version listed;               // as fanout_continue::list_version
};

// Plans the page a client asks for with `limit`, `continue` and
// `resourceVersion` over `clusters` (the rule's targets, in order).
//   - No continue: the first cluster's first page, at the client's version
//     translated by upstream_version() — except "0" becomes "" (most
//     recent), because an API server may answer "0" from its watch cache
//     and ignore `limit`, which would break the page bound; reading more
//     recent data than "any" is always allowed.
//   - A continue: where it points. A later cluster's first page is read at
//     its most recent version (the client's original version is not in
//     the token; as with one API server, the snapshot is taken when the
//     listing reaches it). resourceVersion together with continue is a
//     client error, worded as the API server words it.
// Errors: negative limit, a bad token (client); a token whose clusters are
// not the rule's any more (client, with status 410 Expired, which makes
// client-go's pager fall back to a full list); no clusters (internal).
result<page_request> plan_page(std::int64_t limit,
                               const std::vector<std::string>& clusters,
                               std::string_view continue_param,
                               std::string_view client_version);

// The page request for the cluster after `request`'s, when `request`'s
// cluster is left out of the list (it does not serve the resource, or it
// failed and the rule allows partial lists). The skipped cluster is
// recorded at version "0" (the token needs every cluster before its index),
// so a watch from the list's version takes it from "any version": its
// objects arrive as ADDED events once it answers again.
// Errors (internal): `request`'s cluster is the last one.
result<page_request> skip_page(const page_request& request,
                               const std::vector<std::string>& clusters);

// What the cluster asked by a page_request answered (from its list's
// metadata and the number of items).
struct upstream_page {
  std::size_t item_count = 0;
  std::string resource_version;
  std::string continue_token;
  std::optional<std::int64_t> remaining_item_count;
};

// The merged page's metadata.
struct page_outcome {
  std::string list_version;    // encoded; the page's resourceVersion
  std::string continue_token;  // empty: the list is complete
  // Set only from the last cluster: with clusters still to come, how many
  // items remain is unknown, and the API says to leave it unset then.
  std::optional<std::int64_t> remaining_item_count;
};

// The metadata of the page `request` produced, given the cluster's answer.
// A page may hold fewer than `limit` items when a cluster ends (the API
// allows short pages; clients follow `continue` until it is empty).
// Errors (decode, naming the cluster): more items than the upstream limit
// (an API server ignoring it would break the page bound), a continue token
// over the bound, a missing or invalid resourceVersion.
result<page_outcome> finish_page(const page_request& request,
                                 const std::vector<std::string>& clusters,
                                 const upstream_page& page);

}  // namespace mca::sidecar::fanout
