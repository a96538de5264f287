#include "kube/scaler.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace replica_server {
namespace {

using ::testing::HasSubstr;

TEST(ScalePatch, SetsSpecReplicasOnly) {
  EXPECT_EQ(scale_patch(0), R"({"spec":{"replicas":0}})");
  EXPECT_EQ(scale_patch(2147483647), R"({"spec":{"replicas":2147483647}})");
}

mca::error api(int code, std::string message) {
  mca::error e = mca::error::of(mca::error_source::api,
                                "PATCH https://k/apis/...: " + message);
  e.status.code = code;
  e.status.message = std::move(message);
  return e;
}

struct failure_case {
  mca::error error;
  int status;
  std::string says;
};

class ScaleFailure : public ::testing::TestWithParam<failure_case> {};

TEST_P(ScaleFailure, MapsToTheApisStatus) {
  const auto& c = GetParam();
  const api_error e = scale_failure(c.error, "prod", "web");
  EXPECT_EQ(e.status, c.status) << c.error.message;
  EXPECT_THAT(e.message, HasSubstr(c.says));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ScaleFailure,
    ::testing::Values(
        failure_case{api(404, "deployments.apps \"web\" not found"), 404,
                     "deployment prod/web not found"},
        failure_case{api(409, "the object has been modified"), 409,
                     "conflict updating deployment prod/web: the object has "
                     "been modified"},
        // The sidecar's answer when the name exists in two clusters.
        failure_case{api(409, "found in east and west"), 409,
                     "found in east and west"},
        failure_case{api(422, "spec.replicas: Invalid value"), 422,
                     "spec.replicas: Invalid value"},
        failure_case{api(403, "forbidden"), 502, "credentials"},
        failure_case{api(401, "Unauthorized"), 502, "credentials"},
        failure_case{api(429, "too many requests"), 503, "unavailable"},
        failure_case{api(503, "target east unreachable"), 503,
                     "target east unreachable"},
        failure_case{api(504, "timeout"), 503, "unavailable"},
        failure_case{api(500, "etcd"), 502, "answered 500"},
        failure_case{api(400, "bad"), 502, "answered 400"},
        failure_case{mca::error::of(mca::error_source::transport,
                                    "connect to 127.0.0.1:6443: refused"),
                     503, "unreachable: connect to 127.0.0.1:6443: refused"},
        failure_case{mca::error::of(mca::error_source::decode, "not JSON"), 502,
                     "could not be read"},
        failure_case{mca::error::of(mca::error_source::internal, "bug"), 500,
                     "bug"}));

}  // namespace
}  // namespace replica_server
