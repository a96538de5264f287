#include "sidecar/routes/routes_file_watcher.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/routing/routing_table.hpp"
#include "sidecar/routes/table_source.hpp"

namespace mca::sidecar {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr auto poll_interval = 10ms;
// Generous: a loaded CI machine may run a poll late, never this late.
constexpr auto patience = 10s;

// A valid table; `policy` changes its content and so its version.
std::string valid_table(const std::string& policy) {
  return R"(apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
policy: )" +
         policy + R"(
targets:
  - name: home
    server: https://10.0.0.1:443
    credentials: {local: {}}
  - name: west
    server: https://west.example.com:6443
    credentials:
      token: {file: /etc/mca/west/token}
defaultTarget: home
rules:
  - name: west-by-label
    match:
      resources: [{group: "", resource: configmaps}]
      labelSelector: {matchLabels: {cluster: west}}
    target: west
)";
}

// Parses, but names a target that does not exist.
std::string invalid_table() {
  return valid_table("broken") + "  - {name: to-nowhere, target: nowhere}\n";
}

std::string version_of(const std::string& text) {
  auto t = routing::routing_table::parse(text);
  EXPECT_TRUE(t.has_value()) << t.error().message;
  return t ? t->version : "";
}

struct change {
  std::string old_version;  // "" for a null old table
  std::string new_version;
  bool new_is_current = false;
};

class RoutesFileWatcher : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("mca-routes-watcher-test-" + std::to_string(random()));
    fs::create_directories(dir_);
    path_ = dir_ / "routes.yaml";
    tables_.on_change([this](const table_source::table_ptr& old_table,
                             const table_source::table_ptr& new_table) {
      EXPECT_NE(new_table, nullptr);
      changes_.push_back({old_table ? old_table->version : "",
                          new_table ? new_table->version : "",
                          new_table == tables_.current()});
    });
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  routes_file_watcher make_watcher() {
    return {io_.get_executor(), path_, tables_, poll_interval,
            [this](const std::string& line) { log_.push_back(line); }};
  }

  // Replaces the file as a ConfigMap update or an editor would: a new
  // file renamed over the old one.
  void write(const std::string& text) const {
    const fs::path tmp = dir_ / "routes.yaml.tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
    }
    fs::rename(tmp, path_);
  }

  // Runs the io_context until `done` holds, for at most `patience`.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_for(poll_interval);
    }
    return true;
  }

  // Runs the io_context for `n` poll intervals.
  void run_polls(int n) {
    if (io_.stopped()) io_.restart();
    io_.run_for(poll_interval * n);
  }

  std::string current_version() const {
    const auto t = tables_.current();
    return t ? t->version : "";
  }

  bool logged(const std::string& needle) const {
    for (const auto& line : log_) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  fs::path dir_;
  fs::path path_;
  boost::asio::io_context io_;
  table_source tables_;
  std::vector<change> changes_;
  std::vector<std::string> log_;
};

TEST_F(RoutesFileWatcher, LoadNowInstallsTheTable) {
  const std::string text = valid_table("team-a/v1");
  write(text);
  auto watcher = make_watcher();
  const auto before = std::chrono::system_clock::now();
  const auto r = watcher.load_now();
  ASSERT_TRUE(r) << r.error().message;

  const auto t = tables_.current();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->policy, "team-a/v1");
  // No `version` in the file: the content hash.
  EXPECT_EQ(t->version, version_of(text));
  EXPECT_EQ(t->version.size(), 16U);
  EXPECT_EQ(t->version.find_first_not_of("0123456789abcdef"),
            std::string::npos);
  ASSERT_EQ(changes_.size(), 1U);
  EXPECT_EQ(changes_[0].old_version, "");  // null old table
  EXPECT_EQ(changes_[0].new_version, t->version);
  EXPECT_TRUE(changes_[0].new_is_current);
  EXPECT_THAT(tables_.last_error(), IsEmpty());
  EXPECT_GE(tables_.loaded_at(), before);
}

TEST_F(RoutesFileWatcher, AnExplicitVersionIsKept) {
  write(valid_table("p") + "version: v42\n");
  auto watcher = make_watcher();
  ASSERT_TRUE(watcher.load_now());
  EXPECT_EQ(current_version(), "v42");
}

TEST_F(RoutesFileWatcher, LoadNowOfAMissingFileFailsNamingThePath) {
  auto watcher = make_watcher();
  const auto r = watcher.load_now();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, HasSubstr(path_.string()));
  EXPECT_EQ(tables_.current(), nullptr);
  EXPECT_TRUE(changes_.empty());
}

