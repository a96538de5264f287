// An exec credential plugin supplying a token the real API server accepts.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <sys/stat.h>

#include "tests/integration/kube/client_fixture.hpp"

namespace mca::test {
namespace {

namespace fs = std::filesystem;

class ExecPluginTest : public KubeClientTest {
 public:
  void SetUp() override {
    KubeClientTest::SetUp();
    dir_ = fs::temp_directory_path() / unique_name("mca-exec");
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A plugin that counts its runs and prints `first` on the first run and
  // the cluster's admin token (from testenv's token file) afterwards.
  fs::path write_plugin(const std::string& cluster, const std::string& first) {
    auto path = dir_ / "plugin.sh";
    std::ofstream(path)
        << "#!/bin/sh\n"
        << "n=$(cat " << (dir_ / "count").string()
        << " 2>/dev/null || echo 0); n=$((n+1)); echo $n > "
        << (dir_ / "count").string() << "\n"
        << "if [ $n -eq 1 ] && [ -n \"" << first << "\" ]; then tok=\"" << first
        << "\"; else tok=$(cat " << env_.at(cluster).token_file.string()
        << "); fi\n"
        << "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
           "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' "
           "\"$tok\"\n";
    fs::permissions(path, fs::perms::owner_all);
    return path;
  }

  int runs() {
    std::ifstream in(dir_ / "count");
    int n = 0;
    in >> n;
    return n;
  }

  kube::client_config with_plugin(const std::string& cluster,
                                  const fs::path& plugin) {
    auto config = config_for(cluster);
    config.auth = {};
    kube::exec_config exec;
    exec.api_version = "client.authentication.k8s.io/v1";
    exec.command = plugin.string();
    config.auth.exec = exec;
    return config;
  }

  fs::path dir_;
};

TEST_F(ExecPluginTest, TokenFromThePluginIsAccepted) {
  auto client = client_for(with_plugin("east", write_plugin("east", "")));
  auto r = run(client.get(kube::resources::namespaces(), "", "default"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["metadata"]["name"], "default");
  ASSERT_TRUE(run(client.get(kube::resources::namespaces(), "", "default")));
  EXPECT_EQ(runs(), 1) << "the credential was not cached";
}

TEST_F(ExecPluginTest, PluginRunsAgainAfterA401) {
  auto client =
      client_for(with_plugin("east", write_plugin("east", "revoked-token")));
  auto r = run(client.get(kube::resources::namespaces(), "", "default"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(runs(), 2);
}

}  // namespace
}  // namespace mca::test
