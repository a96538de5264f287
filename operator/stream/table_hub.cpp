#include "operator/stream/table_hub.hpp"

namespace mca::op {

void table_hub::publish(const std::string& pod_uid, std::string version,
                        std::shared_ptr<const std::string> json) {
  published table;
  std::vector<std::shared_ptr<stream_sink>> sinks;
  {
    const std::lock_guard lock(mutex_);
    table = published{++sequence_, std::move(version), std::move(json)};
    tables_[pod_uid] = table;
    const auto [first, last] = sinks_.equal_range(pod_uid);
    for (auto it = first; it != last; ++it) sinks.push_back(it->second);
  }
  for (const auto& sink : sinks) {
    sink->offer(table.sequence, table.version, table.json);
  }
}

void table_hub::remove(const std::string& pod_uid) {
  const std::lock_guard lock(mutex_);
  tables_.erase(pod_uid);
}

std::optional<table_hub::published> table_hub::table_for(
    const std::string& pod_uid) const {
  const std::lock_guard lock(mutex_);
  const auto it = tables_.find(pod_uid);
  if (it == tables_.end()) return std::nullopt;
  return it->second;
}

void table_hub::subscribe(const std::string& pod_uid,
                          std::shared_ptr<stream_sink> sink) {
  std::optional<published> table;
  std::size_t count = 0;
  {
    const std::lock_guard lock(mutex_);
    sinks_.emplace(pod_uid, sink);
    count = sinks_.size();
    if (const auto it = tables_.find(pod_uid); it != tables_.end()) {
      table = it->second;
    }
  }
  if (events_.on_connected) events_.on_connected(count);
  if (table) sink->offer(table->sequence, table->version, table->json);
}

void table_hub::unsubscribe(const std::string& pod_uid,
                            const stream_sink* sink) {
  std::size_t count = 0;
  {
    const std::lock_guard lock(mutex_);
    const auto [first, last] = sinks_.equal_range(pod_uid);
    for (auto it = first; it != last; ++it) {
      if (it->second.get() == sink) {
        sinks_.erase(it);
        break;
      }
    }
    count = sinks_.size();
  }
  if (events_.on_connected) events_.on_connected(count);
}

void table_hub::tick(std::chrono::steady_clock::time_point now) {
  std::vector<std::shared_ptr<stream_sink>> all;
  {
    const std::lock_guard lock(mutex_);
    all.reserve(sinks_.size());
    for (const auto& [uid, sink] : sinks_) all.push_back(sink);
  }
  for (const auto& sink : all) sink->tick(now);
}

std::size_t table_hub::connected() const {
  const std::lock_guard lock(mutex_);
  return sinks_.size();
}

void table_hub::report_nack(const sidecar_identity& who,
                            const std::string& version,
                            const std::string& error) const {
  if (events_.on_nack) events_.on_nack(who, version, error);
}

void table_hub::report_ack(std::chrono::nanoseconds offer_to_ack) const {
  if (events_.on_ack) events_.on_ack(offer_to_ack);
}

}  // namespace mca::op
