#include "operator/config/operator_config.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/version/build_info.hpp"

namespace mca::op {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::chrono_literals;

std::string error_of(std::string_view text) {
  auto config = parse_operator_config(text, "operator.yaml");
  if (config) return "(no error)";
  EXPECT_EQ(config.error().source, error_source::config);
  return config.error().message;
}

TEST(OperatorConfig, DefaultConstructionHoldsEveryDefault) {
  const operator_config c;
  EXPECT_EQ(c.injection.image, "ghcr.io/mca-dev/mca-sidecar:" +
                                   std::string(current_build().version));
  EXPECT_EQ(c.injection.image_pull_policy, "IfNotPresent");
  EXPECT_EQ(c.injection.resources,
            (json{{"requests", {{"cpu", "20m"}, {"memory", "32Mi"}}},
                  {"limits", {{"memory", "256Mi"}}}}));
  EXPECT_EQ(c.injection.operator_address, "");
  EXPECT_EQ(c.injection.admin_port, 9090);
  EXPECT_EQ(c.injection.failure_mode, sidecar_failure_mode::fail_closed);
  EXPECT_EQ(c.injection.token_expiration_seconds, 600);
  EXPECT_TRUE(c.injection.extra_args.empty());
  EXPECT_THAT(c.injection.excluded_namespaces,
              ElementsAre("kube-system", "kube-public", "kube-node-lease"));
  EXPECT_EQ(c.webhook.configuration_name, "mca-sidecar-injector");
  EXPECT_EQ(c.certificates.secret_name, "mca-operator-certs");
  EXPECT_THAT(c.certificates.service_names, ElementsAre("mca-operator"));
  EXPECT_TRUE(c.certificates.extra_dns_names.empty());
  EXPECT_TRUE(c.certificates.extra_ip_addresses.empty());
  EXPECT_EQ(c.certificates.ca_lifetime, 8760h);
  EXPECT_EQ(c.certificates.leaf_lifetime, 720h);
  EXPECT_DOUBLE_EQ(c.certificates.renew_fraction, 0.6667);
  EXPECT_EQ(c.certificates.ca_grace_period, 24h);
  EXPECT_EQ(c.certificates.bundle_propagation, 180s);
}

// The documented sample lists the defaults; it must say what the code does.
TEST(OperatorConfig, TheSampleFileHoldsExactlyTheDefaults) {
  auto c = load_operator_config(std::filesystem::path(MCA_SOURCE_DIR) /
                                "config/operator/operator-config.yaml");
  ASSERT_TRUE(c) << c.error().message;
  const operator_config d;
  EXPECT_EQ(c->injection.image, d.injection.image);
  EXPECT_EQ(c->injection.image_pull_policy, d.injection.image_pull_policy);
  EXPECT_EQ(c->injection.resources, d.injection.resources);
  EXPECT_EQ(c->injection.operator_address, d.injection.operator_address);
  EXPECT_EQ(c->injection.admin_port, d.injection.admin_port);
  EXPECT_EQ(c->injection.failure_mode, d.injection.failure_mode);
  EXPECT_EQ(c->injection.token_expiration_seconds,
            d.injection.token_expiration_seconds);
  EXPECT_EQ(c->injection.extra_args, d.injection.extra_args);
  EXPECT_EQ(c->injection.excluded_namespaces, d.injection.excluded_namespaces);
  EXPECT_EQ(c->webhook.configuration_name, d.webhook.configuration_name);
  EXPECT_EQ(c->certificates.secret_name, d.certificates.secret_name);
  EXPECT_EQ(c->certificates.service_names, d.certificates.service_names);
  EXPECT_EQ(c->certificates.ca_lifetime, d.certificates.ca_lifetime);
  EXPECT_EQ(c->certificates.leaf_lifetime, d.certificates.leaf_lifetime);
  EXPECT_DOUBLE_EQ(c->certificates.renew_fraction,
                   d.certificates.renew_fraction);
  EXPECT_EQ(c->certificates.ca_grace_period, d.certificates.ca_grace_period);
  EXPECT_EQ(c->certificates.bundle_propagation,
            d.certificates.bundle_propagation);
}

TEST(OperatorConfig, EmptyFileAndEmptySectionsGiveTheDefaults) {
  for (const char* text : {"", "---\n", "# nothing\n", "{}",
                           "injection:\nwebhook:\ncertificates: {}\n"}) {
    auto c = parse_operator_config(text, "operator.yaml");
    ASSERT_TRUE(c) << text << ": " << c.error().message;
    EXPECT_EQ(c->injection.admin_port, 9090) << text;
    EXPECT_EQ(c->certificates.ca_lifetime, 8760h) << text;
  }
}

TEST(OperatorConfig, ReadsEveryField) {
  auto c = parse_operator_config(R"(
injection:
  image: registry.example/mca-sidecar:1.2.3
  imagePullPolicy: Always
  resources:
    requests: {cpu: 50m, memory: 64Mi}
    limits: {cpu: 1, memory: 1Gi}
  operatorAddress: mca.example.internal:443
  adminPort: 9191
  failureMode: LocalPassthrough
  tokenExpirationSeconds: 3600
  extraArgs: [--log-level=debug, --log-format=json]
  excludedNamespaces: [kube-system, monitoring]
webhook:
  configurationName: my-injector
certificates:
  secretName: my-certs
  serviceNames: [mca-operator, mca-webhook]
  extraDNSNames: [mca.example.com, "*.mca.example.com"]
  extraIPAddresses: [10.0.0.7, "fd00::7"]
  caLifetime: 17520h
  leafLifetime: 1h30m
  renewFraction: 0.5
  caGracePeriod: 48h
  bundlePropagation: 2m
)",
                                 "operator.yaml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->injection.image, "registry.example/mca-sidecar:1.2.3");
  EXPECT_EQ(c->injection.image_pull_policy, "Always");
  // `cpu: 1` is a YAML integer; the container gets the quantity "1".
  EXPECT_EQ(c->injection.resources,
            (json{{"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}},
                  {"limits", {{"cpu", "1"}, {"memory", "1Gi"}}}}));
  EXPECT_EQ(c->injection.operator_address, "mca.example.internal:443");
  EXPECT_EQ(c->injection.admin_port, 9191);
  EXPECT_EQ(c->injection.failure_mode, sidecar_failure_mode::local_passthrough);
  EXPECT_EQ(c->injection.token_expiration_seconds, 3600);
  EXPECT_THAT(c->injection.extra_args,
              ElementsAre("--log-level=debug", "--log-format=json"));
  EXPECT_THAT(c->injection.excluded_namespaces,
              ElementsAre("kube-system", "monitoring"));
  EXPECT_EQ(c->webhook.configuration_name, "my-injector");
  EXPECT_EQ(c->certificates.secret_name, "my-certs");
  EXPECT_THAT(c->certificates.service_names,
              ElementsAre("mca-operator", "mca-webhook"));
  EXPECT_THAT(c->certificates.extra_dns_names,
              ElementsAre("mca.example.com", "*.mca.example.com"));
  EXPECT_THAT(c->certificates.extra_ip_addresses,
              ElementsAre("10.0.0.7", "fd00::7"));
  EXPECT_EQ(c->certificates.ca_lifetime, 17520h);
  EXPECT_EQ(c->certificates.leaf_lifetime, 90min);
  EXPECT_DOUBLE_EQ(c->certificates.renew_fraction, 0.5);
  EXPECT_EQ(c->certificates.ca_grace_period, 48h);
  EXPECT_EQ(c->certificates.bundle_propagation, 2min);
}

TEST(OperatorConfig, ReadsJson) {
  auto c = parse_operator_config(
      R"({"injection": {"adminPort": 9300, "resources": {}},
          "certificates": {"renewFraction": 0.75, "caLifetime": "1000h"}})",
      "operator.json");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->injection.admin_port, 9300);
  EXPECT_TRUE(c->injection.resources.empty());
  EXPECT_DOUBLE_EQ(c->certificates.renew_fraction, 0.75);
  EXPECT_EQ(c->certificates.ca_lifetime, 1000h);
}

