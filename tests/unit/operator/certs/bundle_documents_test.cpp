#include "operator/certs/bundle_documents.hpp"

#include <gtest/gtest.h>

#include "common/util/base64.hpp"

namespace mca::op {
namespace {

using json = nlohmann::json;

const std::string pem =
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

json configuration() {
  return json::parse(R"({
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": "mca-sidecar-injector", "resourceVersion": "7"},
    "webhooks": [
      {"name": "a.mca.k8s.io", "sideEffects": "None",
       "clientConfig": {"url": "https://127.0.0.1:8443/mutate", "caBundle": "eA=="}},
      {"name": "b.mca.k8s.io",
       "clientConfig": {"service": {"name": "mca-operator", "namespace": "mca-system"}}}
    ]})");
}

TEST(WebhookCaBundleApply, NamesEveryEntryAndOwnsOnlyItsCaBundle) {
  const json body = webhook_ca_bundle_apply(configuration(), pem);
  const std::string encoded = util::base64_encode(pem);
  EXPECT_EQ(body, json::parse(R"({
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": "mca-sidecar-injector"},
    "webhooks": [
      {"name": "a.mca.k8s.io", "clientConfig": {"caBundle": ")" +
                              encoded +
                              R"("}},
      {"name": "b.mca.k8s.io", "clientConfig": {"caBundle": ")" +
                              encoded +
                              R"("}}
    ]})"));
}

TEST(WebhookHasCaBundle, EveryEntryMustTrustExactlyTheBundle) {
  json c = configuration();
  EXPECT_FALSE(webhook_has_ca_bundle(c, pem));
  const std::string encoded = util::base64_encode(pem);
  c["webhooks"][0]["clientConfig"]["caBundle"] = encoded;
  EXPECT_FALSE(webhook_has_ca_bundle(c, pem));  // b has none
  c["webhooks"][1]["clientConfig"]["caBundle"] = encoded;
  EXPECT_TRUE(webhook_has_ca_bundle(c, pem));
  EXPECT_FALSE(webhook_has_ca_bundle(c, pem + pem));
  EXPECT_TRUE(webhook_has_ca_bundle(json::object(), pem));
}

TEST(CaBundleConfigMap, HoldsTheBundleUnderCaCrt) {
  const json cm = ca_bundle_config_map("team-a", pem, "mca-system");
  EXPECT_EQ(cm["metadata"]["name"], "mca-ca-bundle");
  EXPECT_EQ(ca_bundle_owner(cm), "mca-system");
  EXPECT_EQ(ca_bundle_owner(json{{"metadata", {{"name", "x"}}}}), "");
  EXPECT_EQ(cm["metadata"]["namespace"], "team-a");
  EXPECT_EQ(cm["data"]["ca.crt"], pem);
  EXPECT_TRUE(config_map_has_bundle(cm, pem));
  EXPECT_FALSE(config_map_has_bundle(cm, pem + pem));
  EXPECT_FALSE(config_map_has_bundle(json{{"data", nullptr}}, pem));
}

}  // namespace
}  // namespace mca::op
