#include "sidecar/subscription/push_handler.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::sidecar {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A table as the operator streams it: JSON, with `version` = version_info.
std::string table_json(const std::string& version,
                       const std::string& default_target = "home") {
  return R"({"apiVersion":"mca.x-k8s.io/v1alpha1","kind":"RoutingTable",)"
         R"("version":")" +
         version + R"(","policy":"default/by-region",)" +
         R"("targets":[{"name":"home","server":"https://10.0.0.1:443",)" +
         R"("credentials":{"local":{}}}],"defaultTarget":")" + default_target +
         R"(","rules":[]})";
}

routes_push push(const std::string& version, const std::string& nonce,
                 std::string json) {
  return routes_push{version, nonce, std::move(json), false};
}

TEST(PushHandler, FirstRequestCarriesTheVersionInForce) {
  EXPECT_EQ(first_request(""), (routes_reply{"", "", ""}));
  EXPECT_EQ(first_request("v7"), (routes_reply{"v7", "", ""}));
}

TEST(PushHandler, GoodPushIsInstalledAndAcked) {
  const auto d = decide_push(push("v2", "n-1", table_json("v2")), "v1");
  ASSERT_TRUE(d.table.has_value());
  EXPECT_EQ(d.table->version, "v2");
  EXPECT_EQ(d.table->policy, "default/by-region");
  EXPECT_FALSE(d.unchanged);
  ASSERT_TRUE(d.reply.has_value());
  EXPECT_EQ(*d.reply, (routes_reply{"v2", "n-1", ""}));
  EXPECT_FALSE(d.reply->is_nack());
  EXPECT_EQ(d.error, "");
}

TEST(PushHandler, FirstTableIsInstalledWhenNoneIsInForce) {
  const auto d = decide_push(push("v1", "n-1", table_json("v1")), "");
  ASSERT_TRUE(d.table.has_value());
  EXPECT_FALSE(d.unchanged);
  EXPECT_EQ(*d.reply, (routes_reply{"v1", "n-1", ""}));
}

TEST(PushHandler, SameVersionIsAckedAndMarkedUnchanged) {
  const auto d = decide_push(push("v1", "n-2", table_json("v1")), "v1");
  ASSERT_TRUE(d.table.has_value());
  EXPECT_TRUE(d.unchanged);
  EXPECT_EQ(*d.reply, (routes_reply{"v1", "n-2", ""}));
}

TEST(PushHandler, InvalidJsonIsNackedKeepingTheVersionInForce) {
  const auto d = decide_push(push("v2", "n-3", R"({"apiVersion": )"), "v1");
  EXPECT_FALSE(d.table.has_value());
  ASSERT_TRUE(d.reply.has_value());
  EXPECT_TRUE(d.reply->is_nack());
  EXPECT_EQ(d.reply->version_info, "v1");
  EXPECT_EQ(d.reply->response_nonce, "n-3");
  EXPECT_THAT(d.error, HasSubstr("operator push v2: "));
  EXPECT_EQ(d.reply->error_message, d.error);
}

TEST(PushHandler, InvalidTableIsNackedWithTheValidationError) {
  const auto d =
      decide_push(push("v2", "n-4", table_json("v2", "nowhere")), "v1");
  EXPECT_FALSE(d.table.has_value());
  ASSERT_TRUE(d.reply.has_value());
  EXPECT_EQ(d.reply->version_info, "v1");
  EXPECT_EQ(d.reply->response_nonce, "n-4");
  EXPECT_THAT(d.reply->error_message,
              AllOf(HasSubstr("operator push v2: "), HasSubstr("defaultTarget"),
                    HasSubstr("unknown target \"nowhere\"")));
}

TEST(PushHandler, NackBeforeAnyTableSaysNoVersion) {
  const auto d = decide_push(push("v1", "n-1", "[]"), "");
  ASSERT_TRUE(d.reply.has_value());
  EXPECT_TRUE(d.reply->is_nack());
  EXPECT_EQ(d.reply->version_info, "");
  EXPECT_EQ(d.reply->response_nonce, "n-1");
}

TEST(PushHandler, VersionMismatchIsNacked) {
  const auto d = decide_push(push("v2", "n-5", table_json("v3")), "v1");
  EXPECT_FALSE(d.table.has_value());
  ASSERT_TRUE(d.reply.has_value());
  EXPECT_EQ(d.reply->version_info, "v1");
  EXPECT_EQ(d.reply->response_nonce, "n-5");
  EXPECT_THAT(d.reply->error_message,
              AllOf(HasSubstr("\"v3\""), HasSubstr("\"v2\"")));
}

TEST(PushHandler, TableWithoutVersionFieldIsNacked) {
  // Its version is then the content hash, which the push does not name.
  std::string json = table_json("x");
  json.replace(json.find(R"("version":"x",)"), 14, "");
  const auto d = decide_push(push("v2", "n-6", json), "v1");
  EXPECT_FALSE(d.table.has_value());
  ASSERT_TRUE(d.reply.has_value());
  EXPECT_TRUE(d.reply->is_nack());
}

TEST(PushHandler, PushWithoutVersionIsNacked) {
  const auto d = decide_push(push("", "n-7", table_json("v2")), "v1");
  EXPECT_FALSE(d.table.has_value());
  ASSERT_TRUE(d.reply.has_value());
  EXPECT_EQ(d.reply->version_info, "v1");
  EXPECT_THAT(d.reply->error_message, HasSubstr("version_info is empty"));
}

TEST(PushHandler, HeartbeatNeedsNothing) {
  routes_push beat;
  beat.heartbeat = true;
  beat.nonce = "n-8";
  const auto d = decide_push(beat, "v1");
  EXPECT_FALSE(d.table.has_value());
  EXPECT_FALSE(d.reply.has_value());
  EXPECT_EQ(d.error, "");
}

}  // namespace
}  // namespace mca::sidecar
