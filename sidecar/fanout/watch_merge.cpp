#include "sidecar/fanout/watch_merge.hpp"

#include <utility>

#include "common/util/strings.hpp"
#include "sidecar/fanout/json_fields.hpp"
#include "sidecar/fanout/list_merge.hpp"

namespace mca::sidecar::fanout {

namespace {

error bad_event(const std::string& cluster, const std::string& what) {
  return error::of(error_source::decode,
                   "cluster " + quote(cluster) + " sent a watch event " + what);
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
