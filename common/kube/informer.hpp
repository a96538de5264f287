#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/core/error.hpp"
#include "common/kube/object_store.hpp"
#include "common/kube/resource.hpp"
#include "common/kube/rest_client.hpp"
#include "common/util/backoff.hpp"

namespace mca::kube {

struct informer_options {
  std::string namespace_name;  // empty: all namespaces
  std::string label_selector;
  std::string field_selector;
  std::int64_t page_size = 500;
  // Re-deliver every cached object to on_update this often (0: never), so
  // level-triggered handlers repair what an earlier failure left undone.
  std::chrono::milliseconds resync_period{0};
  std::int64_t watch_timeout_seconds = 300;
  backoff::options retry;  // ~0.8 s doubling to 30 s, jittered
};

struct informer_handlers {
  std::function<void(const nlohmann::json&)> on_add;
  std::function<void(const nlohmann::json& old_object,
                     const nlohmann::json& new_object)>
      on_update;
  std::function<void(const nlohmann::json&)> on_delete;
  // Every failed list or watch, before the backoff wait.
  std::function<void(const error&)> on_error;
};

// List + watch of one resource into an object_store, as client-go's
// reflector and kube-rs's watcher do: list (paged) to a resourceVersion,
// watch from it with bookmarks, resume a watch that ends from the last
// version seen, relist on 410 Gone, back off (jittered, exponential) on
// failures. Handlers run on the informer's executor, in event order.
class informer {
 public:
  informer(rest_client& client, resource_ref resource,
           informer_options options = {}, informer_handlers handlers = {});

  // Runs until stop(). Spawn it on the rest_client's executor.
  boost::asio::awaitable<void> run();
  // Ends run() promptly. Call from the informer's executor.
  void stop();

  // True once the first complete list is in the store.
  bool has_synced() const noexcept { return synced_.load(); }
  const object_store& store() const noexcept { return store_; }
  // How many complete lists were taken (1 + relists), for tests and metrics.
  std::uint64_t list_count() const noexcept { return lists_.load(); }

 private:
  boost::asio::awaitable<void> list_watch_loop();
  boost::asio::awaitable<result<void>> list_and_replace();
  boost::asio::awaitable<result<void>> watch_from_last_version();
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);
  boost::asio::awaitable<void> resync_loop();
  void apply(const watch_event& event);

  rest_client& client_;
  resource_ref resource_;
  informer_options options_;
  informer_handlers handlers_;
  object_store store_;
  backoff backoff_;
  std::string resource_version_;
  bool need_list_ = true;
  bool stopping_ = false;
  watch_stream* active_watch_ = nullptr;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::unique_ptr<boost::asio::steady_timer> resync_timer_;
  std::atomic<bool> synced_{false};
  std::atomic<std::uint64_t> lists_{0};
};

}  // namespace mca::kube
