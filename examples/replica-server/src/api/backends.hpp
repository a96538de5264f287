#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/api_types.hpp"
#include "api/responses.hpp"
#include "kube/deployment_summary.hpp"

namespace replica_server {

// What the API needs from Kubernetes, as three small interfaces so the
// handler is tested against in-memory doubles. Implementations:
// kube/deployment_cache (reads), kube/scaler (writes), kube/api_health.
// All are used from the server's one I/O thread.

// Every read is answered from here, never from the API server.
class deployment_reader {
 public:
  virtual ~deployment_reader() = default;
  // True once the first complete list is cached: before that, "not found"
  // could be a lie.
  virtual bool synced() const = 0;
  // Why the cache is not synced (the last list error, or that the first
  // list is still running), for 503 bodies and /health.
  virtual std::string sync_problem() const = 0;
  virtual std::optional<deployment_summary> find(
      const std::string& namespace_name, const std::string& name) const = 0;
  // Sorted by namespace, then name.
  virtual std::vector<deployment_summary> list() const = 0;
};

// Every write goes to the API server.
class replica_writer {
 public:
  virtual ~replica_writer() = default;
  // Sets spec.replicas through the Deployment's scale subresource. The
  // error carries the status the API answers with (404, 409, 422, 503...).
  virtual boost::asio::awaitable<api_result<void>> set_replicas(
      std::string namespace_name, std::string name, std::int32_t count) = 0;
};

class health_checker {
 public:
  virtual ~health_checker() = default;
  // Whether the cache is synced and the API server answers now.
  virtual boost::asio::awaitable<health_report> check() = 0;
};

}  // namespace replica_server
