#include "sidecar/upstream/upstream_registry.hpp"

#include <utility>

#include "common/kube/connect.hpp"

namespace mca::sidecar {

upstream_registry::upstream_registry(boost::asio::any_io_executor executor,
                                     routing::local_identity local)
    : executor_(std::move(executor)), local_(std::move(local)) {}

mca::result<std::shared_ptr<upstream_target>> upstream_registry::get(
    const routing::target_spec& spec) {
  if (auto it = targets_.find(spec.name);
      it != targets_.end() && it->second->spec() == spec) {
    return it->second;
  }
  auto config = routing::client_config_for(spec, local_);
  if (!config) return config.error();
  auto address = http::parse_server_url(config->server);
  if (!address) return address.error();
  http::tls_settings tls;
  tls.ca_pem = config->ca_pem;
  tls.server_name = config->tls_server_name;
  tls.insecure_skip_verify = config->insecure_skip_tls_verify;
  tls.ca_origin = config->origin;
  http::https_options options;
  options.user_agent = "mca-sidecar";
  // As many idle keep-alive connections per target as an app keeps busy
  // at once (64 is a large burst for one pod): with fewer, connections
  // returning from a burst evict each other and every request past the
  // limit pays a new TCP and TLS handshake to the cluster (the benchmark
  // at 64 connections went from 5.6k to 31k req/s). Each idle connection
  // costs its TLS state, some tens of KiB.
  options.max_idle_connections = 64;
  auto pool = std::make_unique<http::tls_connection_pool>(
      executor_, std::move(*address), std::move(tls), options);
  auto probe = kube::make_transport(executor_, *config, options);
  if (!probe) return probe.error();
  auto target = std::make_shared<upstream_target>(
      spec, std::move(pool), kube::make_credential_source(*config),
      std::move(*probe));
  targets_[spec.name] = target;
  return target;
}

mca::result<std::shared_ptr<upstream_target>> upstream_registry::get(
    const routing::routing_table& table, const std::string& name) {
  const routing::target_spec* spec = table.find_target(name);
  if (spec == nullptr) {
    return error::of(error_source::internal,
                     "the routing table has no target " + name);
  }
  return get(*spec);
}

}  // namespace mca::sidecar
