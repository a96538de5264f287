#pragma once

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/core/error.hpp"
#include "common/kube/watch_decoder.hpp"
#include "sidecar/fanout/composite_version.hpp"

namespace mca::sidecar::fanout {

// What a merged watch knows between events. One per merged watch, owned by
// the session relaying it (the upstream watches' events are merged on its
// one thread, so no locking).
struct watch_merge_state {
  // Each cluster's version as of the last event relayed from it; starts as
  // the composite the client watched from (empty for "" and "0": a cluster
  // joins it with its first event).
  composite_version current;
  // sendInitialEvents=true: the clusters whose initial events have not
  // ended yet. The merged initial phase ends only when the last one does.
  std::set<std::string> initial_events_pending;
  // Table watches (`kubectl get -w`): where the Cluster cell goes, set by
  // the first event that carried columnDefinitions. Only that event keeps
  // them, as an API server sends them once per watch.
  std::optional<std::size_t> table_cluster_column;
};

struct watch_step {
  watch_merge_state state;
  kube::watch_event event;  // to relay
  bool ends = false;        // relay `event`, then end the merged watch
};

// The annotation a bookmark carries at the end of a watch-list's initial
// events.
inline constexpr std::string_view initial_events_end_annotation =
    "k8s.io/initial-events-end";

// Folds one event of `cluster`'s upstream watch into the merged watch
// (object events may be meta.k8s.io/v1 Tables, one row each, for a watch
// asked with as=Table: the Table's version is the composite, each row gains
// a Cluster cell and its object is marked):
//   - ADDED/MODIFIED/DELETED: the object marked as merge_lists marks items,
//     its resourceVersion the new composite (the state with this cluster's
//     version replaced), so a client resuming from the last event it saw
//     resumes every cluster where it was — misses nothing, repeats nothing;
//   - BOOKMARK: likewise without the annotation; an initial-events-end
//     bookmark keeps that annotation only when it is the last cluster's;
//   - ERROR: ends the merged watch with upstream_ended().
// Errors (decode, naming the cluster): an object that is not one or has no
// version. The caller ends the watch with upstream_ended() for them too.
result<watch_step> merge_event(watch_merge_state state,
                               const std::string& cluster,
                               kube::watch_event event);

// The ERROR event that ends a merged watch when one cluster's watch ended,
// failed or answered 410: always 410 Expired (reason Expired), so clients
// relist instead of resuming a watch that would silently lack a cluster.
// `why` says what happened (the upstream's message, "the watch ended").
kube::watch_event upstream_ended(std::string_view cluster,
                                 std::string_view why);

}  // namespace mca::sidecar::fanout
