#pragma once

#include <filesystem>
#include <string_view>

#include "common/core/error.hpp"

namespace mca::util {

// Replaces `path` so that a reader sees either the old file or the whole new
// one, never a prefix, and the new one survives a crash once this returns:
// the content goes to a fresh temporary file in the same directory (same
// filesystem, so the rename is atomic), is fsynced, renamed over `path`, and
// the directory is fsynced so the rename itself is durable.
//
// The file gets exactly `mode` (the umask does not apply). On failure the
// temporary file is removed and the error (source config) names the path and
// the system's reason. The directory must exist.
mca::result<void> write_file_atomically(const std::filesystem::path& path,
                                        std::string_view content,
                                        std::filesystem::perms mode);

}  // namespace mca::util
