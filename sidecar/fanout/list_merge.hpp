#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/core/error.hpp"

namespace mca::sidecar::fanout {

// The annotation that tells a client which cluster an object came from. It
// is added on the way out and removed on the way in, so it is never stored.
inline constexpr std::string_view cluster_annotation = "mca.k8s.io/cluster";

// One cluster's answer to a list (an XList, PartialObjectMetadataList or
// Table, parsed).
struct cluster_list {
  std::string cluster;
  nlohmann::json body;
};

// What the caller decided about the merged list's paging metadata (from
// finish_page for a paged list; nothing for a whole one).
struct list_paging {
  std::string continue_token;
  std::optional<std::int64_t> remaining_item_count;
};

struct merged_list {
  nlohmann::json body;
  // Clusters that failed and are absent from `body` (partial: allow). The
  // caller adds partial_warning(missing) as a Warning header: the body has
  // no field a client would show, and kubectl prints warnings.
  std::vector<std::string> missing;
};

// Merges the clusters' lists, in the given (rule) order, into one:
//   - kind and apiVersion of the first; every other list must agree;
//   - items concatenated, each with annotation mca.k8s.io/cluster and its
//     resourceVersion replaced by the composite of its cluster alone, so a
//     write of the object can be translated back (upstream_version);
//   - metadata.resourceVersion: the composite of every answering cluster's
//     list version; `continue` from `paging` (absent when empty);
//     remainingItemCount from `paging`, but never when clusters are
//     missing, since then nobody knows how many items remain.
// `missing` are the clusters that failed; a composite without them makes a
// watch from this list fail for them (upstream_version), so the client
// relists rather than silently watching less than it listed.
// Errors (decode, naming the cluster): a body that is not a list, a list
// of another kind, an item that is not an object, a bad list version.
// No list at all is an internal error: the caller fails such a request.
result<merged_list> merge_lists(std::vector<cluster_list> lists,
                                std::vector<std::string> missing,
                                const list_paging& paging = {});

// The value of a `Warning` header (RFC 7234 form, code 299, as API
// servers send them) saying which clusters a partial answer lacks.
std::string partial_warning(const std::vector<std::string>& missing);

// Marks one object as `cluster`'s: the annotation (creating
// metadata.annotations when absent), and metadata.resourceVersion set to
// `version` when the object has a non-empty one. False, changing nothing,
// when `object` is not an object or its metadata is not one.
bool mark_object(nlohmann::json& object, const std::string& cluster,
                 const std::string& version);

// Sets a merged list's metadata as merge_lists describes it. Shared with
// the Table merge, whose metadata is a list's.
result<void> set_list_metadata(nlohmann::json& body,
                               const std::vector<cluster_list>& lists,
                               bool partial, const list_paging& paging);

// Removes the cluster annotation from a body on its way to a cluster, so it
// is never stored, and returns the cluster it named (absent when there was
// none or it was not a string). Handles objects (create, update, apply,
// merge patches, where it may be null to delete it) and JSON patches (an
// array of operations; ops on that annotation are dropped). An
// annotations map left empty is removed, as the client had none.
std::optional<std::string> strip_cluster_annotation(nlohmann::json& body);

}  // namespace mca::sidecar::fanout
