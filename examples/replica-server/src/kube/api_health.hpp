#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/backends.hpp"
#include "common/kube/rest_client.hpp"

namespace replica_server {

// /health: healthy when the cache has synced and the API server answers
// GET /version now (through `client`, whose request timeout bounds the
// check: keep it below a probe's timeout). A cache that cannot sync and an
// API server that cannot be reached are both reported with their error.
class api_health final : public health_checker {
 public:
  api_health(const deployment_reader& cache, mca::kube::rest_client& client)
      : cache_(cache), client_(client) {}

  boost::asio::awaitable<health_report> check() override;

 private:
  const deployment_reader& cache_;
  mca::kube::rest_client& client_;
};

}  // namespace replica_server
