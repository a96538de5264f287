#include "api/responses.hpp"

#include <string>

#include <gtest/gtest.h>

namespace replica_server {
namespace {

TEST(Responses, FollowTheRfdInItsOrder) {
  EXPECT_EQ(replicas_body({"prod", "web", 3}),
            R"({"namespace":"prod","name":"web","replicaCount":3})");
  EXPECT_EQ(list_body({{"a", "x", 1}, {"b", "y", 0}}),
            R"([{"namespace":"a","name":"x","replicaCount":1},)"
            R"({"namespace":"b","name":"y","replicaCount":0}])");
  EXPECT_EQ(list_body({}), "[]");
  EXPECT_EQ(updated_body(),
            R"({"message":"Replica count updated successfully."})");
  EXPECT_EQ(error_body("deployment a/b not found"),
            R"({"error":"deployment a/b not found"})");
}

TEST(Responses, Health) {
  EXPECT_EQ(health_body({true, ""}),
            R"({"status":"healthy","kubernetes":"connected"})");
  EXPECT_EQ(
      health_body({false, "the Kubernetes API is not reachable: x"}),
      R"({"status":"unhealthy","error":"the Kubernetes API is not reachable: x"})");
}

TEST(Responses, TextThatIsNotUtf8IsReplacedNotFatal) {
  EXPECT_EQ(error_body("bad \xff name \"q\""),
            "{\"error\":\"bad \xEF\xBF\xBD name \\\"q\\\"\"}");
}

TEST(Responses, ErrorReplyCarriesStatusAndAllow) {
  api_error e = api_error::of(405, "no");
  e.allow = {"GET", "PUT"};
  const api_reply r = error_reply(e);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, R"({"error":"no"})");
  ASSERT_EQ(r.headers.size(), 1U);
  EXPECT_EQ(r.headers[0].name, "Allow");
  EXPECT_EQ(r.headers[0].value, "GET, PUT");
  EXPECT_TRUE(error_reply(api_error::of(404, "x")).headers.empty());
}

}  // namespace
}  // namespace replica_server
