#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/core/error.hpp"
#include "sidecar/fanout/list_merge.hpp"

namespace mca::sidecar::fanout {

// The column the merged table gains, as kubectl prints it: "CLUSTER".
inline constexpr std::string_view cluster_column = "Cluster";

// Where the Cluster column goes among a Table's `columnDefinitions`: after
// the one named Name, or first when there is none.
std::size_t cluster_column_index(const nlohmann::json& columns);

// The Cluster column's definition (type string, priority 0, so `kubectl
// get` shows it without -o wide).
nlohmann::json cluster_column_definition();

// Merges `meta.k8s.io/v1 Table` answers (what `kubectl get` asks for with
// `as=Table`), in the given (rule) order:
//   - columnDefinitions of the first, with a Cluster column (type string,
//     priority 0, so `kubectl get` shows it without -o wide) inserted after
//     the one named Name, or first when there is none;
//   - rows concatenated, each row's cells with its cluster's name at that
//     index, and its `object` (PartialObjectMetadata, or the full object
//     with includeObject=Object) marked as merge_lists marks items;
//   - metadata as merge_lists sets it.
// Errors (decode, naming the cluster): not a Table, columns that differ
// from the first cluster's (its server or CRD version differs: cells could
// not line up), a row whose cells do not match the columns. No table at
// all is an internal error.
result<merged_list> merge_tables(std::vector<cluster_list> tables,
                                 std::vector<std::string> missing,
                                 const list_paging& paging = {});

}  // namespace mca::sidecar::fanout
