#include "api/replica_body.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace replica_server {
namespace {

using ::testing::HasSubstr;

struct body_case {
  std::string content_type;
  std::string body;
  int status;  // 0: accepted
  std::int32_t count = 0;
  std::string says = {};  // part of the error message
};

// GoogleTest finds it by name.
// NOLINTNEXTLINE(readability-identifier-naming)
void PrintTo(const body_case& c, std::ostream* os) {
  *os << "[" << c.content_type << "] " << c.body;
}

class ReplicaBody : public ::testing::TestWithParam<body_case> {};

TEST_P(ReplicaBody, IsValidated) {
  const auto& c = GetParam();
  const auto r = parse_replica_count(c.content_type, c.body);
  if (c.status == 0) {
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, c.count);
  } else {
    ASSERT_FALSE(r) << *r;
    EXPECT_EQ(r.error().status, c.status);
    EXPECT_THAT(r.error().message, HasSubstr(c.says));
  }
}

constexpr const char* json = "application/json";

INSTANTIATE_TEST_SUITE_P(
    Table, ReplicaBody,
    ::testing::Values(
        body_case{json, R"({"replicaCount": 3})", 0, 3},
        body_case{json, R"({"replicaCount":0})", 0, 0},
        body_case{"", R"({"replicaCount": 5})", 0, 5},
        body_case{"application/json; charset=utf-8", R"({"replicaCount": 1})",
                  0, 1},
        body_case{"Application/JSON", R"({"replicaCount": 1})", 0, 1},
        body_case{json, " \n{ \"replicaCount\" : 7 }\n", 0, 7},
        body_case{json, R"({"replicaCount": 2147483647})", 0, 2147483647},
        body_case{json, R"({"replicaCount": -1})", 400, 0,
                  "must not be negative"},
        body_case{json, R"({"replicaCount": 2147483648})", 400, 0, "too large"},
        body_case{json, R"({"replicaCount": -9223372036854775808})", 400, 0,
                  "negative"},
        body_case{json, R"({"replicaCount": 1e30})", 400, 0, "integer"},
        body_case{json, R"({"replicaCount": 2.5})", 400, 0,
                  "must be an integer, not a floating-point number"},
        body_case{json, R"({"replicaCount": 3.0})", 400, 0, "integer"},
        body_case{json, R"({"replicaCount": "3"})", 400, 0, "not a string"},
        body_case{json, R"({"replicaCount": true})", 400, 0, "not a boolean"},
        body_case{json, R"({"replicaCount": null})", 400, 0, "not null"},
        body_case{json, R"({"replicaCount": [3]})", 400, 0, "not an array"},
        body_case{json, R"({})", 400, 0, "replicaCount is missing"},
        body_case{json, R"({"replicas": 3})", 400, 0,
                  "unknown field \"replicas\""},
        body_case{json, R"({"replicaCount": 3, "image": "x"})", 400, 0,
                  "unknown field \"image\""},
        body_case{json, "[3]", 400, 0, "must be an object"},
        body_case{json, "3", 400, 0, "must be an object"},
        body_case{json, "", 400, 0, "empty"},
        body_case{json, "replicaCount=3", 400, 0, "not valid JSON"},
        body_case{json, R"({"replicaCount": 3)", 400, 0, "not valid JSON"},
        body_case{json, R"({"replicaCount": 3}{})", 400, 0, "not valid JSON"},
        body_case{json, "{\"replicaCount\": \"\xff\"}", 400, 0,
                  "not valid JSON"},
        body_case{"text/plain", R"({"replicaCount": 3})", 415, 0,
                  "application/json"},
        body_case{"application/x-www-form-urlencoded", "replicaCount=3", 415, 0,
                  "application/json"},
        body_case{"application/jsonx", R"({"replicaCount": 3})", 415, 0,
                  "application/json"}));

TEST(ReplicaBodyErrors, SayHowToAsk) {
  const auto r = parse_replica_count("", "{}");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("send {\"replicaCount\": N}"));
}

}  // namespace
}  // namespace replica_server
