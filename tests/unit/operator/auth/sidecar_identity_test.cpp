#include "operator/auth/sidecar_identity.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mca::op {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

json review(bool authenticated, json audiences, std::string username,
            json extra) {
  return {
      {"status",
       {{"authenticated", authenticated},
        {"audiences", std::move(audiences)},
        {"user",
         {{"username", std::move(username)}, {"extra", std::move(extra)}}}}}};
}

const json pod_claims = {
    {"authentication.kubernetes.io/pod-name", {"app-0"}},
    {"authentication.kubernetes.io/pod-uid", {"0f3c-uid"}}};

TEST(SidecarIdentity, PodBoundServiceAccountTokenForTheAudience) {
  auto id = identity_from_token_review(
      review(true, {"mca-operator"}, "system:serviceaccount:team-a:app-sa",
             pod_claims),
      "mca-operator");
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(id->namespace_name, "team-a");
  EXPECT_EQ(id->service_account, "app-sa");
  EXPECT_EQ(id->pod_name, "app-0");
  EXPECT_EQ(id->pod_uid, "0f3c-uid");
  EXPECT_EQ(id->pod_key(), "team-a/app-0");
}

TEST(SidecarIdentity, RefusesEveryOtherKindOfToken) {
  struct row {
    std::string name;
    json review;
    std::string message;
  };
  const std::vector<row> rows = {
      {"not authenticated",
       {{"status", {{"authenticated", false}, {"error", "token expired"}}}},
       "did not authenticate it: token expired"},
      {"other audience",
       review(true, {"https://kubernetes.default.svc"},
              "system:serviceaccount:team-a:app-sa", pod_claims),
       "not for audience \"mca-operator\""},
      {"a user, not a service account",
       review(true, {"mca-operator"}, "alice", pod_claims),
       "user \"alice\" is not a service account"},
      {"malformed service account name",
       review(true, {"mca-operator"}, "system:serviceaccount:team-a",
              pod_claims),
       "is not a service account"},
      {"not bound to a pod",
       review(true, {"mca-operator"}, "system:serviceaccount:team-a:app-sa",
              json::object()),
       "is not bound to a pod"},
      {"no status", json::object(), "has no status"},
  };
  for (const auto& r : rows) {
    auto id = identity_from_token_review(r.review, "mca-operator");
    ASSERT_FALSE(id) << r.name;
    EXPECT_EQ(id.error().source, error_source::client) << r.name;
    EXPECT_THAT(id.error().message, HasSubstr("sidecar token refused"))
        << r.name;
    EXPECT_THAT(id.error().message, HasSubstr(r.message)) << r.name;
  }
}

TEST(SidecarIdentity, ReviewRequestCarriesTokenAndAudience) {
  const json req = token_review_request("tok", "mca-operator");
  EXPECT_EQ(req["kind"], "TokenReview");
  EXPECT_EQ(req["spec"]["token"], "tok");
  EXPECT_EQ(req["spec"]["audiences"], json::array({"mca-operator"}));
  // The claims a client might send never enter: only the review decides.
  EXPECT_THAT(req.dump(), Not(HasSubstr("pod")));
}

}  // namespace
}  // namespace mca::op
