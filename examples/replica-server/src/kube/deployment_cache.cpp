#include "kube/deployment_cache.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "common/kube/resource.hpp"
#include "kube/cache_log.hpp"

namespace replica_server {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// How often complete lists are looked for. The informer has no callback
// for them; a list takes far longer than this anyway.
constexpr std::chrono::milliseconds list_poll{250};

mca::kube::informer_options cache_options() {
  mca::kube::informer_options o;
  o.namespace_name = "";  // every namespace
  o.page_size = 500;
  return o;
}

// The summary of an object the cache handed us, or one naming it as well
// as we can: handlers must never throw into the informer.
deployment_summary summary_of(const nlohmann::json& object) {
  if (auto s = summarize(object)) return *std::move(s);
  deployment_summary unknown;
  unknown.namespace_name = "?";
  unknown.name = "?";
  return unknown;
}

}  // namespace

deployment_cache::deployment_cache(mca::kube::rest_client& client)
    : informer_(
          client, mca::kube::resources::deployments(), cache_options(),
          mca::kube::informer_handlers{
              [](const nlohmann::json& object) {
                spdlog::info("{}", added_line(summary_of(object)));
              },
              [](const nlohmann::json& old_object,
                 const nlohmann::json& new_object) {
                const auto before = summary_of(old_object);
                const auto now = summary_of(new_object);
                if (auto line = replicas_changed_line(before, now)) {
                  spdlog::info("{}", *line);
                } else {
                  spdlog::debug("informer: deployment {}/{} updated",
                                now.namespace_name, now.name);
                }
              },
              [](const nlohmann::json& object) {
                spdlog::info("{}", deleted_line(summary_of(object)));
              },
              [this](const mca::error& e) {
                last_error_ = e.message;
                spdlog::warn(
                    "informer: listing or watching deployments failed: {}; "
                    "retrying with backoff",
                    e.message);
              }}) {}

asio::awaitable<void> deployment_cache::run() {
  using namespace asio::experimental::awaitable_operators;
  // Both end on stop().
  co_await (informer_.run() && report_lists());
}

void deployment_cache::stop() {
  stopping_ = true;
  informer_.stop();
  if (timer_) timer_->cancel();
}

asio::awaitable<void> deployment_cache::report_lists() {
  timer_ =
      std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  while (!stopping_) {
    const std::uint64_t lists = informer_.list_count();
    if (lists != lists_reported_) {
      lists_reported_ = lists;
      last_error_.clear();
      spdlog::info("{}", listed_line(lists, informer_.store().size()));
    }
    timer_->expires_after(list_poll);
    co_await timer_->async_wait(use_tuple);
  }
}

bool deployment_cache::synced() const { return informer_.has_synced(); }

std::string deployment_cache::sync_problem() const {
  if (!last_error_.empty()) return "the last list failed: " + last_error_;
  return "the first list of deployments has not completed";
}

std::optional<deployment_summary> deployment_cache::find(
    const std::string& namespace_name, const std::string& name) const {
  auto object = informer_.store().get(namespace_name + "/" + name);
  if (!object) return std::nullopt;
  return summarize(*object);
}

std::vector<deployment_summary> deployment_cache::list() const {
  std::vector<deployment_summary> out;
  for (const auto& object : informer_.store().list()) {
    if (auto s = summarize(*object)) out.push_back(*std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const deployment_summary& a, const deployment_summary& b) {
              return std::tie(a.namespace_name, a.name) <
                     std::tie(b.namespace_name, b.name);
            });
  return out;
}

}  // namespace replica_server