TEST(OperatorConfig, UnknownFieldsAreErrorsNamingTheirPath) {
  EXPECT_THAT(error_of("injections: {}\n"),
              HasSubstr("operator.yaml: injections: unknown field (known: "
                        "injection, webhook, certificates)"));
  EXPECT_THAT(error_of("injection:\n  imagePullPolicyy: Always\n"),
              HasSubstr("operator.yaml: injection.imagePullPolicyy: unknown "
                        "field"));
  EXPECT_THAT(error_of("certificates:\n  caLifeTime: 1h\n"),
              HasSubstr("certificates.caLifeTime: unknown field"));
  EXPECT_THAT(error_of("injection:\n  resources:\n    request: {}\n"),
              HasSubstr("injection.resources.request: unknown field (known: "
                        "requests, limits)"));
}

TEST(OperatorConfig, WrongTypesAreErrorsNamingTheField) {
  EXPECT_THAT(error_of("injection: [a]\n"),
              HasSubstr("injection: must be a map"));
  EXPECT_THAT(error_of("injection:\n  image: 5\n"),
              HasSubstr("injection.image: must be a string"));
  EXPECT_THAT(error_of("injection:\n  adminPort: \"9090\"\n"),
              HasSubstr("injection.adminPort: must be an integer"));
  EXPECT_THAT(error_of("injection:\n  extraArgs: --verbose\n"),
              HasSubstr("injection.extraArgs: must be a list"));
  EXPECT_THAT(error_of("certificates:\n  renewFraction: half\n"),
              HasSubstr("certificates.renewFraction: must be a number"));
  EXPECT_THAT(error_of("certificates:\n  caLifetime: 90\n"),
              HasSubstr("certificates.caLifetime: must be a duration string"));
  EXPECT_THAT(error_of("injection:\n  resources:\n    limits:\n      memory: "
                       "[1]\n"),
              HasSubstr("injection.resources.limits.memory: must be a "
                        "quantity"));
  EXPECT_THAT(error_of("- a\n"), HasSubstr("operator.yaml: must be a map"));
}

