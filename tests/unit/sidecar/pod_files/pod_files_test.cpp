#include "sidecar/pod_files/pod_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::sidecar {
namespace {

namespace fs = std::filesystem;

constexpr auto mode_0644 = fs::perms::owner_read | fs::perms::owner_write |
                           fs::perms::group_read | fs::perms::others_read;

class PodFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    root_ = fs::temp_directory_path() /
            ("mca-pod-files-test-" + std::to_string(random()));
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  fs::path root_;
};

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

pod_files sample() {
  return {
      .ca_crt =
          "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
      .namespace_name = "team-a",
      .token = "mca-sidecar.placeholder",
  };
}

TEST_F(PodFiles, WritesTheThreeFilesReadableByTheApp) {
  // As the emptyDir mount would be, several levels deep and not there yet.
  const auto dir = root_ / "var/run/secrets/kubernetes.io/serviceaccount";
  const auto r = write_pod_files(dir, sample());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_THAT(entries(dir),
              ::testing::ElementsAre("ca.crt", "namespace", "token"));
  EXPECT_EQ(read(dir / "ca.crt"), sample().ca_crt);
  // No trailing newline: client-go uses the namespace file verbatim.
  EXPECT_EQ(read(dir / "namespace"), "team-a");
  EXPECT_EQ(read(dir / "token"), "mca-sidecar.placeholder");
  for (const char* name : {"ca.crt", "namespace", "token"}) {
    EXPECT_EQ(fs::status(dir / name).permissions(), mode_0644) << name;
  }
}

TEST_F(PodFiles, RewritingReplacesTheFiles) {
  ASSERT_TRUE(write_pod_files(root_, sample()));
  pod_files next = sample();
  next.ca_crt = "new CA";
  next.namespace_name = "team-b";
  next.token = make_placeholder_token();
  ASSERT_TRUE(write_pod_files(root_, next));
  EXPECT_EQ(read(root_ / "ca.crt"), "new CA");
  EXPECT_EQ(read(root_ / "namespace"), "team-b");
  EXPECT_EQ(read(root_ / "token"), next.token);
  EXPECT_THAT(entries(root_),
              ::testing::ElementsAre("ca.crt", "namespace", "token"));
}

TEST_F(PodFiles, CaCrtIsWrittenLast) {
  // ca.crt cannot be written (a non-empty directory is in its place): the
  // other two are already there, and the error names ca.crt.
  fs::create_directories(root_ / "ca.crt" / "blocker");
  const auto r = write_pod_files(root_, sample());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message,
              ::testing::HasSubstr((root_ / "ca.crt").string()));
  EXPECT_EQ(read(root_ / "namespace"), "team-a");
  EXPECT_EQ(read(root_ / "token"), "mca-sidecar.placeholder");
  EXPECT_THAT(entries(root_),
              ::testing::ElementsAre("ca.crt", "namespace", "token"));
}

TEST_F(PodFiles, TokenIsWrittenBeforeCaCrtAfterNamespace) {
  fs::create_directories(root_ / "token" / "blocker");
  const auto r = write_pod_files(root_, sample());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message,
              ::testing::HasSubstr((root_ / "token").string()));
  EXPECT_EQ(read(root_ / "namespace"), "team-a");
  EXPECT_FALSE(fs::exists(root_ / "ca.crt"));
}

TEST_F(PodFiles, DirectoryThatCannotBeCreatedIsNamed) {
  std::ofstream(root_ / "a-file") << "x";
  const auto dir = root_ / "a-file" / "serviceaccount";
  const auto r = write_pod_files(dir, sample());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, ::testing::HasSubstr(dir.string()));
}

TEST(PlaceholderToken, IsPrefixedBase64UrlOf256Bits) {
  const std::string prefix = "mca-sidecar.";
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    const auto token = make_placeholder_token();
    ASSERT_EQ(token.size(), prefix.size() + 43) << token;
    EXPECT_EQ(token.substr(0, prefix.size()), prefix);
    const auto body = token.substr(prefix.size());
    EXPECT_EQ(body.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "abcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos)
        << token;
    // 256 bits in 43 characters leave the last one with 4 bits: it is one
    // of the 16 characters whose low 2 bits are zero.
    EXPECT_NE(std::string("AEIMQUYcgkosw048").find(body.back()),
              std::string::npos)
        << token;
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 64U);
}

}  // namespace
}  // namespace mca::sidecar
