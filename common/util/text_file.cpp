#include "common/util/text_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mca::util {

mca::result<std::string> read_text_file(const std::filesystem::path& path,
                                        std::size_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    return error::of(error_source::config,
                     "cannot read " + path.string() + ": " + ec.message());
  }
  if (size > max_bytes) {
    return error::of(error_source::config,
                     "cannot read " + path.string() + ": " +
                         std::to_string(size) + " bytes is more than the " +
                         std::to_string(max_bytes) + " allowed");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return error::of(error_source::config, "cannot read " + path.string() +
                                               ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mca::util
