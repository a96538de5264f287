#include "common/routing/routing_table.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

namespace mca::routing {
namespace {

std::string full_yaml() {
  return R"(
apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
policy: team-a/route-by-cluster
targets:
  - name: home
    server: https://127.0.0.1:6443
    caFile: /etc/ca.crt
    tlsServerName: kubernetes
    credentials:
      local: {}
  - name: east
    server: https://east.example:6443/prefix
    caData: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
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
defaultTarget: home
rules:
  - name: east-by-label
    match:
      verbs: [create, get, list]
      resources:
        - {group: "", resource: configmaps, subresource: ""}
        - {group: apps, resource: "*"}
      namespaces: ["team-*"]
      names: ["cm-*", "x?"]
      labelSelector:
        matchLabels: {cluster: east}
        matchExpressions:
          - {key: tier, operator: In, values: [gold, silver]}
          - {key: legacy, operator: DoesNotExist}
      annotations: {owner: team-a}
      userAgent: "kubectl/*"
    target: east
  - name: no-secrets
    match:
      resources: [{resource: secrets}]
    reject: {code: 451, message: "secrets stay home"}
  - match: {verbs: ["*"]}
    target: west
)";
}

// The same table as JSON, keys in a different order.
std::string full_json() {
  return R"({
  "kind": "RoutingTable",
  "apiVersion": "mca.x-k8s.io/v1alpha1",
  "rules": [
    {"target": "east", "name": "east-by-label",
     "match": {"userAgent": "kubectl/*",
               "annotations": {"owner": "team-a"},
               "labelSelector": {
                 "matchExpressions": [
                   {"values": ["gold", "silver"], "operator": "In", "key": "tier"},
                   {"operator": "DoesNotExist", "key": "legacy"}],
                 "matchLabels": {"cluster": "east"}},
               "names": ["cm-*", "x?"],
               "namespaces": ["team-*"],
               "resources": [
                 {"subresource": "", "resource": "configmaps", "group": ""},
                 {"resource": "*", "group": "apps"}],
               "verbs": ["create", "get", "list"]}},
    {"name": "no-secrets", "reject": {"message": "secrets stay home", "code": 451},
     "match": {"resources": [{"resource": "secrets"}]}},
    {"target": "west", "match": {"verbs": ["*"]}}
  ],
  "defaultTarget": "home",
  "targets": [
    {"credentials": {"local": {}}, "tlsServerName": "kubernetes",
     "caFile": "/etc/ca.crt", "server": "https://127.0.0.1:6443", "name": "home"},
    {"name": "east", "server": "https://east.example:6443/prefix",
     "caData": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
     "insecureSkipTLSVerify": true,
     "credentials": {"token": {"file": "/var/run/east/token"}}},
    {"name": "west", "server": "https://west.example",
     "credentials": {"clientCertificate": {"keyFile": "/w/tls.key", "certFile": "/w/tls.crt"}}},
    {"name": "north", "server": "https://north.example",
     "credentials": {"kubeconfig": {"context": "north", "file": "/k/config"}}}
  ],
  "policy": "team-a/route-by-cluster"
})";
}

routing_table parse_ok(const std::string& text) {
  auto t = routing_table::parse(text);
  if (!t) ADD_FAILURE() << t.error().message;
  return t.value();
}

