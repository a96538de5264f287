#include "kube/cache_log.hpp"

namespace replica_server {
namespace {

std::string key(const deployment_summary& d) {
  return d.namespace_name + "/" + d.name;
}

}  // namespace

std::string added_line(const deployment_summary& d) {
  return "informer: deployment " + key(d) + " added (replicas " +
         std::to_string(d.replicas) + ")";
}

std::string deleted_line(const deployment_summary& d) {
  return "informer: deployment " + key(d) + " deleted";
}

std::optional<std::string> replicas_changed_line(
    const deployment_summary& old, const deployment_summary& now) {
  if (old.replicas == now.replicas) return std::nullopt;
  return "informer: deployment " + key(now) + " replicas " +
         std::to_string(old.replicas) + " -> " + std::to_string(now.replicas);
}

std::string listed_line(std::uint64_t list_number, std::size_t cached) {
  const std::string count = std::to_string(cached) + " deployment" +
                            (cached == 1 ? "" : "s") + " cached";
  if (list_number <= 1) return "informer: synced, " + count;
  return "informer: relisted (list " + std::to_string(list_number) + "), " +
         count;
}

}  // namespace replica_server
