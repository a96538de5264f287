#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/error.hpp"

namespace mca::sidecar::fanout {

// A write's body as it goes to the cluster that owns the object.
struct translated_write {
  std::string body;  // re-encoded as JSON when changed, else as it came
  bool changed = false;
};

// Whether `content_type` is a body translate_write reads: JSON objects
// (create, update, DeleteOptions), the three JSON patch types, and
// server-side apply (YAML, which kubectl sends as JSON). Protobuf is not:
// the sidecar reads its metadata without re-encoding it.
bool is_translatable(std::string_view content_type) noexcept;

// The cluster the body's mca.k8s.io/cluster annotation names, if any: the
// object came from a merged list and says where it lives, which settles a
// name that exists in several clusters. Looks where strip does.
std::optional<std::string> cluster_named_in(std::string_view body,
                                            std::string_view content_type);

// Prepares the body of a write (create, update, patch, delete) that goes to
// `cluster` (one of `clusters` fanned-out targets) for that cluster:
//   - the mca.k8s.io/cluster annotation is removed, so it is never stored;
//   - a composite resourceVersion becomes `cluster`'s own, in
//     metadata.resourceVersion (objects, merge and strategic merge patches,
//     apply), in JSON patch operations on /metadata/resourceVersion (a
//     `test` is how clients make a patch conditional) or on /metadata, and
//     in DeleteOptions' preconditions.resourceVersion.
// Optimistic concurrency is kept: the cluster compares its own version, so
// a stale write still gets its 409.
// Errors: a body that does not parse (client, 400); a composite without a
// version for `cluster` (conflict, 409: the object came from another
// cluster); a malformed composite (client, 400).
result<translated_write> translate_write(std::string body,
                                         std::string_view content_type,
                                         const std::string& cluster,
                                         std::size_t clusters);

}  // namespace mca::sidecar::fanout
