#include "operator/webhook/admission_review.hpp"

#include <utility>

#include "common/util/base64.hpp"
#include "common/util/strings.hpp"
#include "operator/model/json_fields.hpp"

namespace mca::op {
namespace {

using json = nlohmann::json;

constexpr std::string_view v1 = "admission.k8s.io/v1";

admission_parse_error refused(std::string uid, std::string message) {
  return {std::move(uid), error::of(error_source::client, std::move(message))};
}

// Counts brackets outside strings; the parser itself is iterative, but what
// comes after it (dump(), recursive walks) is not.
bool deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

// Never throws: a message built from an exception's what() may hold bytes
// that are not UTF-8, and a reply must still go out.
std::string compact(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json review_with(json response) {
  return json{{"apiVersion", std::string(v1)},
              {"kind", "AdmissionReview"},
              {"response", std::move(response)}};
}

// The uid, if the review has one where v1 puts it, whatever else is wrong,
// so that even a refusal can be matched to its request.
std::string uid_if_any(const json& doc) {
  const json* request = find(doc, "request");
  const json* uid = request != nullptr ? find(*request, "uid") : nullptr;
  return uid != nullptr && uid->is_string() ? uid->get<std::string>() : "";
}

}  // namespace

void throw_exception_from_error(const admission_parse_error& e,
                                const boost::source_location& /*loc*/) {
  throw error_exception(e.error);
}

boost::system::result<admission_request, admission_parse_error>
parse_admission_review(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return refused("",
                   "the request has no body; the webhook expects an "
                   "AdmissionReview (admission.k8s.io/v1) as JSON");
  }
  if (deeper_than(body, max_admission_json_depth)) {
    return refused("", "the AdmissionReview is nested deeper than " +
                           std::to_string(max_admission_json_depth) +
                           " levels, which no Kubernetes object is");
  }
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::parse_error& e) {
    return refused("", "the request body is not JSON (syntax error at byte " +
                           std::to_string(e.byte) +
                           "); the webhook expects an AdmissionReview "
                           "(admission.k8s.io/v1)");
  }
  if (!doc.is_object()) {
    return refused("",
                   "the request body is JSON but not an object; the webhook "
                   "expects an AdmissionReview (admission.k8s.io/v1)");
  }
  std::string uid = uid_if_any(doc);

  const json* api_version = find(doc, "apiVersion");
  if (api_version == nullptr || !api_version->is_string() ||
      api_version->get_ref<const std::string&>() != v1) {
    const std::string seen =
        api_version == nullptr
            ? "has no apiVersion"
            : "has apiVersion " +
                  (api_version->is_string()
                       ? quote(api_version->get_ref<const std::string&>())
                       : compact(*api_version));
    return refused(std::move(uid),
                   "the AdmissionReview " + seen +
                       "; this webhook speaks only admission.k8s.io/v1: set "
                       "admissionReviewVersions: [\"v1\"] in the "
                       "MutatingWebhookConfiguration");
  }
  const json* kind = find(doc, "kind");
  if (kind == nullptr || !kind->is_string() ||
      kind->get_ref<const std::string&>() != "AdmissionReview") {
    return refused(
        std::move(uid),
        "the body is an admission.k8s.io/v1 object but its kind "
        "is " +
            (kind == nullptr ? std::string("missing") : compact(*kind)) +
            ", not AdmissionReview");
  }
  auto request_it = doc.find("request");
  if (request_it == doc.end() || request_it->is_null()) {
    return refused(std::move(uid),
                   "the AdmissionReview has no request (a response sent to "
                   "the webhook by mistake?)");
  }
  json& request = *request_it;
  if (!request.is_object()) {
    return refused(std::move(uid),
                   "the AdmissionReview's request is not an object");
  }
  if (uid.empty()) {
    const json* raw = find(request, "uid");
    return refused("", raw == nullptr
                           ? "the AdmissionReview's request has no uid, so "
                             "no answer could be matched to it"
                           : "the AdmissionReview is malformed: request.uid: "
                             "must be a non-empty string");
  }

  admission_request out;
  out.uid = uid;
  try {
    out.operation = required_string_at(request, "operation", "request");
    out.namespace_name =
        string_at(request, "namespace", "request").value_or("");
    out.name = string_at(request, "name", "request").value_or("");
    if (const json* k = find(request, "kind")) {
      if (!k->is_object()) throw field_error{"request.kind: must be an object"};
      out.kind_group = string_at(*k, "group", "request.kind").value_or("");
      out.kind_version = string_at(*k, "version", "request.kind").value_or("");
      out.kind_kind = string_at(*k, "kind", "request.kind").value_or("");
    }
    if (const json* r = find(request, "resource")) {
      if (!r->is_object()) {
        throw field_error{"request.resource: must be an object"};
      }
      out.resource = string_at(*r, "resource", "request.resource").value_or("");
    }
    out.sub_resource =
        string_at(request, "subResource", "request").value_or("");
    out.dry_run = bool_at(request, "dryRun", "request");
    if (const json* user = find(request, "userInfo")) {
      if (!user->is_object()) {
        throw field_error{"request.userInfo: must be an object"};
      }
      out.user = string_at(*user, "username", "request.userInfo").value_or("");
    }
  } catch (const field_error& e) {
    return refused(std::move(uid),
                   "the AdmissionReview is malformed: " + e.message);
  }
  // Moved, not copied: a Pod with its managedFields is most of the body.
  if (auto it = request.find("object"); it != request.end()) {
    out.object = std::move(*it);
  }
  if (auto it = request.find("oldObject"); it != request.end()) {
    out.old_object = std::move(*it);
  }
  return out;
}

std::string admission_allowed(std::string_view uid,
                              const nlohmann::json* json_patch,
                              const std::vector<std::string>& warnings) {
  json response{{"uid", std::string(uid)}, {"allowed", true}};
  if (json_patch != nullptr && !json_patch->is_null() &&
      !(json_patch->is_array() && json_patch->empty())) {
    response["patchType"] = "JSONPatch";
    response["patch"] = util::base64_encode(compact(*json_patch));
  }
  if (!warnings.empty()) response["warnings"] = warnings;
  return compact(review_with(std::move(response)));
}

std::string admission_denied(std::string_view uid, int code,
                             std::string_view reason,
                             std::string_view message) {
  json status{{"status", "Failure"}, {"message", std::string(message)}};
  if (code > 0) status["code"] = code;
  if (!reason.empty()) status["reason"] = std::string(reason);
  return compact(review_with(json{{"uid", std::string(uid)},
                                  {"allowed", false},
                                  {"status", std::move(status)}}));
}

}  // namespace mca::op
