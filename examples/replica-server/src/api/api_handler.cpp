#include "api/api_handler.hpp"

#include <string>
#include <utility>

#include "api/replica_body.hpp"
#include "api/responses.hpp"

namespace replica_server {
namespace {

api_reply ok_reply(std::string body) {
  api_reply r;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

api_reply not_synced_reply(const deployment_reader& cache) {
  api_reply r = error_reply(
      api_error::of(503, "the deployment cache is not synced yet (" +
                             cache.sync_problem() + "); retry shortly"));
  r.headers.push_back({"Retry-After", "1"});
  return r;
}

api_reply health_reply(const health_report& report) {
  api_reply r;
  r.status = report.healthy ? 200 : 503;
  r.body = health_body(report);
  return r;
}

}  // namespace

api_reply answer_read(const route& r, const deployment_reader& cache) {
  if (!cache.synced()) return not_synced_reply(cache);
  if (r.what == endpoint::list_deployments) {
    return ok_reply(list_body(cache.list()));
  }
  auto found = cache.find(r.namespace_name, r.name);
  if (!found) {
    return error_reply(api_error::of(
        404, "deployment " + r.namespace_name + "/" + r.name + " not found"));
  }
  return ok_reply(replicas_body(*found));
}

boost::asio::awaitable<api_reply> api_handler::handle(api_request request) {
  auto parsed = parse_route(request.method, request.target);
  if (!parsed) co_return error_reply(parsed.error());
  route r = *std::move(parsed);
  switch (r.what) {
    case endpoint::get_replicas:
    case endpoint::list_deployments:
      co_return answer_read(r, cache_);
    case endpoint::health: {
      const health_report report = co_await health_.check();
      co_return health_reply(report);
    }
    case endpoint::set_replicas:
      break;
  }
  auto count = parse_replica_count(request.content_type, request.body);
  if (!count) co_return error_reply(count.error());
  const std::int32_t n = *count;
  std::string ns = std::move(r.namespace_name);
  std::string name = std::move(r.name);
  auto written =
      co_await writer_.set_replicas(std::move(ns), std::move(name), n);
  if (!written) co_return error_reply(written.error());
  co_return ok_reply(updated_body());
}

}  // namespace replica_server
