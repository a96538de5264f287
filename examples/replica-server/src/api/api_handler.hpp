#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_types.hpp"
#include "api/backends.hpp"
#include "api/route_parser.hpp"

namespace replica_server {

// The reply to a read (get_replicas, list_deployments) from the cache
// alone (pure): 200 with the body, 404 for a Deployment the cache does not
// hold, 503 (Retry-After) while the cache is not synced.
api_reply answer_read(const route& r, const deployment_reader& cache);

// The whole API: route, validate, answer reads from the cache, send writes
// to the API server. Never throws for a client's input; every failure is a
// reply with {"error": ...}.
class api_handler {
 public:
  api_handler(const deployment_reader& cache, replica_writer& writer,
              health_checker& health)
      : cache_(cache), writer_(writer), health_(health) {}

  boost::asio::awaitable<api_reply> handle(api_request request);

 private:
  const deployment_reader& cache_;
  replica_writer& writer_;
  health_checker& health_;
};

}  // namespace replica_server
