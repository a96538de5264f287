#include "common/util/atomic_file.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::util {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto mode_0644 = fs::perms::owner_read | fs::perms::owner_write |
                           fs::perms::group_read | fs::perms::others_read;
constexpr auto mode_0600 = fs::perms::owner_read | fs::perms::owner_write;

// A fresh directory per test, removed afterwards.
class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("mca-atomic-file-test-" + std::to_string(random()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
};

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(AtomicFile, WritesContentWithExactlyTheMode) {
  const auto path = dir_ / "token";
  std::string content = "line one\n";
  content += std::string(1, '\0');  // binary-safe
  content += "tail";
  ASSERT_TRUE(write_file_atomically(path, content, mode_0600));
  EXPECT_EQ(read(path), content);
  EXPECT_EQ(fs::status(path).permissions(), mode_0600);

  // Even bits the usual umask (022) would strip.
  const auto group_writable = mode_0644 | fs::perms::group_write;
  ASSERT_TRUE(write_file_atomically(dir_ / "shared", "x", group_writable));
  EXPECT_EQ(fs::status(dir_ / "shared").permissions(), group_writable);

  EXPECT_THAT(entries(), ::testing::ElementsAre("shared", "token"));
}

TEST_F(AtomicFile, EmptyContentMakesAnEmptyFile) {
  ASSERT_TRUE(write_file_atomically(dir_ / "empty", "", mode_0644));
  EXPECT_TRUE(fs::exists(dir_ / "empty"));
  EXPECT_EQ(fs::file_size(dir_ / "empty"), 0U);
}

TEST_F(AtomicFile, ReplacesAnExistingFileAndItsMode) {
  const auto path = dir_ / "ca.crt";
  ASSERT_TRUE(write_file_atomically(path, "old content, longer", mode_0600));
  // A reader that opened the old file keeps reading the old content: the
  // name moves to a new inode instead of the old one being rewritten.
  std::ifstream old_reader(path, std::ios::binary);
  ASSERT_TRUE(write_file_atomically(path, "new", mode_0644));
  EXPECT_EQ(read(path), "new");
  EXPECT_EQ(fs::status(path).permissions(), mode_0644);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(old_reader),
                        std::istreambuf_iterator<char>()),
            "old content, longer");
  EXPECT_THAT(entries(), ::testing::ElementsAre("ca.crt"));
}

TEST_F(AtomicFile, AReaderSeesTheOldOrTheNewContentNeverAMix) {
  const auto path = dir_ / "contended";
  // Large enough that a non-atomic write would be seen half done.
  const std::string a(std::size_t{256} * 1024, 'a');
  const std::string b(std::size_t{256} * 1024 + 17, 'b');
  ASSERT_TRUE(write_file_atomically(path, a, mode_0644));

  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      const auto seen = read(path);
      if (seen != a && seen != b) ++torn;
      ++reads;
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + 500ms;
  int writes = 0;
  while (std::chrono::steady_clock::now() < deadline || writes < 20) {
    const auto r =
        write_file_atomically(path, writes % 2 == 0 ? b : a, mode_0644);
    ASSERT_TRUE(r) << r.error().message;
    ++writes;
  }
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);
  EXPECT_THAT(entries(), ::testing::ElementsAre("contended"));
}

TEST_F(AtomicFile, MissingDirectoryFailsNamingThePath) {
  const auto path = dir_ / "no-such-dir" / "namespace";
  const auto r = write_file_atomically(path, "default", mode_0644);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, ::testing::HasSubstr(path.string()));
  EXPECT_THAT(r.error().message,
              ::testing::HasSubstr("No such file or directory"));
  EXPECT_FALSE(fs::exists(dir_ / "no-such-dir"));
}

TEST_F(AtomicFile, FailedRenameLeavesNoTemporaryFileBehind) {
  // A non-empty directory where the file should go: everything up to the
  // rename succeeds, then the rename fails.
  const auto path = dir_ / "target";
  fs::create_directories(path / "inside");
  const auto r = write_file_atomically(path, "content", mode_0644);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, ::testing::HasSubstr(path.string()));
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("renaming"));
  EXPECT_THAT(entries(), ::testing::ElementsAre("target"));
  EXPECT_TRUE(fs::is_directory(path / "inside"));
}

TEST_F(AtomicFile, PathWithoutFileNameIsRejected) {
  const auto r = write_file_atomically(dir_ / "", "x", mode_0644);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("not a file name"));
  EXPECT_TRUE(entries().empty());
}

}  // namespace
}  // namespace mca::util
