#include "sidecar/fanout/list_merge.hpp"

#include <utility>

#include "common/util/strings.hpp"
#include "sidecar/fanout/composite_version.hpp"
#include "sidecar/fanout/json_fields.hpp"

namespace mca::sidecar::fanout {

namespace {

const std::string& annotation_key() {
  static const std::string key(cluster_annotation);
  return key;
}

// The JSON pointer of the annotation: "/" inside a key is written "~1".
constexpr std::string_view annotation_pointer =
    "/metadata/annotations/mca.k8s.io~1cluster";

error bad_answer(const std::string& cluster, const std::string& what) {
  return error::of(error_source::decode,
                   "cluster " + quote(cluster) + " answered " + what);
}

// Removes the annotation from an annotations map; the cluster it named.
std::optional<std::string> strip_from_map(nlohmann::json& annotations) {
  if (!annotations.is_object()) return std::nullopt;
  const auto it = annotations.find(annotation_key());
  if (it == annotations.end()) return std::nullopt;
  std::optional<std::string> named;
  if (it->is_string()) named = it->get<std::string>();
  annotations.erase(it);
  return named;
}

std::optional<std::string> strip_from_object(nlohmann::json& object) {
  if (!object.is_object()) return std::nullopt;
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return std::nullopt;
  const auto annotations = meta->find("annotations");
  if (annotations == meta->end()) return std::nullopt;
  const bool had =
      annotations->is_object() && annotations->contains(annotation_key());
  auto named = strip_from_map(*annotations);
  if (had && annotations->empty()) meta->erase(annotations);
  return named;
}

}  // namespace

bool mark_object(nlohmann::json& object, const std::string& cluster,
                 const std::string& version) {
  if (!object.is_object()) return false;
  auto& meta = object["metadata"];
  if (meta.is_null()) meta = nlohmann::json::object();
  if (!meta.is_object()) return false;
  auto& annotations = meta["annotations"];
  if (!annotations.is_object()) annotations = nlohmann::json::object();
  annotations[annotation_key()] = cluster;
  const auto rv = meta.find("resourceVersion");
  if (rv != meta.end() && rv->is_string() &&
      !rv->get_ref<const std::string&>().empty()) {
    *rv = version;
  }
  return true;
}

result<void> set_list_metadata(nlohmann::json& body,
                               const std::vector<cluster_list>& lists,
                               bool partial, const list_paging& paging) {
  composite_version version;
  for (const auto& list : lists) {
    const auto meta = list.body.find("metadata");
    std::string rv;
    if (meta != list.body.end() && meta->is_object()) {
      rv = string_field(*meta, "resourceVersion");
    }
    version = with(std::move(version), list.cluster, std::move(rv));
  }
  auto encoded = encode(version);
  if (!encoded) return encoded.error();
  auto& meta = body["metadata"];
  if (!meta.is_object()) meta = nlohmann::json::object();
  meta["resourceVersion"] = *encoded;
  if (paging.continue_token.empty()) {
    meta.erase("continue");
  } else {
    meta["continue"] = paging.continue_token;
  }
  if (partial || !paging.remaining_item_count) {
    meta.erase("remainingItemCount");
  } else {
    meta["remainingItemCount"] = *paging.remaining_item_count;
  }
  return {};
}

result<merged_list> merge_lists(std::vector<cluster_list> lists,
                                std::vector<std::string> missing,
                                const list_paging& paging) {
  if (lists.empty()) {
    return error::of(
        error_source::internal,
        "no cluster answered the list (failed: " + join(missing, ", ") + ")");
  }
  merged_list out;
  out.missing = std::move(missing);
  const auto& first = lists.front();
  if (!first.body.is_object()) {
    return bad_answer(first.cluster, "a list that is not a JSON object");
  }
  const std::string kind = string_field(first.body, "kind");
  const std::string api_version = string_field(first.body, "apiVersion");
  out.body = nlohmann::json::object();
  out.body["kind"] = kind;
  out.body["apiVersion"] = api_version;
  out.body["metadata"] = nlohmann::json::object();
  auto& items = out.body["items"] = nlohmann::json::array();

  for (auto& list : lists) {
    if (!list.body.is_object()) {
      return bad_answer(list.cluster, "a list that is not a JSON object");
    }
    if (string_field(list.body, "kind") != kind ||
        string_field(list.body, "apiVersion") != api_version) {
      return bad_answer(list.cluster,
                        "a " + string_field(list.body, "apiVersion") + " " +
                            string_field(list.body, "kind") + " where " +
                            quote(first.cluster) + " answered a " +
                            api_version + " " + kind);
    }
    auto it = list.body.find("items");
    // Go encodes an empty slice as null in some lists.
    if (it == list.body.end() || it->is_null()) continue;
    if (!it->is_array()) {
      return bad_answer(list.cluster, "a list whose items are not an array");
    }
    for (auto& item : *it) {
      std::string rv;
      if (item.is_object()) {
        const auto meta = item.find("metadata");
        if (meta != item.end() && meta->is_object()) {
          rv = string_field(*meta, "resourceVersion");
        }
      }
      std::string version;
      if (!rv.empty()) {
        auto encoded = encode(composite_version{{{list.cluster, rv}}});
        if (!encoded) return encoded.error();
        version = std::move(*encoded);
      }
      if (!mark_object(item, list.cluster, version)) {
        return bad_answer(list.cluster, "a list item that is not an object");
      }
      items.push_back(std::move(item));
    }
  }
  auto meta = set_list_metadata(out.body, lists, !out.missing.empty(), paging);
  if (!meta) return meta.error();
  return out;
}

std::string partial_warning(const std::vector<std::string>& missing) {
  std::string text = "the list lacks the objects of cluster";
  if (missing.size() > 1) text += "s";
  text += " " + join(missing, ", ") + ", which did not answer";
  // A warning's text is a quoted-string: escape what would end it.
  std::string quoted;
  for (const char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return "299 - \"" + quoted + "\"";
}

std::optional<std::string> strip_cluster_annotation(nlohmann::json& body) {
  if (body.is_object()) return strip_from_object(body);
  if (!body.is_array()) return std::nullopt;
  std::optional<std::string> named;
  for (auto it = body.begin(); it != body.end();) {
    if (!it->is_object()) {
      ++it;
      continue;
    }
    const std::string path = string_field(*it, "path");
    if (path == annotation_pointer) {
      if (const auto v = it->find("value"); v != it->end() && v->is_string()) {
        named = v->get<std::string>();
      }
      it = body.erase(it);
      continue;
    }
    if (const auto v = it->find("value"); v != it->end()) {
      if (path == "/metadata/annotations") {
        if (auto n = strip_from_map(*v)) named = std::move(n);
      } else if (path == "/metadata" || path.empty()) {
        nlohmann::json wrapped =
            path.empty() ? *v : nlohmann::json{{"metadata", *v}};
        if (auto n = strip_from_object(wrapped)) {
          named = std::move(n);
          *v = path.empty() ? std::move(wrapped)
                            : std::move(wrapped["metadata"]);
        }
      }
    }
    ++it;
  }
  return named;
}

}  // namespace mca::sidecar::fanout
