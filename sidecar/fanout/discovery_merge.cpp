#include "sidecar/fanout/discovery_merge.hpp"

#include <set>
#include <utility>

#include "sidecar/fanout/json_fields.hpp"

namespace mca::sidecar::fanout {

namespace {

using json = nlohmann::json;

std::size_t count_segments(std::string_view path) {
  std::size_t n = 0;
  bool in_segment = false;
  for (const char c : path) {
    if (c == '/') {
      in_segment = false;
    } else if (!in_segment) {
      in_segment = true;
      ++n;
    }
  }
  return n;
}

// The key an entry is united by: a field, or a field of its metadata.
using key_of = std::string (*)(const json&);

std::string by_name(const json& e) { return string_field(e, "name"); }
std::string by_group_version(const json& e) {
  return string_field(e, "groupVersion");
}
std::string by_version(const json& e) { return string_field(e, "version"); }
std::string by_resource(const json& e) { return string_field(e, "resource"); }
std::string by_metadata_name(const json& e) {
  return e.contains("metadata") ? string_field(e["metadata"], "name") : "";
}
std::string by_value(const json& e) {
  return e.is_string() ? e.get<std::string>() : "";
}

// Appends to into[field] the entries of from[field] whose key it lacks;
// `merge_same` is then called for entries both have.
template <class Same>
void unite(json& into, const json& from, const char* field, key_of key,
           Same merge_same) {
  if (!from.is_object() || !from.contains(field) || !from[field].is_array()) {
    return;
  }
  json& mine = into[field];
  if (!mine.is_array()) mine = json::array();
  for (const auto& entry : from[field]) {
    const std::string k = key(entry);
    if (k.empty()) continue;
    bool found = false;
    for (auto& existing : mine) {
      if (key(existing) == k) {
        merge_same(existing, entry);
        found = true;
        break;
      }
    }
    if (!found) mine.push_back(entry);
  }
}

void nothing(json&, const json&) {}

void merge_into(json& into, const json& from) {
  const std::string kind = string_field(into, "kind");
  if (kind == "APIVersions") {
    unite(into, from, "versions", by_value, nothing);
  } else if (kind == "APIGroupList") {
    unite(into, from, "groups", by_name, [](json& group, const json& other) {
      unite(group, other, "versions", by_group_version, nothing);
    });
  } else if (kind == "APIGroup") {
    unite(into, from, "versions", by_group_version, nothing);
  } else if (kind == "APIResourceList") {
    unite(into, from, "resources", by_name, nothing);
  } else if (kind == "APIGroupDiscoveryList") {
    unite(into, from, "items", by_metadata_name,
          [](json& group, const json& other) {
            unite(group, other, "versions", by_version,
                  [](json& version, const json& other_version) {
                    unite(version, other_version, "resources", by_resource,
                          nothing);
                  });
          });
  }
}

}  // namespace

discovery_path classify_discovery(std::string_view path) noexcept {
  const std::size_t n = count_segments(path);
  if (path.starts_with("/api/") || path == "/api") {
    if (n == 1) return discovery_path::api;
    if (n == 2) return discovery_path::group_version;
    return discovery_path::none;
  }
  if (path.starts_with("/apis/") || path == "/apis") {
    if (n == 1) return discovery_path::apis;
    if (n == 2) return discovery_path::group;
    if (n == 3) return discovery_path::group_version;
  }
  return discovery_path::none;
}

std::string json_only_accept(std::string_view accept) {
  if (accept.empty()) return "application/json";
  std::string out;
  while (!accept.empty()) {
    const auto comma = accept.find(',');
    std::string_view range = accept.substr(0, comma);
    while (!range.empty() && range.front() == ' ') range.remove_prefix(1);
    if (!range.empty() && range.find("protobuf") == std::string_view::npos) {
      if (!out.empty()) out += ',';
      out += range;
    }
    if (comma == std::string_view::npos) break;
    accept.remove_prefix(comma + 1);
  }
  return out;
}

result<json> merge_discovery(std::vector<json> answers) {
  if (answers.empty()) {
    return error::of(error_source::internal, "no discovery answer to merge");
  }
  json merged = std::move(answers.front());
  const std::string kind = string_field(merged, "kind");
  const std::string api_version = string_field(merged, "apiVersion");
  for (std::size_t i = 1; i < answers.size(); ++i) {
    const json& other = answers[i];
    if (string_field(other, "kind") != kind ||
        string_field(other, "apiVersion") != api_version) {
      continue;
    }
    merge_into(merged, other);
  }
  return ok(std::move(merged));
}

}  // namespace mca::sidecar::fanout