TEST_F(RoutesFileWatcher, LoadNowOfAnInvalidFileFailsNamingPathAndProblem) {
  write(invalid_table());
  auto watcher = make_watcher();
  const auto r = watcher.load_now();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message,
              AllOf(HasSubstr(path_.string()),
                    HasSubstr(R"(unknown target "nowhere")")));
  EXPECT_EQ(tables_.current(), nullptr);
  EXPECT_TRUE(changes_.empty());
}

TEST_F(RoutesFileWatcher, SwapsInAChangedTable) {
  const std::string v1 = version_of(valid_table("team-a/v1"));
  const std::string v2 = version_of(valid_table("team-a/v2"));
  ASSERT_NE(v1, v2);
  write(valid_table("team-a/v1"));
  auto watcher = make_watcher();
  ASSERT_TRUE(watcher.load_now());
  watcher.start();

  write(valid_table("team-a/v2"));
  ASSERT_TRUE(run_until([&] { return changes_.size() >= 2; }))
      << "the change was never picked up";
  EXPECT_EQ(current_version(), v2);
  EXPECT_EQ(tables_.current()->policy, "team-a/v2");
  EXPECT_EQ(changes_[1].old_version, v1);
  EXPECT_EQ(changes_[1].new_version, v2);
  EXPECT_TRUE(changes_[1].new_is_current);
  EXPECT_THAT(tables_.last_error(), IsEmpty());
  EXPECT_TRUE(logged("loaded version " + v2)) << ::testing::PrintToString(log_);
  EXPECT_TRUE(logged(path_.string())) << ::testing::PrintToString(log_);

  // And once more, so it keeps polling after a swap.
  write(valid_table("team-a/v3"));
  ASSERT_TRUE(run_until([&] { return changes_.size() >= 3; }));
  EXPECT_EQ(changes_[2].old_version, v2);
  EXPECT_EQ(changes_[2].new_version, version_of(valid_table("team-a/v3")));
  watcher.stop();
}

TEST_F(RoutesFileWatcher, AnUnchangedTableIsNotInstalledAgain) {
  write(valid_table("team-a/v1"));
  auto watcher = make_watcher();
  ASSERT_TRUE(watcher.load_now());
  watcher.start();
  // A new file (new inode and mtime) with the same bytes.
  write(valid_table("team-a/v1"));
  run_polls(10);
  EXPECT_EQ(changes_.size(), 1U);
  EXPECT_THAT(tables_.last_error(), IsEmpty());
  watcher.stop();
}

TEST_F(RoutesFileWatcher, AnInvalidTableKeepsTheOldOneUntilFixed) {
  const std::string v1 = version_of(valid_table("team-a/v1"));
  write(valid_table("team-a/v1"));
  auto watcher = make_watcher();
  ASSERT_TRUE(watcher.load_now());
  watcher.start();

  write(invalid_table());
  ASSERT_TRUE(run_until([&] { return !tables_.last_error().empty(); }))
      << "the invalid table was never noticed";
  EXPECT_EQ(current_version(), v1);
  EXPECT_EQ(changes_.size(), 1U);
  EXPECT_THAT(tables_.last_error(),
              AllOf(HasSubstr(path_.string()),
                    HasSubstr(R"(unknown target "nowhere")")));
  EXPECT_TRUE(logged("keeping version " + v1))
      << ::testing::PrintToString(log_);

  // It stays in force on later polls, and the error stays.
  run_polls(5);
  EXPECT_EQ(current_version(), v1);
  EXPECT_EQ(changes_.size(), 1U);
  EXPECT_THAT(tables_.last_error(), HasSubstr("nowhere"));

  // A fixed file is installed and clears the error.
  const std::string v2 = version_of(valid_table("team-a/v2"));
  write(valid_table("team-a/v2"));
  ASSERT_TRUE(run_until([&] { return changes_.size() >= 2; }));
  EXPECT_EQ(current_version(), v2);
  EXPECT_EQ(changes_[1].old_version, v1);
  EXPECT_EQ(changes_[1].new_version, v2);
  EXPECT_THAT(tables_.last_error(), IsEmpty());
  watcher.stop();
}

