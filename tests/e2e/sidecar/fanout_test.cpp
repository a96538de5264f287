// A fan-out rule (`targets: [home, east, west]`) through the real sidecar:
// kubectl's lists span the three clusters, each item says where it lives,
// `kubectl get` shows a Cluster column, pages walk the clusters, and what
// is not served yet (merged watches) is refused with a Status rather than
// answered from one cluster. (Issue 7, first slice.)
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/sidecar_process.hpp"
#include "support/testenv.hpp"

namespace mca::test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class FanOut : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    env_ = new testenv(testenv::load(error));
    ASSERT_TRUE(error.empty()) << error;
    ns_ = new std::string(unique_name("mca-fan"));
    // Unevenly spread: 2 on home, 3 on east, 1 on west.
    const std::map<std::string, int> counts{
        {"home", 2}, {"east", 3}, {"west", 1}};
    for (const auto& [cluster, n] : counts) {
      env_->kubectl(cluster, {"create", "namespace", *ns_});
      for (int i = 0; i < n; ++i) {
        const std::string name = cluster + "-" + std::to_string(i);
        auto r = env_->kubectl(cluster, {"-n", *ns_, "create", "configmap",
                                         name, "--from-literal=k=v"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        r = env_->kubectl(cluster,
                          {"-n", *ns_, "label", "configmap", name, "fan=yes"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
      }
    }
  }
  static void TearDownTestSuite() {
    for (const char* cluster : {"home", "east", "west"}) {
      env_->kubectl(cluster, {"-n", *ns_, "delete", "configmaps", "-l",
                              "fan=yes", "--wait=false"});
    }
    delete env_;
  }

  static std::string routes(const std::string& partial) {
    return standard_routes(*env_) +
           "  - name: everywhere\n"
           "    match: {resources: [{resource: configmaps}], namespaces: [" +
           *ns_ + "]}\n    targets: [home, east, west]\n" + partial;
  }

  static inline testenv* env_ = nullptr;
  static inline std::string* ns_ = nullptr;
};

TEST_F(FanOut, AListSpansEveryClusterAndSaysWhereEachItemLives) {
  auto sidecar = sidecar_process::start(routes(""));
  auto r = kubectl_via(
      *env_, sidecar,
      {"-n", *ns_, "get", "configmaps", "-l", "fan=yes", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json list = json::parse(r.out);
  std::set<std::string> seen;
  for (const auto& item : list["items"]) {
    const std::string name = item["metadata"]["name"];
    const std::string cluster =
        item["metadata"]["annotations"]["mca.k8s.io/cluster"];
    EXPECT_EQ(name.substr(0, name.find('-')), cluster) << name;
    EXPECT_TRUE(seen.insert(name).second) << name << " twice";
  }
  EXPECT_EQ(seen, (std::set<std::string>{"home-0", "home-1", "east-0", "east-1",
                                         "east-2", "west-0"}));
}

TEST_F(FanOut, KubectlGetShowsAClusterColumn) {
  auto sidecar = sidecar_process::start(routes(""));
  auto r = kubectl_via(*env_, sidecar,
                       {"-n", *ns_, "get", "configmaps", "-l", "fan=yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("CLUSTER"));
  int rows = 0;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("NAME", 0) == 0 || line.empty()) continue;
    ++rows;
    const std::string name = line.substr(0, line.find(' '));
    EXPECT_THAT(line, HasSubstr(" " + name.substr(0, name.find('-')) + " "))
        << line;
  }
  EXPECT_EQ(rows, 6) << r.out;
}

TEST_F(FanOut, ACreateMatchedOnlyByTheFanOutRuleIsRefusedNamingIt) {
  auto sidecar = sidecar_process::start(routes(""));
  auto r = kubectl_via(*env_, sidecar,
                       {"-n", *ns_, "create", "configmap", "nowhere"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("rule everywhere"));
  EXPECT_THAT(r.err, HasSubstr("writeTarget"));
}

// kubectl follows continue tokens; pages of 2 walk home, east and west in
// order and every object comes exactly once.
TEST_F(FanOut, PagesWalkTheClustersAndReturnEveryObjectOnce) {
  auto sidecar = sidecar_process::start(routes(""));
  auto r = kubectl_via(*env_, sidecar,
                       {"-n", *ns_, "get", "configmaps", "-l", "fan=yes",
                        "--chunk-size=2", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::multiset<std::string> seen;
  const json list = json::parse(r.out);
  for (const auto& item : list["items"]) {
    seen.insert(item["metadata"]["name"].get<std::string>());
  }
  EXPECT_EQ(seen, (std::multiset<std::string>{"home-0", "home-1", "east-0",
                                              "east-1", "east-2", "west-0"}))
      << r.out << r.err;
}

TEST_F(FanOut, AWatchIsRefusedNotAnsweredFromOneCluster) {
  auto sidecar = sidecar_process::start(routes(""));
  auto r =
      kubectl_via(*env_, sidecar,
                  {"get", "--raw",
                   "/api/v1/namespaces/" + *ns_ + "/configmaps?watch=true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("merged watches"));
}

}  // namespace
}  // namespace mca::test
