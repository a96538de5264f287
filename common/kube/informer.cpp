#include "common/kube/informer.hpp"

#include <map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mca::kube {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string version_of(const nlohmann::json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return {};
  return meta->value("resourceVersion", "");
}

}  // namespace

informer::informer(rest_client& client, resource_ref resource,
                   informer_options options, informer_handlers handlers)
    : client_(client),
      resource_(std::move(resource)),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      backoff_(options_.retry) {}

void informer::stop() {
  stopping_ = true;
  if (active_watch_ != nullptr) active_watch_->close();
  if (timer_) timer_->cancel();
  if (resync_timer_) resync_timer_->cancel();
}

asio::awaitable<void> informer::sleep(std::chrono::milliseconds d) {
  if (!timer_) {
    timer_ = std::make_unique<asio::steady_timer>(
        co_await asio::this_coro::executor);
  }
  timer_->expires_after(d);
  co_await timer_->async_wait(use_tuple);
}

asio::awaitable<void> informer::run() {
  using namespace asio::experimental::awaitable_operators;
  // Both loops end on stop(); run() returns only when neither can touch
  // `this` any more.
  if (options_.resync_period.count() > 0) {
    co_await (list_watch_loop() && resync_loop());
  } else {
    co_await list_watch_loop();
  }
}

asio::awaitable<void> informer::list_watch_loop() {
  while (!stopping_) {
    if (need_list_) {
      auto listed = co_await list_and_replace();
      if (!listed) {
        if (stopping_) break;
        if (handlers_.on_error) handlers_.on_error(listed.error());
        co_await sleep(backoff_.next());
        continue;
      }
    }
    auto watched = co_await watch_from_last_version();
    if (stopping_) break;
    if (!watched) {
      if (watched.error().is_api(410)) {
        // Our version was compacted away: only a fresh list can tell us
        // what changed meanwhile.
        need_list_ = true;
      }
      if (handlers_.on_error) handlers_.on_error(watched.error());
      co_await sleep(backoff_.next());
    }
  }
}

asio::awaitable<result<void>> informer::list_and_replace() {
  std::map<std::string, object_ptr> items;
  list_options opts;
  opts.label_selector = options_.label_selector;
  opts.field_selector = options_.field_selector;
  opts.limit = options_.page_size;
  std::string version;
  do {
    auto page = co_await client_.list(resource_, options_.namespace_name, opts);
    if (!page) co_return page.error();
    const auto& meta = (*page)["metadata"];
    version = meta.value("resourceVersion", "");
    opts.continue_token = meta.value("continue", "");
    for (auto& item : (*page)["items"]) {
      // Items of a list carry no kind; handlers expect whole objects.
      auto object = std::make_shared<nlohmann::json>(std::move(item));
      items[object_key(*object)] = std::move(object);
    }
  } while (!opts.continue_token.empty());

  // Tell handlers what the new list changed, as if it had been watched.
  auto old = store_.replace(items);
  for (const auto& [key, object] : items) {
    auto it = old.find(key);
    if (it == old.end()) {
      if (handlers_.on_add) handlers_.on_add(*object);
    } else if (version_of(*it->second) != version_of(*object)) {
      if (handlers_.on_update) handlers_.on_update(*it->second, *object);
    }
  }
  for (const auto& [key, object] : old) {
    if (items.find(key) == items.end() && handlers_.on_delete) {
      handlers_.on_delete(*object);
    }
  }
  resource_version_ = version;
  need_list_ = false;
  ++lists_;
  synced_ = true;
  co_return result<void>{};
}

asio::awaitable<result<void>> informer::watch_from_last_version() {
  watch_options opts;
  opts.label_selector = options_.label_selector;
  opts.field_selector = options_.field_selector;
  opts.resource_version = resource_version_;
  opts.allow_bookmarks = true;
  opts.timeout_seconds = options_.watch_timeout_seconds;
  auto w = co_await client_.watch(resource_, options_.namespace_name, opts);
  if (!w) co_return w.error();
  active_watch_ = w->get();
  struct clear_on_exit {
    watch_stream*& slot;
    ~clear_on_exit() { slot = nullptr; }
  } guard{active_watch_};
  // stop() may have come while the watch was being set up.
  while (!stopping_) {
    auto event = co_await (*w)->next();
    if (!event) co_return event.error();
    if (!*event) co_return result<void>{};  // server ended it: resume
    backoff_.reset();
    apply(**event);
  }
  co_return result<void>{};
}

void informer::apply(const watch_event& event) {
  const auto version = version_of(event.object);
  if (!version.empty()) resource_version_ = version;
  switch (event.type) {
    case watch_event_type::bookmark:
    case watch_event_type::error:
      return;
    case watch_event_type::added:
    case watch_event_type::modified: {
      auto object = std::make_shared<const nlohmann::json>(event.object);
      auto old = store_.upsert(object_key(*object), object);
      if (!old) {
        if (handlers_.on_add) handlers_.on_add(*object);
      } else if (handlers_.on_update) {
        handlers_.on_update(*old, *object);
      }
      return;
    }
    case watch_event_type::deleted: {
      store_.erase(object_key(event.object));
      if (handlers_.on_delete) handlers_.on_delete(event.object);
      return;
    }
  }
}

asio::awaitable<void> informer::resync_loop() {
  resync_timer_ =
      std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  while (!stopping_) {
    resync_timer_->expires_after(options_.resync_period);
    auto [ec] = co_await resync_timer_->async_wait(use_tuple);
    if (ec || stopping_) break;
    if (!synced_ || !handlers_.on_update) continue;
    for (const auto& object : store_.list()) {
      handlers_.on_update(*object, *object);
    }
  }
}

}  // namespace mca::kube
