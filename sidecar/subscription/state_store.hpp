#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/error.hpp"
#include "common/routing/routing_table.hpp"

namespace mca::sidecar {

// The last good routing table the operator pushed, kept in the pod's
// emptyDir (`--state-dir`) so that a restarted sidecar serves at once,
// before (or without) the operator.
//
// The file holds the table exactly as the operator sent it: it parses to
// the same table and version. It carries credentials (tokens, client keys),
// so it is written with mode 0600, and atomically, so that a crash while
// saving leaves the old table or the new one, never half of one.
class state_store {
 public:
  explicit state_store(std::filesystem::path dir);

  // <dir>/routes.json
  const std::filesystem::path& file() const noexcept { return file_; }

  // Replaces the saved table with `table_json`. Creates the directory
  // (mode 0700) if it is missing. Errors name the file, never its content.
  mca::result<void> save(std::string_view table_json) const;

  struct loaded {
    std::optional<routing::routing_table> table;
    // Set when a file is there but cannot be used (unreadable, invalid): it
    // is ignored and the sidecar starts as if there were none.
    std::string warning;
  };
  // The saved table after full validation. No file: neither table nor
  // warning.
  loaded load() const;

 private:
  std::filesystem::path dir_;
  std::filesystem::path file_;
};

}  // namespace mca::sidecar
