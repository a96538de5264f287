#pragma once

#include <string_view>

namespace mca {

// What was built: the project version and the commit it came from. Both
// binaries report these in --version, logs and the *_build_info metrics.
struct build_info {
  std::string_view version;
  std::string_view git_commit;
};

build_info current_build() noexcept;

}  // namespace mca
