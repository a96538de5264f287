#include "sidecar/routes/table_source.hpp"

#include <utility>

namespace mca::sidecar {

void table_source::install(routing::routing_table table) {
  auto fresh = std::make_shared<const routing::routing_table>(std::move(table));
  auto old = table_.exchange(fresh);
  change_handler handler;
  {
    std::lock_guard lock(mutex_);
    last_error_.clear();
    loaded_at_ = std::chrono::system_clock::now();
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

std::chrono::system_clock::time_point table_source::loaded_at() const {
  std::lock_guard lock(mutex_);
  return loaded_at_;
}

}  // namespace mca::sidecar