TEST(RoutingTable, ParsesFullTable) {
  const routing_table t = parse_ok(full_yaml());
  EXPECT_EQ(t.policy, "team-a/route-by-cluster");
  ASSERT_EQ(t.targets.size(), 4U);
  EXPECT_EQ(t.targets[0].name, "home");
  EXPECT_EQ(t.targets[0].ca_file, "/etc/ca.crt");
  EXPECT_EQ(t.targets[0].tls_server_name, "kubernetes");
  EXPECT_TRUE(
      std::holds_alternative<local_credentials>(t.targets[0].credentials));
  EXPECT_TRUE(t.targets[1].insecure_skip_tls_verify);
  EXPECT_EQ(t.targets[1].ca_data,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  EXPECT_EQ(std::get<token_credentials>(t.targets[1].credentials).file,
            "/var/run/east/token");
  EXPECT_EQ(std::get<client_certificate_credentials>(t.targets[2].credentials)
                .key_file,
            "/w/tls.key");
  EXPECT_EQ(std::get<kubeconfig_credentials>(t.targets[3].credentials).context,
            "north");
  EXPECT_EQ(t.default_target, "home");
  EXPECT_NE(t.find_target("west"), nullptr);
  EXPECT_EQ(t.find_target("nowhere"), nullptr);

  ASSERT_EQ(t.rules.size(), 3U);
  const rule_match& m = t.rules[0].match;
  EXPECT_EQ(t.rules[0].target, "east");
  EXPECT_EQ(m.verbs, (std::vector<verb>{verb::create, verb::get, verb::list}));
  ASSERT_TRUE(m.resources.has_value());
  EXPECT_EQ((*m.resources)[0], (resource_match{"", "configmaps", ""}));
  // Absent subresource is "*", so apps/* covers deployments/scale too.
  EXPECT_EQ((*m.resources)[1], (resource_match{"apps", "*", "*"}));
  ASSERT_TRUE(m.names.has_value());
  EXPECT_EQ((*m.names)[1].pattern(), "x?");
  ASSERT_TRUE(m.labels.has_value());
  EXPECT_EQ(m.labels->match_labels.at("cluster"), "east");
  ASSERT_EQ(m.labels->match_expressions.size(), 2U);
  EXPECT_EQ(m.labels->match_expressions[0].operator_,
            label_requirement::op::in);
  EXPECT_EQ(m.labels->match_expressions[1].operator_,
            label_requirement::op::does_not_exist);
  EXPECT_EQ(m.annotations->at("owner"), "team-a");
  EXPECT_EQ(m.user_agent->pattern(), "kubectl/*");

  ASSERT_TRUE(t.rules[1].reject.has_value());
  EXPECT_EQ(t.rules[1].reject->code, 451);
  EXPECT_EQ(t.rules[1].reject->message, "secrets stay home");
  EXPECT_EQ((*t.rules[1].match.resources)[0],
            (resource_match{"*", "secrets", "*"}));
  // `verbs: ["*"]` is no condition at all.
  EXPECT_FALSE(t.rules[2].match.verbs.has_value());
  EXPECT_EQ(t.rules[2].display_name(2), "rules[2]");

  EXPECT_EQ(t.version.size(), 16U);
  EXPECT_EQ(t.version.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(RoutingTable, YamlAndJsonCompileToTheSameTableAndVersion) {
  const routing_table from_yaml = parse_ok(full_yaml());
  const routing_table from_json = parse_ok(full_json());
  EXPECT_TRUE(from_yaml == from_json);
  EXPECT_EQ(from_yaml.version, from_json.version);
}

TEST(RoutingTable, VersionIsStableAndFollowsContent) {
  const std::string a = R"(
apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
policy: p
targets: [{name: home, server: "https://h", credentials: {local: {}}}]
defaultTarget: home
)";
  const std::string reordered = R"(
defaultTarget: "home"
targets:
- credentials:
    local:
  server: https://h
  name: home
policy: "p"
kind: RoutingTable
apiVersion: mca.x-k8s.io/v1alpha1
)";
  const std::string changed = R"(
apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
policy: p
targets: [{name: home, server: "https://h2", credentials: {local: {}}}]
defaultTarget: home
)";
  EXPECT_EQ(parse_ok(a).version, parse_ok(a).version);
  EXPECT_EQ(parse_ok(a).version, parse_ok(reordered).version);
  EXPECT_NE(parse_ok(a).version, parse_ok(changed).version);
  EXPECT_EQ(parse_ok(a + "version: v42\n").version, "v42");
}

// ---------------------------------------------------------------- errors

std::string header() {
  return R"(apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
policy: p
)";
}
std::string targets() {
  return R"(targets:
  - name: home
    server: https://h
    credentials: {local: {}}
  - name: east
    server: https://e
    credentials: {token: {value: secret-token}}
)";
}

struct error_row {
  std::string label;
  std::string text;
  std::vector<std::string> want;  // substrings of the message
};

std::string with_rules(const std::string& rules) {
  return header() + targets() + "rules:\n" + rules;
}

std::string with_target(const std::string& target) {
  return header() + "targets:\n" + target;
}

// Rows print as their label, not as bytes. GoogleTest finds it by name.
// NOLINTNEXTLINE(readability-identifier-naming)
void PrintTo(const error_row& row, std::ostream* os) { *os << row.label; }