TEST(OperatorConfig, BadEnumsListTheAllowedValues) {
  EXPECT_THAT(error_of("injection:\n  imagePullPolicy: Sometimes\n"),
              HasSubstr("operator.yaml: injection.imagePullPolicy: must be "
                        "one of Always, IfNotPresent, Never, got "
                        "\"Sometimes\""));
  EXPECT_THAT(error_of("injection:\n  failureMode: FailOpen\n"),
              HasSubstr("injection.failureMode: must be one of FailClosed, "
                        "LocalPassthrough"));
}

TEST(OperatorConfig, BadDurationsAreErrors) {
  EXPECT_THAT(error_of("certificates:\n  caLifetime: -8760h\n"),
              HasSubstr("certificates.caLifetime: must be positive"));
  EXPECT_THAT(error_of("certificates:\n  leafLifetime: 0s\n"),
              HasSubstr("certificates.leafLifetime: must be positive"));
  EXPECT_THAT(error_of("certificates:\n  caGracePeriod: one day\n"),
              HasSubstr("certificates.caGracePeriod: must be a duration such "
                        "as \"90s\", \"30m\" or \"1h30m\", got \"one day\""));
  EXPECT_THAT(error_of("certificates:\n  bundlePropagation: \"90\"\n"),
              HasSubstr("certificates.bundlePropagation: must be a duration"));
  EXPECT_THAT(error_of("certificates:\n  bundlePropagation: 1500ms\n"),
              HasSubstr("must be a whole number of seconds"));
}

