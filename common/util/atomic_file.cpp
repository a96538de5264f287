#include "common/util/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <random>
#include <string>
#include <system_error>

#include <sys/stat.h>

#include "common/util/strings.hpp"

namespace mca::util {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int err) { return std::generic_category().message(err); }

error failure(const fs::path& path, std::string_view what, int err) {
  std::string message = "writing ";
  message += quote(path.string());
  message += ": ";
  message += what;
  message += ": ";
  message += errno_text(err);
  return error::of(error_source::config, std::move(message));
}

// Closes on every path out; close() is called explicitly where its result
// matters (after writing), so its error is not lost.
class unique_fd {
 public:
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  unique_fd(unique_fd&&) = delete;
  unique_fd& operator=(unique_fd&&) = delete;
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }

  // Returns 0 or the errno of close().
  int close() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Removes the temporary file unless the rename consumed it.
class temp_file_guard {
 public:
  explicit temp_file_guard(fs::path path) : path_(std::move(path)) {}
  temp_file_guard(const temp_file_guard&) = delete;
  temp_file_guard& operator=(const temp_file_guard&) = delete;
  temp_file_guard(temp_file_guard&&) = delete;
  temp_file_guard& operator=(temp_file_guard&&) = delete;
  ~temp_file_guard() {
    if (armed_) ::unlink(path_.c_str());
  }

  void dismiss() noexcept { armed_ = false; }

 private:
  fs::path path_;
  bool armed_ = true;
};

// Hidden and unique: readers that list the directory (or look for a fixed
// name, as a Kubernetes client does) never pick it up, and two writers of
// the same target never share one.
fs::path temp_name_for(const fs::path& path, std::random_device& random) {
  constexpr std::string_view digits = "0123456789abcdef";
  std::string name = "." + path.filename().string() + ".tmp-";
  for (int word = 0; word < 2; ++word) {
    std::uint32_t bits = random();
    for (int i = 0; i < 8; ++i, bits >>= 4U) name += digits[bits & 0xfU];
  }
  return path.parent_path() / name;
}

int write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

}  // namespace

mca::result<void> write_file_atomically(const fs::path& path,
                                        std::string_view content,
                                        fs::perms mode) {
  if (path.filename().empty()) {
    return error::of(error_source::config,
                     "writing " + quote(path.string()) + ": not a file name");
  }
  const auto mode_bits = static_cast<mode_t>(mode & fs::perms::mask);
  std::random_device random;
  fs::path temp;
  int fd = -1;
  // O_EXCL refuses a name that exists; another random name almost surely
  // does not, so a few tries are plenty.
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    temp = temp_name_for(path, random);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                mode_bits);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    return failure(path, "creating a temporary file in its directory", errno);
  }
  unique_fd file(fd);
  temp_file_guard guard(temp);

  // open() applied the umask; the caller asked for exactly `mode`.
  if (::fchmod(file.get(), mode_bits) != 0) {
    return failure(path, "setting the mode", errno);
  }
  if (const int err = write_all(file.get(), content); err != 0) {
    return failure(path, "writing the temporary file", err);
  }
  // Data before the rename: otherwise a crash could leave the new name
  // pointing at an empty or partial file.
  if (::fsync(file.get()) != 0) {
    return failure(path, "syncing the temporary file", errno);
  }
  if (const int err = file.close(); err != 0) {
    return failure(path, "closing the temporary file", err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return failure(path, "renaming the temporary file over it", errno);
  }
  guard.dismiss();

  const fs::path dir =
      path.parent_path().empty() ? fs::path(".") : path.parent_path();
  unique_fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) {
    return failure(path, "opening its directory to sync the rename", errno);
  }
  if (::fsync(dir_fd.get()) != 0) {
    return failure(path, "syncing its directory after the rename", errno);
  }
  return {};
}

}  // namespace mca::util
