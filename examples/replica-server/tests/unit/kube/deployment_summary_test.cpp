#include "kube/deployment_summary.hpp"

#include <gtest/gtest.h>

namespace replica_server {
namespace {

using json = nlohmann::json;

TEST(DeploymentSummary, ReadsSpecReplicas) {
  const json d = json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "prod",
                 "annotations": {"mca.k8s.io/cluster": "east"}},
    "spec": {"replicas": 4},
    "status": {"replicas": 1}})");
  EXPECT_EQ(summarize(d), (deployment_summary{"prod", "web", 4}));
}

TEST(DeploymentSummary, MissingReplicasMeansOneAsKubernetesDefaultsIt) {
  const json d = json::parse(
      R"({"metadata": {"name": "web", "namespace": "prod"}, "spec": {}})");
  EXPECT_EQ(summarize(d)->replicas, 1);
  const json no_spec =
      json::parse(R"({"metadata": {"name": "web", "namespace": "prod"}})");
  EXPECT_EQ(summarize(no_spec)->replicas, 1);
}

TEST(DeploymentSummary, ZeroIsZero) {
  const json d = json::parse(
      R"({"metadata": {"name": "w", "namespace": "p"}, "spec": {"replicas": 0}})");
  EXPECT_EQ(summarize(d)->replicas, 0);
}

TEST(DeploymentSummary, NeedsANameAndANamespace) {
  EXPECT_FALSE(summarize(json::parse(R"({"metadata": {"name": "w"}})")));
  EXPECT_FALSE(summarize(json::parse(R"({"metadata": {"namespace": "p"}})")));
  EXPECT_FALSE(summarize(json::parse(R"({"spec": {}})")));
  EXPECT_FALSE(summarize(json::parse(R"([])")));
  EXPECT_FALSE(
      summarize(json::parse(R"({"metadata": {"name": 1, "namespace": "p"}})")));
}

}  // namespace
}  // namespace replica_server