TEST(RoutingTable, ParsesAFanOutRule) {
  const auto t = routing_table::parse(
      header() + targets() +
      "rules:\n  - {name: all, targets: [east, home], partial: allow, "
      "writeTarget: home}\n  - {name: two, targets: [home, east]}\n");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_TRUE(t->rules[0].fan_out);
  EXPECT_EQ(t->rules[0].fan_out->targets,
            (std::vector<std::string>{"east", "home"}));
  EXPECT_TRUE(t->rules[0].fan_out->allow_partial);
  EXPECT_EQ(t->rules[0].fan_out->write_target, "home");
  EXPECT_TRUE(t->rules[0].target.empty());
  EXPECT_FALSE(t->rules[1].fan_out->allow_partial);  // deny by default
  EXPECT_FALSE(t->rules[1].fan_out->write_target);
  // A fan-out rule changes the version; its order of targets too.
  const auto swapped = routing_table::parse(
      header() + targets() +
      "rules:\n  - {name: all, targets: [home, east], partial: allow, "
      "writeTarget: home}\n  - {name: two, targets: [home, east]}\n");
  ASSERT_TRUE(swapped);
  EXPECT_NE(t->version, swapped->version);
}

class RoutingTableErrors : public ::testing::TestWithParam<error_row> {};

TEST_P(RoutingTableErrors, NamesWhereAndWhat) {
  const error_row& row = GetParam();
  const auto t = routing_table::parse(row.text, "table.yaml");
  ASSERT_FALSE(t.has_value()) << row.text;
  EXPECT_EQ(t.error().source, error_source::config);
  EXPECT_EQ(t.error().message.rfind("table.yaml: ", 0), 0U)
      << t.error().message;
  for (const std::string& want : row.want) {
    EXPECT_NE(t.error().message.find(want), std::string::npos)
        << "message: " << t.error().message << "\nwant: " << want;
  }
  // Messages never carry secrets, even when a field next to one is wrong.
  EXPECT_EQ(t.error().message.find("secret-token"), std::string::npos);
}

