#include "sidecar/fanout/table_merge.hpp"

#include <utility>

#include "common/util/strings.hpp"
#include "sidecar/fanout/composite_version.hpp"
#include "sidecar/fanout/json_fields.hpp"

namespace mca::sidecar::fanout {

namespace {

error bad_answer(const std::string& cluster, const std::string& what) {
  return error::of(error_source::decode,
                   "cluster " + quote(cluster) + " answered " + what);
}

bool is_table(const nlohmann::json& body) {
  return body.is_object() && string_field(body, "kind") == "Table" &&
         string_field(body, "apiVersion") == "meta.k8s.io/v1";
}

std::string column_names(const nlohmann::json& columns) {
  std::vector<std::string> names;
  for (const auto& c : columns) {
    names.push_back(c.contains("name") ? string_field(c, "name") : "?");
  }
  return join(names, ", ");
}

}  // namespace

std::size_t cluster_column_index(const nlohmann::json& columns) {
  if (!columns.is_array()) return 0;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (string_field(columns[i], "name") == "Name") return i + 1;
  }
  return 0;
}

nlohmann::json cluster_column_definition() {
  return nlohmann::json{
      {"name", cluster_column},
      {"type", "string"},
      {"format", ""},
      {"description", "The cluster (ClusterTarget) the object is in."},
      {"priority", 0}};
}

result<merged_list> merge_tables(std::vector<cluster_list> tables,
                                 std::vector<std::string> missing,
                                 const list_paging& paging) {
  if (tables.empty()) {
    return error::of(
        error_source::internal,
        "no cluster answered the table (failed: " + join(missing, ", ") + ")");
  }
  for (const auto& t : tables) {
    if (!is_table(t.body)) {
      return bad_answer(t.cluster,
                        "something other than a meta.k8s.io/v1 "
                        "Table");
    }
  }
  const auto& first = tables.front();
  const nlohmann::json columns =
      first.body.value("columnDefinitions", nlohmann::json::array());
  if (!columns.is_array()) {
    return bad_answer(first.cluster, "a Table without columnDefinitions");
  }
  const std::size_t at = cluster_column_index(columns);

  merged_list out;
  out.missing = std::move(missing);
  out.body = nlohmann::json::object();
  out.body["kind"] = "Table";
  out.body["apiVersion"] = "meta.k8s.io/v1";
  out.body["metadata"] = nlohmann::json::object();
  auto& merged_columns = out.body["columnDefinitions"] = columns;
  merged_columns.insert(
      merged_columns.begin() + static_cast<std::ptrdiff_t>(at),
      cluster_column_definition());
  auto& rows = out.body["rows"] = nlohmann::json::array();

  for (auto& t : tables) {
    const nlohmann::json own =
        t.body.value("columnDefinitions", nlohmann::json::array());
    if (own != columns) {
      return bad_answer(t.cluster, "a Table with columns (" +
                                       column_names(own) + ") unlike " +
                                       quote(first.cluster) + "'s (" +
                                       column_names(columns) + ")");
    }
    auto it = t.body.find("rows");
    if (it == t.body.end() || it->is_null()) continue;
    if (!it->is_array()) {
      return bad_answer(t.cluster, "a Table whose rows are not an array");
    }
    for (auto& row : *it) {
      const auto cells = row.is_object() ? row.find("cells") : row.end();
      if (!row.is_object() || cells == row.end() || !cells->is_array() ||
          cells->size() != columns.size()) {
        return bad_answer(t.cluster,
                          "a Table row whose cells do not match "
                          "its columns");
      }
      cells->insert(cells->begin() + static_cast<std::ptrdiff_t>(at),
                    t.cluster);
      if (auto object = row.find("object");
          object != row.end() && object->is_object()) {
        std::string version;
        const auto meta = object->find("metadata");
        const std::string rv = meta == object->end()
                                   ? std::string()
                                   : string_field(*meta, "resourceVersion");
        if (!rv.empty()) {
          auto encoded = encode(composite_version{{{t.cluster, rv}}});
          if (!encoded) return encoded.error();
          version = std::move(*encoded);
        }
        mark_object(*object, t.cluster, version);
      }
      rows.push_back(std::move(row));
    }
  }
  auto meta = set_list_metadata(out.body, tables, !out.missing.empty(), paging);
  if (!meta) return meta.error();
  return out;
}

}  // namespace mca::sidecar::fanout
