#include "common/routing/table_json.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/routing/routing_table.hpp"

namespace mca::routing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Every field of the schema, every credential kind and label operator, and
// both actions, so that a field the JSON forgot shows up as a difference.
constexpr const char* every_field = R"(
apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
version: v42
policy: team-a/route-by-cluster
targets:
  - name: home
    server: https://127.0.0.1:6443
    caFile: /etc/ca.crt
    tlsServerName: kubernetes
    credentials: {local: {}}
  - name: east
    server: https://east.example:6443/prefix
    insecureSkipTLSVerify: true
    credentials:
      token: {file: /var/run/east/token}
  - name: west
    server: https://west.example
    credentials:
      clientCertificate: {certFile: /w/tls.crt, keyFile: /w/tls.key}
  - name: north
    server: https://north.example
    credentials:
      kubeconfig: {file: /k/config, context: north}
  - name: south
    server: https://south.example
    credentials:
      kubeconfig: {file: /k/south}
defaultTarget: home
rules:
  - name: east-by-label
    match:
      verbs: [create, get, list, delete, deletecollection]
      resources:
        - {group: "", resource: configmaps, subresource: ""}
        - {group: apps, resource: "*"}
        - {resource: pods}
      namespaces: ["team-*"]
      names: ["cm-*", "x?"]
      labelSelector:
        matchLabels: {cluster: east}
        matchExpressions:
          - {key: tier, operator: In, values: [gold, silver]}
          - {key: zone, operator: NotIn, values: [z1]}
          - {key: owner, operator: Exists}
          - {key: legacy, operator: DoesNotExist}
      annotations: {owner: team-a, "example.com/x": "1"}
      userAgent: "kubectl/*"
    target: east
  - match:
      verbs: [connect]
    reject: {code: 451, message: "no exec here"}
  - name: plain-reject
    match: {names: [forbidden]}
    reject: {}
  - name: everything-else
    target: west
)";

routing_table parse_or_fail(const std::string& text) {
  auto t = routing_table::parse(text, "test");
  EXPECT_TRUE(t) << t.error().message;
  if (!t) std::abort();
  return std::move(*t);
}

TEST(TableJson, EveryFieldRoundTripsThroughTheParser) {
  const routing_table table = parse_or_fail(every_field);
  const nlohmann::json j = to_redacted_json(table);
  // The parser reads JSON as YAML, so the endpoint's output is itself a
  // routes file; reading it back must give the same table.
  const routing_table again = parse_or_fail(j.dump());
  EXPECT_EQ(again, table) << j.dump(2);
}

TEST(TableJson, ContentVersionIsShownAndRoundTrips) {
  std::string text = every_field;
  text.erase(text.find("version: v42\n"), 13);
  const routing_table table = parse_or_fail(text);
  ASSERT_EQ(table.version.size(), 16U);
  const nlohmann::json j = to_redacted_json(table);
  EXPECT_EQ(j.at("version"), table.version);
  EXPECT_EQ(parse_or_fail(j.dump()), table);
}

