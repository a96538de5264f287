#include "sidecar/subscription/state_store.hpp"

#include <system_error>
#include <utility>

#include "common/util/atomic_file.hpp"
#include "common/util/text_file.hpp"

namespace mca::sidecar {
namespace {

namespace fs = std::filesystem;

// As for `--routes FILE`: a routing table is small, and a huge file is a
// mistake that must not exhaust memory.
constexpr std::size_t max_state_bytes = std::size_t{8} * 1024 * 1024;

}  // namespace

state_store::state_store(fs::path dir)
    : dir_(std::move(dir)), file_(dir_ / "routes.json") {}

mca::result<void> state_store::save(std::string_view table_json) const {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) {
    if (!fs::create_directories(dir_, ec) && ec) {
      return error::of(error_source::config, "cannot create state directory " +
                                                 dir_.string() + ": " +
                                                 ec.message());
    }
    fs::permissions(dir_, fs::perms::owner_all, ec);
  }
  return util::write_file_atomically(
      file_, table_json, fs::perms::owner_read | fs::perms::owner_write);
}

state_store::loaded state_store::load() const {
  loaded out;
  std::error_code ec;
  if (!fs::exists(file_, ec) && !ec) return out;
  auto text = util::read_text_file(file_, max_state_bytes);
  if (!text) {
    out.warning = "ignoring the saved routing table: " + text.error().message;
    return out;
  }
  auto table = routing::routing_table::parse(*text, file_.string());
  if (!table) {
    out.warning = "ignoring the saved routing table: " + table.error().message;
    return out;
  }
  out.table = std::move(*table);
  return out;
}

}  // namespace mca::sidecar
