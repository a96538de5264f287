#include "sidecar/fanout/watch_merge.hpp"

#include <utility>

#include "common/util/strings.hpp"
#include "sidecar/fanout/json_fields.hpp"
#include "sidecar/fanout/list_merge.hpp"
#include "sidecar/fanout/table_merge.hpp"

namespace mca::sidecar::fanout {

namespace {

error bad_event(const std::string& cluster, const std::string& what) {
  return error::of(error_source::decode,
                   "cluster " + quote(cluster) + " sent a watch event " + what);
}

// A Table event's rows, as merge_tables marks a list's: the Cluster cell,
// and each row's object marked with its own composite.
result<void> mark_table_rows(watch_merge_state& state,
                             const std::string& cluster,
                             nlohmann::json& table) {
  auto columns = table.find("columnDefinitions");
  if (columns != table.end() && columns->is_array() && !columns->empty()) {
    if (!state.table_cluster_column) {
      state.table_cluster_column = cluster_column_index(*columns);
      columns->insert(columns->begin() + static_cast<std::ptrdiff_t>(
                                             *state.table_cluster_column),
                      cluster_column_definition());
    } else {
      *columns = nullptr;
    }
  }
  // Without definitions yet (another cluster's came first and this one's
  // never did): after Name, which API servers put first.
  const std::size_t at = state.table_cluster_column.value_or(1);
  auto rows = table.find("rows");
  if (rows == table.end() || !rows->is_array()) return {};
  for (auto& row : *rows) {
    const auto cells = row.is_object() ? row.find("cells") : row.end();
    if (!row.is_object() || cells == row.end() || !cells->is_array() ||
        cells->size() < at) {
      return bad_event(cluster, "with a Table row whose cells do not match");
    }
    cells->insert(cells->begin() + static_cast<std::ptrdiff_t>(at), cluster);
    if (auto object = row.find("object");
        object != row.end() && object->is_object()) {
      const auto meta = object->find("metadata");
      const std::string rv = meta == object->end()
                                 ? std::string()
                                 : string_field(*meta, "resourceVersion");
      std::string version;
      if (!rv.empty()) {
        auto encoded = encode(composite_version{{{cluster, rv}}});
        if (!encoded) return encoded.error();
        version = std::move(*encoded);
      }
      mark_object(*object, cluster, version);
    }
  }
  return {};
}

}  // namespace

result<watch_step> merge_event(watch_merge_state state,
                               const std::string& cluster,
                               kube::watch_event event) {
  using type = kube::watch_event_type;
  if (event.type == type::error) {
    std::string why = string_field(event.object, "message");
    if (why.empty()) why = "its watch failed";
    return watch_step{std::move(state), upstream_ended(cluster, why), true};
  }
  auto& object = event.object;
  if (!object.is_object()) {
    return bad_event(cluster, "without an object with metadata");
  }
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return bad_event(cluster, "without an object with metadata");
  }
  const std::string rv = string_field(*meta, "resourceVersion");
  if (rv.empty()) return bad_event(cluster, "without a resourceVersion");
  state.current = with(std::move(state.current), cluster, rv);
  auto version = encode(state.current);
  if (!version) return version.error();

  if (event.type != type::bookmark && string_field(object, "kind") == "Table" &&
      string_field(object, "apiVersion") == "meta.k8s.io/v1") {
    (*meta)["resourceVersion"] = *version;
    auto marked = mark_table_rows(state, cluster, object);
    if (!marked) return marked.error();
    return watch_step{std::move(state), std::move(event), false};
  }
  if (event.type != type::bookmark) {
    mark_object(object, cluster, *version);
    return watch_step{std::move(state), std::move(event), false};
  }
  (*meta)["resourceVersion"] = *version;
  const auto annotations = meta->find("annotations");
  if (annotations != meta->end() && annotations->is_object() &&
      annotations->contains(std::string(initial_events_end_annotation))) {
    state.initial_events_pending.erase(cluster);
    // Another cluster still sending its initial events: to the client this
    // is an ordinary bookmark, else it would stop waiting too early.
    if (!state.initial_events_pending.empty()) {
      annotations->erase(std::string(initial_events_end_annotation));
      if (annotations->empty()) meta->erase(annotations);
    }
  }
  return watch_step{std::move(state), std::move(event), false};
}

kube::watch_event upstream_ended(std::string_view cluster,
                                 std::string_view why) {
  const std::string message = "the watch of cluster " + quote(cluster) +
                              " ended (" + std::string(why) +
                              "); list again to resume";
  return kube::watch_event{kube::watch_event_type::error,
                           {{"kind", "Status"},
                            {"apiVersion", "v1"},
                            {"metadata", nlohmann::json::object()},
                            {"status", "Failure"},
                            {"message", message},
                            {"reason", "Expired"},
                            {"code", 410}}};
}

}  // namespace mca::sidecar::fanout
