#include "sidecar/routes/routes_file_watcher.hpp"

#include <utility>

#include <sys/stat.h>

#include "common/util/text_file.hpp"

namespace mca::sidecar {
namespace {

// A routing table is small; anything this large is a mistake, not a table.
constexpr std::size_t max_routes_file_bytes = std::size_t{8} * 1024 * 1024;

}  // namespace

routes_file_watcher::routes_file_watcher(
    const boost::asio::any_io_executor& executor, std::filesystem::path path,
    table_source& tables, std::chrono::milliseconds interval, log_fn log)
    : timer_(executor),
      path_(std::move(path)),
      tables_(tables),
      interval_(interval),
      log_(std::move(log)) {}

routes_file_watcher::file_stamp routes_file_watcher::stamp() const {
  file_stamp s;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    s.size = static_cast<std::uintmax_t>(st.st_size);
    s.inode = static_cast<std::uintmax_t>(st.st_ino);
  }
  std::error_code ec;
  s.mtime = std::filesystem::last_write_time(path_, ec);
  return s;
}

mca::result<void> routes_file_watcher::load_now() {
  last_stamp_ = stamp();
  auto text = util::read_text_file(path_, max_routes_file_bytes);
  if (!text) return text.error();
  auto table = routing::routing_table::parse(*text, path_.string());
  if (!table) return table.error();
  last_text_ = std::move(*text);
  tables_.install(std::move(*table), "file " + path_.string());
  return {};
}

void routes_file_watcher::start() { schedule(); }

void routes_file_watcher::stop() {
  stopped_ = true;
  timer_.cancel();
}

void routes_file_watcher::schedule() {
  if (stopped_) return;
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    poll();
    schedule();
  });
}

void routes_file_watcher::poll() {
  const auto now = stamp();
  if (now == last_stamp_) return;
  last_stamp_ = now;
  auto text = util::read_text_file(path_, max_routes_file_bytes);
  auto keep = [&](const std::string& why) {
    const auto in_force = tables_.current();
    const std::string msg = "routes: keeping version " +
                            (in_force ? in_force->version : "none") +
                            " in force: " + why;
    tables_.set_last_error(why);
    log_(msg);
  };
  if (!text) {
    // Forget the text: when the file comes back, even unchanged, it must be
    // judged again so that this error does not outlive the outage.
    last_text_.clear();
    keep(text.error().message);
    return;
  }
  if (*text == last_text_) return;
  auto table = routing::routing_table::parse(*text, path_.string());
  if (!table) {
    // Remember the bad text so the same error is not logged every second.
    last_text_ = std::move(*text);
    keep(table.error().message);
    return;
  }
  last_text_ = std::move(*text);
  const std::string version = table->version;
  tables_.install(std::move(*table), "file " + path_.string());
  log_("routes: loaded version " + version + " from " + path_.string());
}

}  // namespace mca::sidecar
