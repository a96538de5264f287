#include "sidecar/proxy/upstream_get.hpp"

#include <utility>

#include "sidecar/fanout/composite_version.hpp"
#include "sidecar/proxy/query_params.hpp"

namespace mca::sidecar {

http::request get_request(const std::string& target,
                          const std::string& accept) {
  http::request req;
  req.method = "GET";
  req.target = target;
  req.headers.push_back(http::header_field{"Accept", accept});
  return req;
}

result<std::vector<std::string>> cluster_targets(
    std::string_view target, std::string_view client_version,
    const std::vector<std::string>& clusters) {
  std::vector<std::string> out;
  for (const auto& cluster : clusters) {
    auto own =
        fanout::upstream_version(client_version, cluster, clusters.size());
    if (!own) return own.error();
    std::vector<std::pair<std::string, std::string>> set;
    set.emplace_back("resourceVersion", std::move(*own));
    out.push_back(rewrite_query(target, {"resourceVersion"}, set));
  }
  return out;
}

boost::asio::awaitable<result<http::response>> get_from(
    result<std::shared_ptr<upstream_target>> up, std::string target,
    std::string accept, std::chrono::milliseconds timeout,
    std::size_t body_limit) {
  if (!up) co_return up.error();
  http::request_options options;
  options.timeout = timeout;
  options.body_limit = body_limit;
  co_return co_await (*up)->probe().send(get_request(target, accept), options);
}

}  // namespace mca::sidecar