TEST(OperatorConfig, ParsesGoDurations) {
  EXPECT_EQ(parse_duration("8760h"), std::chrono::seconds(8760h));
  EXPECT_EQ(parse_duration("30m"), std::chrono::seconds(30min));
  EXPECT_EQ(parse_duration("90s"), std::chrono::seconds(90));
  EXPECT_EQ(parse_duration("1h30m"), std::chrono::seconds(90min));
  EXPECT_EQ(parse_duration("1.5h"), std::chrono::seconds(90min));
  EXPECT_EQ(parse_duration("2h45m30s"), std::chrono::seconds(9930));
  EXPECT_EQ(parse_duration("+10s"), std::chrono::seconds(10));
  EXPECT_EQ(parse_duration("2000ms"), std::chrono::seconds(2));
  for (const char* bad :
       {"", "0", "0s", "-1h", "h", "10", "1x", "1h 30m", "1.5s", "1..5h", ".",
        "1h-30m", "99999999999999999999h", "3000000h"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
  }
}

TEST(OperatorConfig, BadAddressesAreErrors) {
  EXPECT_THAT(
      error_of("certificates:\n  extraIPAddresses: [10.0.0.1, 10.0.0.256]\n"),
      HasSubstr("certificates.extraIPAddresses[1]: must be an IPv4 or IPv6 "
                "address, got \"10.0.0.256\""));
  EXPECT_THAT(error_of("certificates:\n  extraIPAddresses: [\"fe80::1%eth0\"]"),
              HasSubstr("certificates.extraIPAddresses[0]"));
  EXPECT_THAT(error_of("certificates:\n  extraDNSNames: [\"bad name\"]\n"),
              HasSubstr("certificates.extraDNSNames[0]: must be a DNS name"));
  EXPECT_THAT(error_of("certificates:\n  serviceNames: [Mca_Operator]\n"),
              HasSubstr("certificates.serviceNames[0]: must be a Service "
                        "name"));
  EXPECT_THAT(error_of("injection:\n  operatorAddress: no-port\n"),
              HasSubstr("injection.operatorAddress: must be HOST:PORT"));
  EXPECT_THAT(error_of("injection:\n  excludedNamespaces: [Kube_System]\n"),
              HasSubstr("injection.excludedNamespaces[0]: must be a "
                        "namespace name"));
}

TEST(OperatorConfig, OutOfRangeValuesAreErrors) {
  EXPECT_THAT(error_of("injection:\n  tokenExpirationSeconds: 599\n"),
              HasSubstr("injection.tokenExpirationSeconds: must be between "
                        "600 and 86400, got 599"));
  EXPECT_THAT(error_of("injection:\n  tokenExpirationSeconds: 86401\n"),
              HasSubstr("injection.tokenExpirationSeconds"));
  EXPECT_THAT(error_of("injection:\n  adminPort: 0\n"),
              HasSubstr("injection.adminPort: must be between 1 and 65535"));
  EXPECT_THAT(error_of("injection:\n  adminPort: 6443\n"),
              HasSubstr("injection.adminPort: must not be 6443"));
  EXPECT_THAT(error_of("certificates:\n  renewFraction: 0.05\n"),
              HasSubstr("certificates.renewFraction: must be between 0.1 and "
                        "0.95"));
  EXPECT_THAT(error_of("certificates:\n  renewFraction: 1\n"),
              HasSubstr("certificates.renewFraction"));
  EXPECT_THAT(error_of("certificates:\n  caLifetime: 100h\n  leafLifetime: "
                       "200h\n"),
              HasSubstr("certificates.leafLifetime: must not be longer than "
                        "caLifetime (200h > 100h)"));
  EXPECT_THAT(error_of("certificates:\n  caLifetime: 1h\n  leafLifetime: 1h\n"
                       "  renewFraction: 0.9\n  bundlePropagation: 10m\n"),
              HasSubstr("certificates.bundlePropagation: must be shorter"));
  EXPECT_THAT(error_of("certificates:\n  serviceNames: []\n"),
              HasSubstr("would name no host"));
  EXPECT_THAT(error_of("injection:\n  resources:\n    requests:\n      cpu: "
                       "lots\n"),
              HasSubstr("injection.resources.requests.cpu: must be a quantity "
                        "such as \"20m\" or \"32Mi\", got \"lots\""));
}

TEST(OperatorConfig, MoreThanOneDocumentIsAnError) {
  EXPECT_THAT(error_of("injection: {}\n---\nwebhook: {}\n"),
              HasSubstr("expected one document, found 2"));
}

TEST(OperatorConfig, YamlSyntaxErrorNamesTheLine) {
  EXPECT_THAT(error_of("injection:\n  image: [\n"),
              HasSubstr("operator.yaml: line "));
}

TEST(OperatorConfig, LoadsAFileAndNamesAnUnreadableOne) {
  std::random_device random;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mca-operator-config-test-" + std::to_string(random()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "config.yaml";
  std::ofstream(path) << "injection:\n  imagePullPolicy: Never\n"
                         "  adminPort: nope\n";
  auto bad = load_operator_config(path);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message,
              HasSubstr(path.string() + ": injection.adminPort"));
  std::ofstream(path) << "injection:\n  imagePullPolicy: Never\n";
  auto good = load_operator_config(path);
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->injection.image_pull_policy, "Never");

  auto missing = load_operator_config(dir / "missing.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().source, error_source::config);
  EXPECT_THAT(missing.error().message,
              HasSubstr("cannot read " + (dir / "missing.yaml").string()));
  std::filesystem::remove_all(dir);
}

TEST(OperatorConfig, OperatorAddressDefaultsToTheOperatorService) {
  injection_config c;
  EXPECT_EQ(default_operator_address("mca-system"),
            "mca-operator.mca-system.svc:9443");
  EXPECT_EQ(resolved_operator_address(c, "ops"), "mca-operator.ops.svc:9443");
  c.operator_address = "mca.example:443";
  EXPECT_EQ(resolved_operator_address(c, "ops"), "mca.example:443");
}

TEST(OperatorConfig, CertificateDnsNamesCoverEveryServiceForm) {
  certificates_config c;
  c.service_names = {"mca-operator", "mca-webhook"};
  c.extra_dns_names = {"mca.example.com", "mca-operator"};
  EXPECT_THAT(
      certificate_dns_names(c, "mca-system"),
      ElementsAre("mca-operator", "mca-operator.mca-system",
                  "mca-operator.mca-system.svc",
                  "mca-operator.mca-system.svc.cluster.local", "mca-webhook",
                  "mca-webhook.mca-system", "mca-webhook.mca-system.svc",
                  "mca-webhook.mca-system.svc.cluster.local",
                  "mca.example.com"));
}

}  // namespace
}  // namespace mca::op