std::vector<error_row> error_rows() {
  return {
      {"not_yaml", "a: [", {"line"}},
      {"empty", "", {"is empty"}},
      {"not_a_map", "- a\n", {"must be a mapping"}},
      {"api_version",
       "apiVersion: v1\nkind: RoutingTable\npolicy: p\n" + targets(),
       {"apiVersion", "mca.x-k8s.io/v1alpha1", "\"v1\""}},
      {"kind",
       "apiVersion: mca.x-k8s.io/v1alpha1\nkind: ConfigMap\npolicy: p\n" +
           targets(),
       {"kind", "RoutingTable", "\"ConfigMap\""}},
      {"no_policy",
       "apiVersion: mca.x-k8s.io/v1alpha1\nkind: RoutingTable\n" + targets(),
       {"policy: is required"}},
      {"unknown_top_field",
       header() + targets() + "defaultTraget: home\n",
       {"defaultTraget: unknown field"}},
      {"no_targets", header(), {"targets: is required"}},
      {"empty_targets",
       header() + "targets: []\n",
       {"targets: must not be empty"}},
      {"duplicate_target",
       header() + targets() +
           "  - {name: east, server: \"https://x\", credentials: {local: "
           "{}}}\n",
       {"targets[2]", "name", "duplicate target \"east\""}},
      {"target_without_name",
       with_target("  - {server: \"https://x\", credentials: {local: {}}}\n"),
       {"targets[0].name: is required"}},
      {"target_without_server",
       with_target("  - {name: a, credentials: {local: {}}}\n"),
       {"targets[0] (\"a\").server: is required"}},
      {"http_server",
       with_target(
           "  - {name: a, server: \"http://x\", credentials: {local: {}}}\n"),
       {"targets[0] (\"a\").server", "https://", "\"http://x\""}},
      {"server_not_url",
       with_target(
           "  - {name: a, server: \"x y\", credentials: {local: {}}}\n"),
       {"targets[0] (\"a\").server", "https://"}},
      {"ca_file_and_data",
       with_target(
           "  - {name: a, server: \"https://x\", caFile: /a, caData: b, "
           "credentials: {local: {}}}\n"),
       {"targets[0] (\"a\")", "caFile and caData"}},
      {"insecure_not_bool",
       with_target(
           "  - {name: a, server: \"https://x\", insecureSkipTLSVerify: "
           "maybe, credentials: {local: {}}}\n"),
       {"targets[0] (\"a\").insecureSkipTLSVerify", "true or false"}},
      {"unknown_target_field",
       with_target("  - {name: a, server: \"https://x\", sever: y, "
                   "credentials: {local: {}}}\n"),
       {"targets[0] (\"a\").sever: unknown field"}},
      {"no_credentials",
       with_target("  - {name: a, server: \"https://x\"}\n"),
       {"targets[0] (\"a\").credentials: is required"}},
      {"two_credentials",
       with_target("  - {name: a, server: \"https://x\", credentials: "
                   "{local: {}, token: {value: secret-token}}}\n"),
       {"targets[0] (\"a\").credentials", "exactly one of local, token"}},
      {"zero_credentials",
       with_target("  - {name: a, server: \"https://x\", credentials: {}}\n"),
       {"targets[0] (\"a\").credentials", "exactly one of"}},
      {"unknown_credentials",
       with_target("  - {name: a, server: \"https://x\", credentials: "
                   "{password: x}}\n"),
       {"targets[0] (\"a\").credentials.password: unknown field"}},
      {"token_file_and_value",
       with_target("  - {name: a, server: \"https://x\", credentials: "
                   "{token: {file: /t, value: secret-token}}}\n"),
       {"targets[0] (\"a\").credentials.token", "exactly one of file, value"}},
      {"token_neither",
       with_target("  - {name: a, server: \"https://x\", credentials: "
                   "{token: {}}}\n"),
       {"credentials.token", "exactly one of file, value"}},
      {"cert_without_key",
       with_target("  - {name: a, server: \"https://x\", credentials: "
                   "{clientCertificate: {certFile: /c}}}\n"),
       {"credentials.clientCertificate",
        "either certFile and keyFile, or certData and keyData"}},
      {"cert_file_and_data_mixed",
       with_target("  - {name: a, server: \"https://x\", credentials: "
                   "{clientCertificate: {certFile: /c, keyData: k}}}\n"),
       {"credentials.clientCertificate",
        "either certFile and keyFile, or certData and keyData"}},
      {"kubeconfig_without_file",
       with_target("  - {name: a, server: \"https://x\", credentials: "
                   "{kubeconfig: {context: c}}}\n"),
       {"credentials.kubeconfig.file: is required"}},
      {"local_with_fields",
       with_target("  - {name: a, server: \"https://x\", credentials: "
                   "{local: {token: x}}}\n"),
       {"credentials.local.token: unknown field"}},
      {"unknown_default",
       header() + targets() + "defaultTarget: west\n",
       {"defaultTarget", "unknown target \"west\""}},
      {"unknown_rule_target",
       with_rules("  - {name: r1, target: west}\n"),
       {"rules[0] (\"r1\").target", "unknown target \"west\""}},
      {"rule_by_index",
       with_rules("  - {target: home}\n  - {target: west}\n"),
       {"rules[1].target", "unknown target \"west\""}},
      {"target_and_reject",
       with_rules("  - {name: r1, target: home, reject: {code: 403}}\n"),
       {"rules[0] (\"r1\")", "exactly one of target, targets, reject"}},
      {"neither_target_nor_reject",
       with_rules("  - {name: r1}\n"),
       {"rules[0] (\"r1\")", "exactly one of target, targets, reject"}},
      {"targets_and_target",
       with_rules("  - {name: r1, target: home, targets: [home, east]}\n"),
       {"rules[0] (\"r1\")", "exactly one of target, targets, reject"}},
      {"targets_one",
       with_rules("  - {name: r1, targets: [home]}\n"),
       {"rules[0] (\"r1\").targets", "two or more targets"}},
      {"targets_not_a_list",
       with_rules("  - {name: r1, targets: home}\n"),
       {"rules[0] (\"r1\").targets", "must be a list"}},
      {"targets_twice",
       with_rules("  - {name: r1, targets: [home, east, home]}\n"),
       {"rules[0] (\"r1\").targets[2]", "names \"home\" twice"}},
      {"targets_unknown",
       with_rules("  - {name: r1, targets: [home, west]}\n"),
       {"rules[0] (\"r1\").targets[1]", "unknown target \"west\""}},
      {"partial_bad",
       with_rules("  - {name: r1, targets: [home, east], partial: maybe}\n"),
       {"rules[0] (\"r1\").partial", "must be deny or allow"}},
      {"partial_without_targets",
       with_rules("  - {name: r1, target: home, partial: allow}\n"),
       {"rules[0] (\"r1\").partial", "only allowed with targets"}},
      {"write_target_unknown",
       with_rules("  - {name: r1, targets: [home, east], writeTarget: west}\n"),
       {"rules[0] (\"r1\").writeTarget", "unknown target \"west\""}},
      {"write_target_not_among_targets",
       header() + targets() +
           "  - {name: west, server: https://w, credentials: {local: {}}}\n"
           "rules:\n  - {name: r1, targets: [home, east], writeTarget: "
           "west}\n",
       {"rules[0] (\"r1\").writeTarget", "must be one of targets (home, east)",
        "\"west\""}},
      {"write_target_without_targets",
       with_rules("  - {name: r1, target: home, writeTarget: east}\n"),
       {"rules[0] (\"r1\").writeTarget", "only allowed with targets"}},
      {"reject_code_low",
       with_rules("  - {name: r1, reject: {code: 399}}\n"),
       {"rules[0] (\"r1\").reject.code", "400 to 599", "\"399\""}},
      {"reject_code_high",
       with_rules("  - {name: r1, reject: {code: 600}}\n"),
       {"rules[0] (\"r1\").reject.code", "400 to 599"}},
      {"reject_code_text",
       with_rules("  - {name: r1, reject: {code: forbidden}}\n"),
       {"rules[0] (\"r1\").reject.code", "400 to 599"}},
      {"reject_unknown_field",
       with_rules("  - {name: r1, reject: {status: 403}}\n"),
       {"rules[0] (\"r1\").reject.status: unknown field"}},
      {"unknown_verb",
       with_rules(
           "  - {name: r1, match: {verbs: [get, fetch]}, target: home}\n"),
       {"rules[0] (\"r1\").match.verbs[1]", "unknown verb \"fetch\""}},
      {"verbs_not_list",
       with_rules("  - {name: r1, match: {verbs: get}, target: home}\n"),
       {"rules[0] (\"r1\").match.verbs: must be a list"}},
      {"empty_verbs",
       with_rules("  - {name: r1, match: {verbs: []}, target: home}\n"),
       {"rules[0] (\"r1\").match.verbs: must not be empty"}},
      {"resource_missing",
       with_rules("  - {name: r1, match: {resources: [{group: apps}]}, "
                  "target: home}\n"),
       {"rules[0] (\"r1\").match.resources[0].resource: is required"}},
      {"resource_unknown_field",
       with_rules("  - {name: r1, match: {resources: [{resource: pods, "
                  "verb: get}]}, target: home}\n"),
       {"rules[0] (\"r1\").match.resources[0].verb: unknown field"}},
      {"bad_operator",
       with_rules("  - name: r1\n    target: home\n    match:\n"
                  "      labelSelector:\n        matchExpressions:\n"
                  "          - {key: a, operator: Equals, values: [b]}\n"),
       {"rules[0] (\"r1\").match.labelSelector.matchExpressions[0].operator",
        "\"Equals\""}},
      {"in_without_values",
       with_rules("  - name: r1\n    target: home\n    match:\n"
                  "      labelSelector:\n        matchExpressions:\n"
                  "          - {key: a, operator: In}\n"),
       {"rules[0] (\"r1\").match.labelSelector.matchExpressions[0].values",
        "must not be empty for operator In"}},
      {"notin_empty_values",
       with_rules("  - name: r1\n    target: home\n    match:\n"
                  "      labelSelector:\n        matchExpressions:\n"
                  "          - {key: a, operator: NotIn, values: []}\n"),
       {"matchExpressions[0].values", "must not be empty for operator NotIn"}},
      {"exists_with_values",
       with_rules("  - name: r1\n    target: home\n    match:\n"
                  "      labelSelector:\n        matchExpressions:\n"
                  "          - {key: a, operator: Exists, values: [b]}\n"),
       {"rules[0] (\"r1\").match.labelSelector.matchExpressions[0].values",
        "must be empty for operator Exists"}},
      {"selector_unknown_field",
       with_rules("  - name: r1\n    target: home\n    match:\n"
                  "      labelSelector: {matchLabel: {a: b}}\n"),
       {"rules[0] (\"r1\").match.labelSelector.matchLabel: unknown field"}},
      {"empty_namespace_glob",
       with_rules("  - {name: r1, match: {namespaces: [a, \"\"]}, "
                  "target: home}\n"),
       {"rules[0] (\"r1\").match.namespaces[1]", "must not be empty"}},
      {"empty_name_glob",
       with_rules("  - {name: r1, match: {names: [\"\"]}, target: home}\n"),
       {"rules[0] (\"r1\").match.names[0]", "must not be empty"}},
      {"empty_user_agent_glob",
       with_rules("  - {name: r1, match: {userAgent: \"\"}, target: home}\n"),
       {"rules[0] (\"r1\").match.userAgent", "must not be empty"}},
      {"annotations_not_map",
       with_rules("  - {name: r1, match: {annotations: [a]}, target: home}\n"),
       {"rules[0] (\"r1\").match.annotations: must be a mapping"}},
      {"typo_in_match",
       with_rules("  - name: r1\n    target: home\n    match:\n"
                  "      namepsaces: [a]\n"),
       {"rules[0] (\"r1\").match.namepsaces: unknown field"}},
      {"typo_in_rule",
       with_rules("  - {name: r1, target: home, matches: {}}\n"),
       {"rules[0] (\"r1\").matches: unknown field"}},
      {"duplicate_rule_name",
       with_rules(
           "  - {name: r1, target: home}\n  - {name: r1, target: east}\n"),
       {"rules[1] (\"r1\").name", "duplicate rule name"}},
      {"duplicate_field",
       with_rules("  - {name: r1, target: home, target: east}\n"),
       {"rules[0] (\"r1\").target: duplicate field"}},
      {"rules_not_list",
       header() + targets() + "rules: {a: b}\n",
       {"rules: must be a list"}},
      {"empty_version",
       header() + targets() + "version: \"\"\n",
       {"version: must not be empty"}},
  };
}