TEST_F(RoutesFileWatcher, RevertingToTheTableInForceClearsTheError) {
  const std::string v1 = version_of(valid_table("team-a/v1"));
  write(valid_table("team-a/v1"));
  auto watcher = make_watcher();
  ASSERT_TRUE(watcher.load_now());
  watcher.start();

  write(invalid_table());
  ASSERT_TRUE(run_until([&] { return !tables_.last_error().empty(); }));
  write(valid_table("team-a/v1"));
  ASSERT_TRUE(run_until([&] { return tables_.last_error().empty(); }))
      << "still: " << tables_.last_error();
  EXPECT_EQ(current_version(), v1);
  watcher.stop();
}

TEST_F(RoutesFileWatcher, ADeletedFileKeepsTheTable) {
  const std::string v1 = version_of(valid_table("team-a/v1"));
  write(valid_table("team-a/v1"));
  auto watcher = make_watcher();
  ASSERT_TRUE(watcher.load_now());
  watcher.start();

  fs::remove(path_);
  ASSERT_TRUE(run_until([&] { return !tables_.last_error().empty(); }))
      << "the missing file was never noticed";
  EXPECT_EQ(current_version(), v1);
  EXPECT_EQ(changes_.size(), 1U);
  EXPECT_THAT(tables_.last_error(), HasSubstr(path_.string()));
  EXPECT_TRUE(logged("keeping version " + v1))
      << ::testing::PrintToString(log_);
  run_polls(5);
  EXPECT_EQ(current_version(), v1);

  // A new table written in its place is picked up.
  const std::string v2 = version_of(valid_table("team-a/v2"));
  write(valid_table("team-a/v2"));
  ASSERT_TRUE(run_until([&] { return changes_.size() >= 2; }));
  EXPECT_EQ(current_version(), v2);
  EXPECT_THAT(tables_.last_error(), IsEmpty());
  watcher.stop();
}

TEST_F(RoutesFileWatcher, RestoringADeletedFileClearsTheError) {
  // The file comes back with the very table in force (a ConfigMap volume
  // mid-swap, or an editor that deletes before it writes): nothing to swap,
  // but the table in force is the newest again, so no error may remain.
  const std::string v1 = version_of(valid_table("team-a/v1"));
  write(valid_table("team-a/v1"));
  auto watcher = make_watcher();
  ASSERT_TRUE(watcher.load_now());
  watcher.start();

  fs::remove(path_);
  ASSERT_TRUE(run_until([&] { return !tables_.last_error().empty(); }));
  write(valid_table("team-a/v1"));
  ASSERT_TRUE(run_until([&] { return tables_.last_error().empty(); }))
      << "still: " << tables_.last_error();
  EXPECT_EQ(current_version(), v1);
  watcher.stop();
}

TEST_F(RoutesFileWatcher, StopEndsPolling) {
  write(valid_table("team-a/v1"));
  auto watcher = make_watcher();
  ASSERT_TRUE(watcher.load_now());
  watcher.start();
  run_polls(2);
  watcher.stop();
  write(valid_table("team-a/v2"));
  run_polls(10);
  EXPECT_EQ(changes_.size(), 1U);
  // Nothing is left to run: the timer was cancelled, not re-armed.
  if (io_.stopped()) io_.restart();
  EXPECT_LE(io_.run_for(1s), 1U);
  EXPECT_TRUE(io_.stopped());
}

TEST(TableSource, StartsEmptyAndKeepsTheLastError) {
  table_source tables;
  EXPECT_EQ(tables.current(), nullptr);
  EXPECT_THAT(tables.last_error(), IsEmpty());
  tables.set_last_error("routes.yaml: bad");
  EXPECT_EQ(tables.last_error(), "routes.yaml: bad");

  auto t = routing::routing_table::parse(valid_table("p"));
  ASSERT_TRUE(t.has_value());
  const std::string version = t->version;
  int calls = 0;
  tables.on_change([&](const table_source::table_ptr& old_table,
                       const table_source::table_ptr& new_table) {
    ++calls;
    EXPECT_EQ(old_table, nullptr);
    ASSERT_NE(new_table, nullptr);
    EXPECT_EQ(new_table->version, version);
  });
  // A request that took the snapshot before a swap keeps it.
  tables.install(std::move(*t));
  const auto snapshot = tables.current();
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(tables.last_error(), IsEmpty());  // a good install clears it

  tables.on_change({});
  auto t2 = routing::routing_table::parse(valid_table("q"));
  ASSERT_TRUE(t2.has_value());
  tables.install(std::move(*t2));
  EXPECT_EQ(snapshot->policy, "p");
  EXPECT_EQ(tables.current()->policy, "q");
}

}  // namespace
}  // namespace mca::sidecar
