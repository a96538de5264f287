// The local clusters are really separate API servers: objects and
// service-account tokens of one are unknown to the others.
#include "support/testenv.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mca::test {
namespace {

using ::testing::HasSubstr;

class TestenvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    env_ = testenv::load(error);
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_EQ(env_.clusters().size(), 3U) << "expected home, east and west";
  }
  testenv env_;
};

TEST_F(TestenvTest, ConfigMapCreatedInEastIsAbsentFromWestAndHome) {
  const auto name = unique_name("isolation");
  auto created =
      env_.kubectl("east", {"create", "configmap", name, "-n", "default",
                            "--from-literal=cluster=east"});
  ASSERT_TRUE(created.ok()) << created.err;

  auto in_east =
      env_.kubectl("east", {"get", "configmap", name, "-n", "default", "-o",
                            "jsonpath={.data.cluster}"});
  ASSERT_TRUE(in_east.ok()) << in_east.err;
  EXPECT_EQ(in_east.out, "east");

  for (const char* other : {"west", "home"}) {
    auto r = env_.kubectl(other, {"get", "configmap", name, "-n", "default"});
    EXPECT_NE(r.exit_code, 0) << other << " has the ConfigMap created in east";
    EXPECT_THAT(r.err, HasSubstr("NotFound")) << other;
  }
  env_.kubectl("east", {"delete", "configmap", name, "-n", "default"});
}

// TokenReview answers with status.authenticated and the user it found.
nlohmann::json review(const testenv& env, const std::string& cluster,
                      const std::string& token) {
  nlohmann::json review = {{"apiVersion", "authentication.k8s.io/v1"},
                           {"kind", "TokenReview"},
                           {"spec", {{"token", token}}}};
  auto r =
      env.kubectl(cluster, {"create", "-f", "-", "-o", "json"}, review.dump());
  EXPECT_TRUE(r.ok()) << cluster << ": " << r.err;
  return r.ok() ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

TEST_F(TestenvTest, TokenFromHomeIsAcceptedByHomeAndRejectedByEast) {
  const auto sa = unique_name("reviewer");
  // The same ServiceAccount exists in both, so east can only reject the
  // token because home's signing key is not east's.
  for (const char* c : {"home", "east"}) {
    auto r = env_.kubectl(c, {"create", "serviceaccount", sa, "-n", "default"});
    ASSERT_TRUE(r.ok()) << c << ": " << r.err;
  }
  auto token = env_.kubectl(
      "home", {"create", "token", sa, "-n", "default", "--duration=10m"});
  ASSERT_TRUE(token.ok()) << token.err;
  ASSERT_FALSE(token.out.empty());
  const auto jwt = token.out.substr(0, token.out.find_last_not_of('\n') + 1);

  auto home = review(env_, "home", jwt);
  EXPECT_EQ(home["status"].value("authenticated", false), true) << home.dump();
  EXPECT_EQ(home["status"]["user"].value("username", ""),
            "system:serviceaccount:default:" + sa);

  auto east = review(env_, "east", jwt);
  EXPECT_EQ(east["status"].value("authenticated", false), false) << east.dump();
  EXPECT_FALSE(east["status"].value("error", "").empty()) << east.dump();

  for (const char* c : {"home", "east"}) {
    env_.kubectl(c, {"delete", "serviceaccount", sa, "-n", "default"});
  }
}

}  // namespace
}  // namespace mca::test
