#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kube/deployment_summary.hpp"

namespace replica_server {

// The informer's log lines (pure), so what an operator reads is tested.
// Info: what changes an answer of the API (a Deployment appears, goes, or
// changes its replica count) and every complete list; debug: the rest.

std::string added_line(const deployment_summary& d);
std::string deleted_line(const deployment_summary& d);
// Info when the replica count changed, nullopt otherwise (the caller logs
// the update at debug).
std::optional<std::string> replicas_changed_line(const deployment_summary& old,
                                                 const deployment_summary& now);
// After the list numbered `list_number` (1 is the first): the cache holds
// `cached` Deployments.
std::string listed_line(std::uint64_t list_number, std::size_t cached);

}  // namespace replica_server
