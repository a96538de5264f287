#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "common/core/error.hpp"

namespace mca::util {

// The whole file, or an error (source config) "cannot read <path>: <why>".
// Files larger than `max_bytes` are refused rather than read: every file MCA
// reads whole (routes, certificates, keys, tokens, bodies) is small, and a
// huge one is a mistake that must not exhaust memory.
mca::result<std::string> read_text_file(
    const std::filesystem::path& path,
    std::size_t max_bytes = std::size_t{64} * 1024 * 1024);

}  // namespace mca::util
