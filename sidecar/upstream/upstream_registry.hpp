#pragma once

#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "common/core/error.hpp"
#include "common/http/tls_connection_pool.hpp"
#include "common/http/transport.hpp"
#include "common/kube/credentials.hpp"
#include "common/routing/routing_table.hpp"
#include "common/routing/target_config.hpp"

namespace mca::sidecar {

// Everything needed to send to one target: a connection pool for relayed
// requests, the credential source (re-read as it rotates) and a kube client
// transport for the sidecar's own requests (locate probes).
class upstream_target {
 public:
  upstream_target(routing::target_spec spec,
                  std::unique_ptr<http::tls_connection_pool> pool,
                  std::shared_ptr<kube::credential_source> credentials,
                  std::shared_ptr<http::transport> probe)
      : spec_(std::move(spec)),
        pool_(std::move(pool)),
        credentials_(std::move(credentials)),
        probe_(std::move(probe)) {}

  const routing::target_spec& spec() const noexcept { return spec_; }
  const std::string& name() const noexcept { return spec_.name; }
  http::tls_connection_pool& pool() noexcept { return *pool_; }
  kube::credential_source& credentials() noexcept { return *credentials_; }
  http::transport& probe() noexcept { return *probe_; }

 private:
  routing::target_spec spec_;
  std::unique_ptr<http::tls_connection_pool> pool_;
  std::shared_ptr<kube::credential_source> credentials_;
  std::shared_ptr<http::transport> probe_;
};

// The targets of one worker, built on first use from the table's spec and
// rebuilt when a new table changes a target's spec (so a new CA or
// credential takes effect with the table; connections of the old spec
// close as their requests end).
//
// Thread affinity: one registry per worker executor.
class upstream_registry {
 public:
  upstream_registry(boost::asio::any_io_executor executor,
                    routing::local_identity local);

  // Fails (source config) when the target's files cannot be read or its
  // server is not a usable URL; the message names the target.
  mca::result<std::shared_ptr<upstream_target>> get(
      const routing::target_spec& spec);
  // The same for the target `table` names `name` (internal error when it
  // names none: routing decisions only name the table's targets).
  mca::result<std::shared_ptr<upstream_target>> get(
      const routing::routing_table& table, const std::string& name);

 private:
  boost::asio::any_io_executor executor_;
  routing::local_identity local_;
  std::map<std::string, std::shared_ptr<upstream_target>> targets_;
};

}  // namespace mca::sidecar
