#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/routing/routing_table.hpp"

namespace mca::sidecar {

// The routing table in force: an immutable snapshot that proxy workers
// read with one atomic load per request and that a loader swaps whole.
// A request keeps the snapshot it started with, so a reload never changes
// the rules under a request in flight.
class table_source {
 public:
  using table_ptr = std::shared_ptr<const routing::routing_table>;
  // Called after every successful swap (on the loader's thread), with the
  // old table (null at first) and the new one.
  using change_handler =
      std::function<void(const table_ptr&, const table_ptr&)>;

  table_ptr current() const noexcept { return table_.load(); }

  // Puts `table` in force and remembers when, and where it came from
  // (`source`, e.g. "file /etc/mca/routes.yaml", shown by /routes).
  void install(routing::routing_table table, std::string source = {});
  void on_change(change_handler handler);

  // The last rejected update, kept until a good one arrives: "" when the
  // table in force is the newest.
  std::string last_error() const;
  void set_last_error(std::string message);
  std::chrono::system_clock::time_point loaded_at() const;
  // The `source` given with the table in force ("" if none was given).
  std::string source() const;

  // Why there is no table yet, said to the app in the 503 it gets until the
  // first table arrives: e.g. "waiting for the operator at HOST:PORT".
  // Kept after a table arrives but no longer shown.
  void set_waiting_reason(std::string reason);
  // "<reason> (last error: <last_error>)", or "" when no reason was set.
  std::string waiting_detail() const;
  // The text of that 503: "no routing table yet: " + waiting_detail(), or a
  // generic text when no reason was set.
  std::string unavailable_message() const;

 private:
  std::atomic<table_ptr> table_;
  mutable std::mutex mutex_;
  change_handler handler_;
  std::string last_error_;
  std::string waiting_reason_;
  std::string source_;
  std::chrono::system_clock::time_point loaded_at_{};
};

}  // namespace mca::sidecar
