#include "sidecar/proxy/merged_discovery.hpp"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/util/strings.hpp"
#include "sidecar/fanout/discovery_merge.hpp"
#include "sidecar/proxy/gather.hpp"
#include "sidecar/proxy/upstream_get.hpp"

namespace mca::sidecar {

namespace asio = boost::asio;
using json = nlohmann::json;

const discovery_answer* discovery_cache::find(
    const std::string& key, std::chrono::steady_clock::time_point now) const {
  const auto it = entries_.find(key);
  if (it == entries_.end() || it->second.expires <= now) return nullptr;
  return &it->second.answer;
}

void discovery_cache::store(std::string key, discovery_answer answer,
                            std::chrono::steady_clock::time_point now) {
  if (entries_.size() >= max_entries) {
    std::erase_if(entries_,
                  [&](const auto& e) { return e.second.expires <= now; });
    if (entries_.size() >= max_entries) entries_.clear();
  }
  entries_.insert_or_assign(std::move(key),
                            entry{now + lifetime, std::move(answer)});
}

namespace {

using target_answer = judged_answer;

discovery_answer refuse(int status, std::string message) {
  discovery_answer a;
  a.status = status;
  a.body = std::move(message);
  return a;
}

discovery_answer merge(std::vector<target_answer>& answers,
                       const std::vector<std::string>& names,
                       const std::string& target) {
  std::vector<json> bodies;
  std::string content_type;
  std::string failures;
  bool any_failed = false;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    auto& a = answers[i];
    if (a.body) {
      if (bodies.empty()) content_type = a.content_type;
      bodies.push_back(std::move(*a.body));
      continue;
    }
    if (a.status == 404) continue;  // not served there: nothing to add
    any_failed = true;
    if (!failures.empty()) failures += "; ";
    failures += names[i] + ": " + a.failure;
  }
  if (any_failed) {
    spdlog::warn("discovery {}: left out {}", target, failures);
  }
  if (bodies.empty()) {
    if (!any_failed) {
      return refuse(404, "none of the targets (" + join(names, ", ") +
                             ") serves " + target);
    }
    return refuse(
        503, "discovery " + target + " failed on every target: " + failures);
  }
  auto merged = fanout::merge_discovery(std::move(bodies));
  if (!merged) return refuse(500, merged.error().message);
  discovery_answer out;
  out.body = merged->dump();
  out.content_type =
      content_type.empty() ? std::string("application/json") : content_type;
  return out;
}

}  // namespace

asio::awaitable<discovery_answer> read_merged_discovery(
    upstream_registry& upstreams, discovery_cache& cache,
    const routing::routing_table& table, std::string target, std::string accept,
    std::chrono::milliseconds timeout, std::size_t body_limit) {
  const std::string upstream_accept = fanout::json_only_accept(accept);
  if (upstream_accept.empty()) {
    co_return refuse(406, "the sidecar merges discovery from " +
                              std::to_string(table.targets.size()) +
                              " clusters into JSON; the request accepts "
                              "only " +
                              accept + " (accept application/json)");
  }
  const std::string key =
      table.policy + "\n" + table.version + "\n" + target + "\n" + accept;
  const auto now = std::chrono::steady_clock::now();
  if (const auto* hit = cache.find(key, now)) co_return *hit;

  std::vector<std::string> names;
  std::vector<asio::awaitable<target_answer>> asks;
  for (const auto& spec : table.targets) {
    names.push_back(spec.name);
    auto up = upstreams.get(spec);
    std::string path = target;
    std::string accept_copy = upstream_accept;
    asks.push_back(get_json(std::move(up), std::move(path),
                            std::move(accept_copy), timeout, body_limit));
  }
  std::vector<target_answer> answers = co_await gather(std::move(asks));
  discovery_answer answer = merge(answers, names, target);
  // Failures are not cached: the next request tries again.
  if (answer.status == 200) cache.store(key, answer, now);
  co_return answer;
}

}  // namespace mca::sidecar
