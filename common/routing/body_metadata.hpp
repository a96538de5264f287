#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/error.hpp"

namespace mca::routing {

// The parts of an object's metadata that routing looks at. The body itself is
// never modified or re-encoded: the sidecar forwards the original bytes, so
// what is read here only decides where they go.
struct object_metadata {
  std::string name, generate_name, namespace_name;
  std::map<std::string, std::string> labels, annotations;
  bool has_labels = false;  // the body had a metadata.labels field at all
  bool has_annotations = false;
};

// The largest body read by default: the API server's own limit for a request
// body is 3 MiB, so anything larger would be refused there anyway.
inline constexpr std::size_t default_max_body_bytes =
    std::size_t{3} * 1024 * 1024;

// Reads the metadata of a create/update/apply body.
//
// `content_type` is the request's Content-Type; parameters (";charset=...")
// are ignored and the media type is compared case-insensitively. Accepted:
// application/json and any */*+json, application/yaml and any */*+yaml
// (application/apply-patch+yaml among them), and
// application/vnd.kubernetes.protobuf.
//
// Fails with error_source::client for an unsupported content type, a body
// that does not parse, a body that is not an object, a metadata field of the
// wrong type (label and annotation values must be strings), or a body larger
// than `max_bytes`; the last carries status.code 413 so the caller can answer
// with it. YAML that the API server could read differently from yaml-cpp is
// refused too: duplicate keys, merge keys (<<) and a second document. A plain
// YAML scalar that is certainly a number, boolean or null is not a string,
// as the API server (which converts YAML to JSON first) sees it. Messages name
// the offending field and never quote more than about 100 characters of the
// body.
mca::result<object_metadata> extract_metadata(
    std::string_view content_type, std::string_view body,
    std::size_t max_bytes = default_max_body_bytes);

enum class patch_kind { json_patch, merge_patch, strategic_merge_patch, apply };

const char* to_string(patch_kind kind) noexcept;

// The patch kind a PATCH request's Content-Type names, or a client error for
// any other type (the API server answers those with 415).
mca::result<patch_kind> patch_kind_from_content_type(
    std::string_view content_type);

// What a patch would do to metadata.labels.
//
// Without replaces_all, `set` lists changes to the existing labels: a value
// to set, or nullopt to remove the label. With replaces_all, no existing
// label survives as such and `set` holds the labels the patch itself gives
// the object. A JSON patch that moves or copies a value into the labels
// brings a value only the stored object knows; that also yields
// replaces_all (without that label in `set`), so a caller that must be sure
// of the final labels has to treat replaces_all as "anything not in `set`
// may be there".
struct label_change {
  bool touches_labels = false;  // the patch may change metadata.labels at all
  std::map<std::string, std::optional<std::string>> set;
  bool replaces_all = false;  // the whole labels map is replaced
};

// Reads a patch body of the given kind and says what it does to the labels.
// JSON patch test operations are ignored (they change nothing). For apply,
// the labels given are the ones set, and touches_labels says whether the
// configuration had a labels field: what server-side apply removes depends
// on field ownership stored in the object, not on the patch.
//
// Fails with error_source::client as extract_metadata does, and for a patch
// the API server would refuse to apply to labels (a JSON patch operation
// without an op or path, a non-string label value, a path into a label
// value).
mca::result<label_change> extract_label_change(
    patch_kind kind, std::string_view body,
    std::size_t max_bytes = default_max_body_bytes);

}  // namespace mca::routing
