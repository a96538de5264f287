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

std::string refusal_text(int status, std::string_view body) {
  const auto parsed = nlohmann::json::parse(body, nullptr, false);
  std::string out = "answered " + std::to_string(status);
  if (parsed.is_object()) {
    const auto message = parsed.find("message");
    if (message != parsed.end() && message->is_string() &&
        !message->get_ref<const std::string&>().empty()) {
      out += ": " + message->get<std::string>();
    }
  }
  return out;
}

judged_answer judge(const result<http::response>& res) {
  judged_answer a;
  if (!res) {
    a.failure = res.error().message;
    return a;
  }
  a.status = res->status;
  if (res->status != 200) {
    a.failure = refusal_text(res->status, res->body);
    return a;
  }
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (!body.is_object()) {
    a.failure = "answered with a body that is not a JSON object";
    return a;
  }
  a.body = std::move(body);
  a.content_type = std::string(res->header("Content-Type"));
  return a;
}

boost::asio::awaitable<judged_answer> get_json(
    result<std::shared_ptr<upstream_target>> up, std::string target,
    std::string accept, std::chrono::milliseconds timeout,
    std::size_t body_limit) {
  auto res = co_await get_from(std::move(up), std::move(target),
                               std::move(accept), timeout, body_limit);
  co_return judge(res);
}

}  // namespace mca::sidecar
