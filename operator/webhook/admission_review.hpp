#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <nlohmann/json.hpp>

#include "common/core/error.hpp"

namespace mca::op {

// What the webhook needs from an AdmissionReview v1 request
// (admission.k8s.io/v1, kind AdmissionReview). Strings the API server left
// out are empty.
struct admission_request {
  std::string uid;
  std::string operation;  // CREATE, UPDATE, DELETE, CONNECT
  // request.namespace and request.name. The name is empty on a CREATE of an
  // object that only has metadata.generateName.
  std::string namespace_name;
  std::string name;
  // request.kind: group empty for the core group (Pods).
  std::string kind_group;
  std::string kind_version;
  std::string kind_kind;
  std::string resource;      // request.resource.resource, e.g. "pods"
  std::string sub_resource;  // request.subResource, e.g. "ephemeralcontainers"
  // The API server will not persist anything: side effects (anything
  // beyond the patch) must not happen.
  bool dry_run = false;
  std::string user;           // request.userInfo.username, for logs
  nlohmann::json object;      // request.object; null when absent (DELETE)
  nlohmann::json old_object;  // request.oldObject; null unless UPDATE/DELETE
};

// A review that cannot be answered as asked. `uid` is the request's uid
// when it could be read (even though something else is wrong), so that the
// answer can still be a denied review the API server accepts; empty
// otherwise. error.source is client; error.message says what is wrong in
// words an operator can act on.
struct admission_parse_error {
  std::string uid;
  mca::error error;
};

// boost::system::result::value() on an error throws through this (as an
// mca::error_exception).
[[noreturn]] void throw_exception_from_error(const admission_parse_error& e,
                                             const boost::source_location& loc);

// Objects nested deeper than this are refused before they are parsed: a
// Pod is a few levels deep, and code that walks JSON recursively (dump(),
// the injector) must not run out of stack on a hostile body.
inline constexpr int max_admission_json_depth = 128;

// Reads an AdmissionReview v1 request body. Refuses (naming the field):
// a body that is not a JSON object, nested deeper than
// max_admission_json_depth, an apiVersion other than admission.k8s.io/v1
// (the message says to set admissionReviewVersions: ["v1"]), a kind other
// than AdmissionReview, no request, no uid, and fields of the wrong type.
// Pure: no clock, no I/O.
boost::system::result<admission_request, admission_parse_error>
parse_admission_review(std::string_view body);

// An AdmissionReview v1 response allowing the request. With a patch (a
// JSON Patch array) it carries patchType JSONPatch and the patch as base64
// of its compact JSON; a null pointer or an empty array means no patch.
// Warnings, if any, are shown by kubectl to whoever made the request.
std::string admission_allowed(std::string_view uid,
                              const nlohmann::json* json_patch,
                              const std::vector<std::string>& warnings);

// An AdmissionReview v1 response denying the request: allowed false and a
// Failure status with `code` (e.g. 400 or 403), `reason` (a Kubernetes
// StatusReason such as BadRequest or Forbidden; omitted when empty) and
// `message`, which kubectl prints to the user.
std::string admission_denied(std::string_view uid, int code,
                             std::string_view reason, std::string_view message);

}  // namespace mca::op
