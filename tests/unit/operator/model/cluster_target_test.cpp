#include "operator/model/cluster_target.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "operator/model/routing_policy.hpp"

namespace mca::op {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(ClusterTargetModel, ReadsEveryField) {
  const json object = json::parse(R"({
    "apiVersion": "mca.x-k8s.io/v1alpha1", "kind": "ClusterTarget",
    "metadata": {"name": "east", "generation": 3},
    "spec": {
      "server": "https://east.example:6443",
      "caBundle": "Q0EtUEVN",
      "tlsServerName": "east.internal",
      "impersonate": true,
      "credentials": {"tokenRequest": {"serviceAccount": "remote", "namespace": "mca-system",
        "audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 1200,
        "secretRef": {"name": "east-minter"}}},
      "allowedNamespaces": {"names": ["team-a"],
        "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["prod"]}]}}
    }})");
  auto t = parse_cluster_target(object);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->name, "east");
  EXPECT_EQ(t->generation, 3);
  EXPECT_EQ(t->ca_bundle_pem, "CA-PEM");
  EXPECT_EQ(t->tls_server_name, "east.internal");
  EXPECT_TRUE(t->impersonate);
  const auto& tr = std::get<token_request_credentials>(t->credentials);
  EXPECT_EQ(tr.service_account, "remote");
  EXPECT_EQ(tr.expiration_seconds, 1200);
  ASSERT_TRUE(tr.minter);
  EXPECT_EQ(tr.minter->secret.name, "east-minter");
  EXPECT_EQ(tr.minter->secret.key, "kubeconfig");
  EXPECT_THAT(*t->allowed.names, ElementsAre("team-a"));
  ASSERT_TRUE(t->allowed.selector);
  EXPECT_TRUE(t->allowed.selector->matches({{"tier", "prod"}}));
  EXPECT_THAT(referenced_secrets(*t), ElementsAre("east-minter"));
}

TEST(ClusterTargetModel, BadObjectsNameTheField) {
  struct row {
    std::string object;
    std::string message;
  };
  const std::vector<row> rows = {
      {R"({"metadata": {"name": "a"}, "spec": {"server": "http://x", "credentials": {"local": {}}}})",
       "ClusterTarget \"a\": spec.server: must be an https:// URL"},
      {R"({"metadata": {"name": "a"}, "spec": {"server": "https://x", "credentials": {"local": {}, "tokenSecretRef": {"name": "t"}}}})",
       "spec.credentials: exactly one of"},
      {R"({"metadata": {"name": "a"}, "spec": {"server": "https://x"}})",
       "spec.credentials: is required"},
      {R"({"metadata": {"name": "a"}, "spec": {"server": "https://x", "caBundle": "%%%", "credentials": {"local": {}}}})",
       "spec.caBundle: is not valid base64"},
      {R"({"metadata": {"name": "a"}, "spec": {"server": 5, "credentials": {"local": {}}}})",
       "spec.server: must be a string"},
  };
  for (const auto& r : rows) {
    auto t = parse_cluster_target(json::parse(r.object));
    ASSERT_FALSE(t) << r.object;
    EXPECT_THAT(t.error().message, HasSubstr(r.message));
  }
}

TEST(RoutingPolicyModel, ReadsTheEnvelopeAndKeepsRulesAsWritten) {
  auto p = parse_routing_policy(json::parse(R"({
    "metadata": {"name": "by-region", "namespace": "team-a", "generation": 2},
    "spec": {"podSelector": {"matchLabels": {"app": "demo"}}, "priority": 7,
      "defaultTarget": "home", "failureMode": "LocalPassthrough",
      "rules": [{"name": "r", "target": "east"}]}})"));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->key(), "team-a/by-region");
  EXPECT_EQ(p->priority, 7);
  EXPECT_EQ(*p->default_target, "home");
  EXPECT_EQ(p->on_failure, failure_mode::local_passthrough);
  EXPECT_EQ(p->rules.size(), 1U);
  EXPECT_TRUE(p->pod_selector.matches({{"app", "demo"}}));
  EXPECT_FALSE(p->pod_selector.matches({{"app", "other"}}));

  auto bad = parse_routing_policy(json::parse(
      R"({"metadata": {"name": "p", "namespace": "n"}, "spec": {"failureMode": "Sometimes"}})"));
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message,
              HasSubstr("RoutingPolicy n/p: spec.failureMode"));
}

TEST(RoutingPolicyModel, KeepsFanOutRulesAsWrittenForTheCompiler) {
  const json rules = json::parse(R"([
    {"name": "spread", "targets": ["east", "west"], "partial": "allow",
     "writeTarget": "west"},
    {"name": "strict", "targets": ["west", "east"]}])");
  json object = json::parse(R"({
    "metadata": {"name": "fan-out", "namespace": "team-a"},
    "spec": {"podSelector": {}}})");
  object["spec"]["rules"] = rules;
  auto p = parse_routing_policy(object);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->rules, rules);

  object["spec"]["rules"] = rules[0];
  auto bad = parse_routing_policy(object);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message,
              HasSubstr("RoutingPolicy team-a/fan-out: spec.rules: must be a "
                        "list"));
}

TEST(PodModel, ReadsIdentityLabelsAndServiceAccount) {
  auto pod = parse_pod(
      json::parse(R"({"metadata": {"name": "app-0", "namespace": "team-a",
    "uid": "u-1", "labels": {"app": "demo"}}, "spec": {"serviceAccountName": "builder"}})"));
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->key(), "team-a/app-0");
  EXPECT_EQ(pod->uid, "u-1");
  EXPECT_EQ(pod->service_account, "builder");
  auto defaulted = parse_pod(
      json::parse(R"({"metadata": {"name": "p", "namespace": "n"}})"));
  ASSERT_TRUE(defaulted);
  EXPECT_EQ(defaulted->service_account, "default");
}

}  // namespace
}  // namespace mca::op