INSTANTIATE_TEST_SUITE_P(All, RoutingTableErrors,
                         ::testing::ValuesIn(error_rows()),
                         [](const ::testing::TestParamInfo<error_row>& param) {
                           return param.param.label;
                         });

// ---------------------------------------------------------------- files

class RoutingTableFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("routing_table_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name,
                              const std::string& text) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(RoutingTableFile, LoadsYamlAndJson) {
  const auto from_yaml = load_routing_table_file(write("t.yaml", full_yaml()));
  ASSERT_TRUE(from_yaml.has_value()) << from_yaml.error().message;
  const auto from_json = load_routing_table_file(write("t.json", full_json()));
  ASSERT_TRUE(from_json.has_value()) << from_json.error().message;
  EXPECT_TRUE(*from_yaml == *from_json);
}

TEST_F(RoutingTableFile, ErrorsNameThePath) {
  const auto missing = dir_ / "missing.yaml";
  const auto t = load_routing_table_file(missing);
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().source, error_source::config);
  EXPECT_NE(t.error().message.find(missing.string()), std::string::npos)
      << t.error().message;
  EXPECT_NE(t.error().message.find("No such file"), std::string::npos)
      << t.error().message;

  const auto bad = write("bad.yaml", header() + targets() + "rules: {a: b}\n");
  const auto b = load_routing_table_file(bad);
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().message.find(bad.string() + ": rules: must be a list"),
            std::string::npos)
      << b.error().message;
}

TEST(Glob, Matches) {
  struct row {
    std::string pattern;
    std::string text;
    bool want;
  };
  const row rows[] = {
      {"*", "", true},
      {"*", "abc", true},
      {"team-*", "team-a", true},
      {"team-*", "team", false},
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"*b*", "abc", true},
      {"*b*", "acd", false},
      {"a*c*e", "abxcyce", true},
      {"a*c*e", "abxcycf", false},
      {"kubectl/*", "kubectl/v1.29 (linux)", true},
      {"exact", "exact", true},
      {"exact", "exactly", false},
      {"**a", "a", true},
      {"?*", "", false},
  };
  for (const row& r : rows) {
    const auto g = glob::parse(r.pattern);
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(g->matches(r.text), r.want) << r.pattern << " vs " << r.text;
  }
  EXPECT_FALSE(glob::parse("").has_value());
}

}  // namespace
}  // namespace mca::routing
