#include "common/util/text_file.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::util {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TextFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("mca-text-file-test-" + std::to_string(random()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path write(const std::string& name, const std::string& content) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  fs::path dir_;
};

TEST_F(TextFile, ReadsTheWholeFileByteForByte) {
  const std::string content("line one\nline\0two\r\n", 19);
  auto text = read_text_file(write("f", content));
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, content);
}

TEST_F(TextFile, EmptyFileIsEmptyText) {
  auto text = read_text_file(write("empty", ""));
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "");
}

TEST_F(TextFile, MissingFileNamesThePath) {
  auto text = read_text_file(dir_ / "absent.yaml");
  ASSERT_FALSE(text);
  EXPECT_THAT(text.error().message, HasSubstr("cannot read"));
  EXPECT_THAT(text.error().message, HasSubstr("absent.yaml"));
}

TEST_F(TextFile, DirectoryIsAnErrorNotEmptyText) {
  auto text = read_text_file(dir_);
  ASSERT_FALSE(text);
  EXPECT_THAT(text.error().message, HasSubstr(dir_.string()));
}

TEST_F(TextFile, FileOverTheLimitIsRefused) {
  const auto path = write("big", std::string(1025, 'x'));
  EXPECT_TRUE(read_text_file(path, 1025));
  auto text = read_text_file(path, 1024);
  ASSERT_FALSE(text);
  EXPECT_THAT(text.error().message, HasSubstr("big"));
  EXPECT_THAT(text.error().message, HasSubstr("1024"));
}

}  // namespace
}  // namespace mca::util