TEST(TableJson, FieldsUseTheFileSchemaNames) {
  const nlohmann::json j = to_redacted_json(parse_or_fail(every_field));
  EXPECT_EQ(j.at("version"), "v42");
  EXPECT_EQ(j.at("policy"), "team-a/route-by-cluster");
  EXPECT_EQ(j.at("defaultTarget"), "home");

  const nlohmann::json& home = j.at("targets").at(0);
  EXPECT_EQ(home.at("name"), "home");
  EXPECT_EQ(home.at("server"), "https://127.0.0.1:6443");
  EXPECT_EQ(home.at("caFile"), "/etc/ca.crt");
  EXPECT_EQ(home.at("tlsServerName"), "kubernetes");
  EXPECT_EQ(home.at("insecureSkipTLSVerify"), false);
  EXPECT_EQ(home.at("credentials"), nlohmann::json::parse(R"({"local":{}})"));
  EXPECT_EQ(j.at("targets").at(1).at("insecureSkipTLSVerify"), true);
  EXPECT_EQ(
      j.at("targets").at(1).at("credentials"),
      nlohmann::json::parse(R"({"token":{"file":"/var/run/east/token"}})"));
  EXPECT_EQ(
      j.at("targets").at(2).at("credentials"),
      nlohmann::json::parse(
          R"({"clientCertificate":{"certFile":"/w/tls.crt","keyFile":"/w/tls.key"}})"));
  EXPECT_EQ(j.at("targets").at(3).at("credentials"),
            nlohmann::json::parse(
                R"({"kubeconfig":{"file":"/k/config","context":"north"}})"));

  const nlohmann::json& rule = j.at("rules").at(0);
  EXPECT_EQ(rule.at("name"), "east-by-label");
  EXPECT_EQ(rule.at("target"), "east");
  EXPECT_FALSE(rule.contains("reject"));
  const nlohmann::json& match = rule.at("match");
  EXPECT_EQ(match.at("verbs"),
            nlohmann::json::parse(
                R"(["create","get","list","delete","deletecollection"])"));
  EXPECT_EQ(match.at("resources").at(2),
            nlohmann::json::parse(
                R"({"group":"*","resource":"pods","subresource":"*"})"));
  EXPECT_EQ(match.at("namespaces"), nlohmann::json::parse(R"(["team-*"])"));
  EXPECT_EQ(match.at("names"), nlohmann::json::parse(R"(["cm-*","x?"])"));
  EXPECT_EQ(match.at("labelSelector").at("matchLabels"),
            nlohmann::json::parse(R"({"cluster":"east"})"));
  EXPECT_EQ(match.at("labelSelector").at("matchExpressions").at(1),
            nlohmann::json::parse(
                R"({"key":"zone","operator":"NotIn","values":["z1"]})"));
  EXPECT_EQ(
      match.at("labelSelector").at("matchExpressions").at(3),
      nlohmann::json::parse(R"({"key":"legacy","operator":"DoesNotExist"})"));
  EXPECT_EQ(match.at("annotations").at("owner"), "team-a");
  EXPECT_EQ(match.at("userAgent"), "kubectl/*");

  const nlohmann::json& unnamed = j.at("rules").at(1);
  EXPECT_FALSE(unnamed.contains("name"));
  EXPECT_FALSE(unnamed.contains("target"));
  EXPECT_EQ(unnamed.at("reject"),
            nlohmann::json::parse(R"({"code":451,"message":"no exec here"})"));
  EXPECT_EQ(j.at("rules").at(3).at("match"), nlohmann::json::object());
}

TEST(TableJson, TokenValueNeverAppears) {
  const std::string secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.sig";
  const routing_table table = parse_or_fail(R"(
apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
policy: p
targets:
  - name: east
    server: https://east.example
    credentials:
      token: {value: ")" + secret + R"("}
defaultTarget: east
)");
  const nlohmann::json j = to_redacted_json(table);
  EXPECT_THAT(j.dump(), Not(HasSubstr(secret)));
  EXPECT_THAT(j.dump(), Not(HasSubstr("c2VjcmV0LXRva2Vu")));
  EXPECT_EQ(j.at("targets").at(0).at("credentials"),
            nlohmann::json::parse(R"({"token":{"value":"<redacted>"}})"));
}

TEST(TableJson, ClientKeyDataNeverAppearsAndImpersonationShows) {
  const routing_table table = parse_or_fail(R"(
apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
policy: p
targets:
  - name: east
    server: https://east.example
    impersonateUser: "system:serviceaccount:team-a:builder"
    credentials:
      clientCertificate: {certData: "CERT-PEM", keyData: "PRIVATE-KEY-PEM"}
defaultTarget: east
)");
  const nlohmann::json j = to_redacted_json(table);
  EXPECT_THAT(j.dump(), Not(HasSubstr("PRIVATE-KEY-PEM")));
  EXPECT_EQ(
      j.at("targets").at(0).at("credentials"),
      nlohmann::json::parse(
          R"({"clientCertificate":{"certData":"<8 bytes>","keyData":"<redacted>"}})"));
  EXPECT_EQ(j.at("targets").at(0).at("impersonateUser"),
            "system:serviceaccount:team-a:builder");
}

TEST(TableJson, CaDataShowsItsSizeOnly) {
  const std::string pem =
      R"(-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n)";
  const routing_table table = parse_or_fail(R"(
apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
policy: p
targets:
  - name: east
    server: https://east.example
    caData: ")" + pem + R"("
    credentials: {local: {}}
)");
  const nlohmann::json j = to_redacted_json(table);
  const std::size_t size = table.targets.at(0).ca_data.size();
  EXPECT_EQ(j.at("targets").at(0).at("caData"),
            "<" + std::to_string(size) + " bytes>");
  EXPECT_THAT(j.dump(), Not(HasSubstr("MIIBdummy")));
  EXPECT_FALSE(j.contains("defaultTarget"));
}

}  // namespace
}  // namespace mca::routing
