#include "sidecar/subscription/passthrough_table.hpp"

#include <variant>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::sidecar {
namespace {

using ::testing::HasSubstr;

TEST(PassthroughTable, OneLocalTargetAsTheDefault) {
  auto t = make_passthrough_table("https://10.96.0.1:443");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->policy, "local-passthrough");
  ASSERT_EQ(t->targets.size(), 1U);
  const auto& local = t->targets.front();
  EXPECT_EQ(local.name, "local");
  EXPECT_EQ(local.server, "https://10.96.0.1:443");
  EXPECT_TRUE(
      std::holds_alternative<routing::local_credentials>(local.credentials));
  EXPECT_EQ(local.ca_file, "");  // local credentials bring the SA's ca.crt
  EXPECT_FALSE(local.insecure_skip_tls_verify);
  EXPECT_EQ(local.impersonate_user, "");
  EXPECT_EQ(t->default_target, "local");
  EXPECT_TRUE(t->rules.empty());
  EXPECT_FALSE(t->version.empty());
}

TEST(PassthroughTable, SameServerSameVersion) {
  auto a = make_passthrough_table("https://10.96.0.1:443");
  auto b = make_passthrough_table("https://10.96.0.1:443");
  auto c = make_passthrough_table("https://10.96.0.2:443");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->version, b->version);
  EXPECT_NE(a->version, c->version);
}

TEST(PassthroughTable, BadServerIsRefused) {
  auto t = make_passthrough_table("ftp://nowhere");
  ASSERT_FALSE(t.has_value());
  EXPECT_THAT(t.error().message,
              HasSubstr("--failure-mode LocalPassthrough: "));
}

TEST(PassthroughTable, ServerFromTheEnvironment) {
  EXPECT_EQ(local_server_from_environment("10.96.0.1", "443").value(),
            "https://10.96.0.1:443");
  EXPECT_EQ(local_server_from_environment("10.96.0.1", "").value(),
            "https://10.96.0.1:443");
  EXPECT_EQ(local_server_from_environment("fd00::1", "6443").value(),
            "https://[fd00::1]:6443");
  auto missing = local_server_from_environment("", "443");
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message,
              HasSubstr("KUBERNETES_SERVICE_HOST is not set"));
  EXPECT_THAT(missing.error().message, HasSubstr("--local-server"));
}

}  // namespace
}  // namespace mca::sidecar
