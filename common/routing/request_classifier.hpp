#pragma once

#include <string>
#include <string_view>

#include "common/core/error.hpp"

namespace mca::routing {

// What a request does, in the vocabulary of Kubernetes authorization, so that
// routing decisions read like RBAC rules.
enum class verb {
  get,
  list,
  watch,
  create,
  update,
  patch,
  delete_,
  deletecollection,
  connect,       // exec/attach/portforward/proxy subresources, legacy /proxy/
  non_resource,  // not an API resource path (discovery, /healthz, ...)
};

// "get", "list", ..., "delete", "deletecollection", "connect", "non-resource".
const char* to_string(verb v) noexcept;

// A request as the API server's RequestInfoFactory would see it.
struct request_info {
  verb kind = verb::non_resource;
  bool is_resource_request = false;
  std::string api_prefix;  // "api" or "apis"; empty for non-resource
  std::string group;       // "" for core
  std::string version;
  std::string resource;     // plural
  std::string subresource;  // "status", "scale", "log", "exec", ...
  std::string namespace_name;
  std::string name;  // also from ?fieldSelector=metadata.name=X on a list
  std::string label_selector;  // decoded value of ?labelSelector=
  std::string field_selector;  // decoded value of ?fieldSelector=
  bool watch = false;          // ?watch= asked for it, or kind == watch
  std::string path;            // the decoded path
};

// Classifies one request. `method` is the HTTP method (case-sensitive, as
// HTTP defines it); `target` the request-target (path and optional query),
// percent-encoded as received.
//
// Fails with error_source::client for an empty or non-origin-form target, a
// path with "." or ".." or empty segments, invalid percent-encoding, a legacy
// /watch/ or /proxy/ path naming no resource, or an unknown method.
//
// OPTIONS is accepted and always classified as non_resource, with only
// `path` and the query fields set: it is a CORS preflight or capability
// probe that never reads or changes an object, so it must not look like an
// operation on one (the API server answers it without touching storage).
mca::result<request_info> classify(std::string_view method,
                                   std::string_view target);

}  // namespace mca::routing
