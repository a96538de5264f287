#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/core/error.hpp"

namespace mca::sidecar::fanout {

// Discovery documents the sidecar merges across its targets (ARCHITECTURE
// §3.6), so that what only a remote cluster serves (a CRD installed on
// east) is discoverable through it.
enum class discovery_path {
  none,           // not discovery: /version, /openapi/*, /healthz, ...
  api,            // /api: APIVersions, or aggregated discovery
  apis,           // /apis: APIGroupList, or aggregated discovery
  group,          // /apis/G: APIGroup
  group_version,  // /api/v1, /apis/G/V: APIResourceList
};

// Which document `path` (decoded, without query) asks for. Only exact
// discovery paths; anything longer is a resource request.
discovery_path classify_discovery(std::string_view path) noexcept;

// The client's Accept without its protobuf media ranges: merging needs
// JSON, and clients that offer protobuf (client-go's discovery does) offer
// JSON too. Empty when nothing but protobuf was acceptable.
std::string json_only_accept(std::string_view accept);

// Merges the targets' answers, in target order. The first answer decides
// the kind (APIVersions, APIGroupList, APIGroup, APIResourceList or
// apidiscovery's APIGroupDiscoveryList, any version); answers of another
// kind are left out, as from a server of another release. Entries are
// united by name, the first target's order and content kept, what others
// add appended:
//   - APIVersions: versions;
//   - APIGroupList: groups by name, each group's versions by groupVersion
//     (the preferred version stays the first target's that has the group);
//   - APIGroup: versions by groupVersion;
//   - APIResourceList: resources by name (subresources included);
//   - APIGroupDiscoveryList: groups by metadata.name, versions by version,
//     resources by resource (each with its subresources as first seen).
// Errors (internal): no answer at all.
result<nlohmann::json> merge_discovery(std::vector<nlohmann::json> answers);

}  // namespace mca::sidecar::fanout
