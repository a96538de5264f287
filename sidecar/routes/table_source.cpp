#include "sidecar/routes/table_source.hpp"

#include <utility>

namespace mca::sidecar {

void table_source::install(routing::routing_table table, std::string source) {
  auto fresh = std::make_shared<const routing::routing_table>(std::move(table));
  auto old = table_.exchange(fresh);
  change_handler handler;
  {
    std::lock_guard lock(mutex_);
    last_error_.clear();
    loaded_at_ = std::chrono::system_clock::now();
    source_ = std::move(source);
    handler = handler_;
  }
  if (handler) handler(old, fresh);
}

void table_source::on_change(change_handler handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

std::string table_source::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void table_source::set_last_error(std::string message) {
  std::lock_guard lock(mutex_);
  last_error_ = std::move(message);
}

void table_source::set_waiting_reason(std::string reason) {
  std::lock_guard lock(mutex_);
  waiting_reason_ = std::move(reason);
}

std::string table_source::waiting_detail() const {
  std::lock_guard lock(mutex_);
  if (waiting_reason_.empty()) return {};
  std::string text = waiting_reason_;
  if (!last_error_.empty()) text += " (last error: " + last_error_ + ")";
  return text;
}

std::string table_source::unavailable_message() const {
  std::string detail = waiting_detail();
  if (detail.empty()) {
    return "no routing table is loaded yet; the sidecar fails closed";
  }
  return "no routing table yet: " + detail;
}

std::chrono::system_clock::time_point table_source::loaded_at() const {
  std::lock_guard lock(mutex_);
  return loaded_at_;
}

std::string table_source::source() const {
  std::lock_guard lock(mutex_);
  return source_;
}

}  // namespace mca::sidecar
