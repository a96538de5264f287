#include "sidecar/fanout/write_back.hpp"

#include <utility>

#include <nlohmann/json.hpp>

#include "common/util/strings.hpp"
#include "common/util/yaml_json.hpp"
#include "sidecar/fanout/composite_version.hpp"
#include "sidecar/fanout/json_fields.hpp"
#include "sidecar/fanout/list_merge.hpp"

namespace mca::sidecar::fanout {

namespace {

using json = nlohmann::json;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

bool is_yaml(std::string_view content_type) {
  return contains(content_type, "yaml");
}

// The body as JSON; YAML (server-side apply) converted. nullopt when it is
// neither.
std::optional<json> parse_body(std::string_view body,
                               std::string_view content_type) {
  auto parsed = json::parse(body, nullptr, false);
  if (!parsed.is_discarded()) return parsed;
  if (!is_yaml(content_type)) return std::nullopt;
  auto docs = util::parse_yaml_documents(body, "the request body");
  if (!docs || docs->size() != 1) return std::nullopt;
  return std::move(docs->front());
}

error conflict(std::string message) {
  error e = error::of(error_source::client, std::move(message));
  e.status = api_status{409, "Conflict", e.message, {}};
  return e;
}

// `version` for `cluster`; false when it was not a composite (unchanged).
result<bool> translate_version(json& version, const std::string& cluster,
                               std::size_t clusters) {
  if (!version.is_string()) return false;
  const std::string text = version.get<std::string>();
  if (!is_composite(text)) return false;
  auto own = upstream_version(text, cluster, clusters);
  if (!own) {
    if (own.error().status.code == 410) {
      return conflict("the object's resourceVersion is from " +
                      std::string("another cluster than ") + quote(cluster) +
                      ", where it is being written (" + own.error().message +
                      ")");
    }
    return own.error();
  }
  version = std::move(*own);
  return true;
}

result<bool> translate_in_metadata(json& metadata, const std::string& cluster,
                                   std::size_t clusters) {
  if (!metadata.is_object()) return false;
  const auto rv = metadata.find("resourceVersion");
  if (rv == metadata.end()) return false;
  return translate_version(*rv, cluster, clusters);
}

result<bool> translate_object(json& object, const std::string& cluster,
                              std::size_t clusters) {
  if (!object.is_object()) return false;
  bool changed = false;
  if (const auto meta = object.find("metadata"); meta != object.end()) {
    auto t = translate_in_metadata(*meta, cluster, clusters);
    if (!t) return t;
    changed = *t;
  }
  // DeleteOptions.
  if (const auto pre = object.find("preconditions");
      pre != object.end() && pre->is_object()) {
    if (const auto rv = pre->find("resourceVersion"); rv != pre->end()) {
      auto t = translate_version(*rv, cluster, clusters);
      if (!t) return t;
      changed = changed || *t;
    }
  }
  return changed;
}

result<bool> translate_patch(json& ops, const std::string& cluster,
                             std::size_t clusters) {
  bool changed = false;
  for (auto& op : ops) {
    if (!op.is_object()) continue;
    const auto value = op.find("value");
    if (value == op.end()) continue;
    const std::string path = string_field(op, "path");
    result<bool> t = false;
    if (path == "/metadata/resourceVersion") {
      t = translate_version(*value, cluster, clusters);
    } else if (path == "/metadata") {
      t = translate_in_metadata(*value, cluster, clusters);
    } else if (path.empty()) {
      t = translate_object(*value, cluster, clusters);
    }
    if (!t) return t;
    changed = changed || *t;
  }
  return changed;
}

}  // namespace

bool is_translatable(std::string_view content_type) noexcept {
  return contains(content_type, "json") || is_yaml(content_type);
}

std::optional<std::string> cluster_named_in(std::string_view body,
                                            std::string_view content_type) {
  if (!is_translatable(content_type)) return std::nullopt;
  auto parsed = parse_body(body, content_type);
  if (!parsed) return std::nullopt;
  return strip_cluster_annotation(*parsed);
}

result<translated_write> translate_write(std::string body,
                                         std::string_view content_type,
                                         const std::string& cluster,
                                         std::size_t clusters) {
  translated_write out;
  if (body.empty() || !is_translatable(content_type)) {
    out.body = std::move(body);
    return out;
  }
  auto parsed = parse_body(body, content_type);
  if (!parsed) {
    return error::of(error_source::client,
                     "the request body is not valid " +
                         std::string(is_yaml(content_type) ? "YAML" : "JSON"));
  }
  json& doc = *parsed;
  const auto key = std::string(cluster_annotation);
  const bool had_annotation =
      strip_cluster_annotation(doc).has_value() || contains(body, key);
  result<bool> t = doc.is_array() ? translate_patch(doc, cluster, clusters)
                                  : translate_object(doc, cluster, clusters);
  if (!t) return t.error();
  if (!*t && !had_annotation) {
    out.body = std::move(body);
    return out;
  }
  out.body = doc.dump();
  out.changed = true;
  return out;
}

}  // namespace mca::sidecar::fanout
