#include "sidecar/subscription/state_store.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::sidecar {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string table_json(const std::string& version) {
  return R"({"apiVersion":"mca.x-k8s.io/v1alpha1","kind":"RoutingTable",)"
         R"("version":")" +
         version + R"(","policy":"default/p","targets":[{"name":"east",)" +
         R"("server":"https://east.example.com:6443","credentials":)" +
         R"({"token":{"value":"s3cr3t"}}}],"defaultTarget":"east"})";
}

class StateStore : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("mca-state-store-test-" + std::to_string(random()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void write(const std::string& text) const {
    std::ofstream(dir_ / "routes.json", std::ios::binary) << text;
  }
  fs::path dir_;
};

TEST_F(StateStore, NothingSavedIsNoTableAndNoWarning) {
  const auto loaded = state_store(dir_).load();
  EXPECT_FALSE(loaded.table.has_value());
  EXPECT_EQ(loaded.warning, "");
}

TEST_F(StateStore, RoundTrip) {
  const state_store store(dir_);
  EXPECT_EQ(store.file(), dir_ / "routes.json");
  ASSERT_TRUE(store.save(table_json("v1")).has_value());
  auto loaded = store.load();
  ASSERT_TRUE(loaded.table.has_value()) << loaded.warning;
  EXPECT_EQ(loaded.table->version, "v1");
  EXPECT_EQ(loaded.warning, "");

  ASSERT_TRUE(store.save(table_json("v2")).has_value());
  loaded = store.load();
  ASSERT_TRUE(loaded.table.has_value());
  EXPECT_EQ(loaded.table->version, "v2");
}

TEST_F(StateStore, FileIsOwnerOnly) {
  // It holds the targets' credentials.
  const state_store store(dir_);
  write("old");
  fs::permissions(store.file(), fs::perms::all);
  ASSERT_TRUE(store.save(table_json("v1")).has_value());
  EXPECT_EQ(fs::status(store.file()).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(StateStore, MissingDirectoryIsCreatedOwnerOnly) {
  const state_store store(dir_ / "a" / "b");
  ASSERT_TRUE(store.save(table_json("v1")).has_value());
  EXPECT_EQ(fs::status(dir_ / "a" / "b").permissions() & fs::perms::all,
            fs::perms::owner_all);
  EXPECT_TRUE(store.load().table.has_value());
}

TEST_F(StateStore, CorruptFileIsIgnoredWithAWarning) {
  write(R"({"apiVersion":"mca.x-k8s.io/v1alpha1","kind":)");
  const auto loaded = state_store(dir_).load();
  EXPECT_FALSE(loaded.table.has_value());
  EXPECT_THAT(loaded.warning,
              AllOf(HasSubstr("ignoring the saved routing table"),
                    HasSubstr((dir_ / "routes.json").string())));
}

TEST_F(StateStore, InvalidTableIsIgnoredWithAWarning) {
  write(R"({"apiVersion":"mca.x-k8s.io/v1alpha1","kind":"RoutingTable",)"
        R"("policy":"p","targets":[]})");
  const auto loaded = state_store(dir_).load();
  EXPECT_FALSE(loaded.table.has_value());
  EXPECT_THAT(loaded.warning, HasSubstr("targets: must not be empty"));
}

TEST_F(StateStore, SaveErrorNamesTheFileNotTheContent) {
  // A directory where the file should be: the rename cannot replace it.
  fs::create_directories(dir_ / "routes.json" / "x");
  const auto saved = state_store(dir_).save(table_json("v1"));
  ASSERT_FALSE(saved.has_value());
  EXPECT_THAT(saved.error().message, HasSubstr("routes.json"));
  EXPECT_THAT(saved.error().message, ::testing::Not(HasSubstr("s3cr3t")));
}

}  // namespace
}  // namespace mca::sidecar
