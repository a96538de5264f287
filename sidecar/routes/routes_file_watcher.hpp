#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/core/error.hpp"
#include "sidecar/routes/table_source.hpp"

namespace mca::sidecar {

// Loads `--routes FILE` into a table_source and reloads it when the file
// changes. Polls (stat, then read and compare only when size, mtime or inode
// moved) rather than inotify: a ConfigMap volume updates by swapping a
// symlink two levels up, which inotify on the file does not see, and a poll
// every second costs one stat.
//
// A file that fails to load leaves the table in force untouched; the error
// goes to the log callback and to table_source::last_error().
class routes_file_watcher {
 public:
  using log_fn = std::function<void(const std::string&)>;

  routes_file_watcher(const boost::asio::any_io_executor& executor,
                      std::filesystem::path path, table_source& tables,
                      std::chrono::milliseconds interval, log_fn log);

  // The first load, at start-up: its error is the caller's to report.
  mca::result<void> load_now();
  // Starts polling (on the executor).
  void start();
  void stop();

 private:
  struct file_stamp {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type mtime{};
    std::uintmax_t inode = 0;
    bool operator==(const file_stamp&) const = default;
  };
  file_stamp stamp() const;
  void poll();
  void schedule();

  boost::asio::steady_timer timer_;
  std::filesystem::path path_;
  table_source& tables_;
  std::chrono::milliseconds interval_;
  log_fn log_;
  file_stamp last_stamp_;
  std::string last_text_;
  bool stopped_ = false;
};

}  // namespace mca::sidecar
