#include "operator/controller/token_minter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mca::op {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(TokenMinter, RefreshesAt70PercentSoTheNewTokenIsOutBefore80) {
  minted_token t;
  t.issued = std::chrono::system_clock::time_point(1000s);
  t.expires = t.issued + 3600s;
  EXPECT_EQ(refresh_time(t), t.issued + 2520s);
  EXPECT_LT(refresh_time(t), t.issued + 2880s);  // 80%
}

TEST(TokenMinter, ReadsTokenAndExpiryFromTheAnswer) {
  // 2026-11-18T09:13:20Z is 1794993200 seconds after the epoch.
  const auto now = std::chrono::system_clock::from_time_t(1794990000);
  auto t = read_token_request(
      nlohmann::json::parse(R"({"status": {"token": "eyJ.abc.def",
        "expirationTimestamp": "2026-11-18T09:13:20Z"}})"),
      now);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->token, "eyJ.abc.def");
  EXPECT_EQ(t->issued, now);
  EXPECT_EQ(t->expires, std::chrono::system_clock::from_time_t(1794993200));
}

TEST(TokenMinter, RefusesAnswersWithoutTokenOrUsableExpiry) {
  const auto now = std::chrono::system_clock::from_time_t(1794990000);
  EXPECT_THAT(
      read_token_request(nlohmann::json::parse(R"({"status": {}})"), now)
          .error()
          .message,
      HasSubstr("no status.token"));
  EXPECT_THAT(
      read_token_request(
          nlohmann::json::parse(
              R"({"status": {"token": "t", "expirationTimestamp": "soon"}})"),
          now)
          .error()
          .message,
      HasSubstr("expirationTimestamp"));
  // Already expired.
  EXPECT_FALSE(read_token_request(
      nlohmann::json::parse(
          R"({"status": {"token": "t", "expirationTimestamp": "2020-01-01T00:00:00Z"}})"),
      now));
}

}  // namespace
}  // namespace mca::op
