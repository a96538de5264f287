#include "operator/compile/policy_compiler.hpp"

#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/routing/routing_table.hpp"

namespace mca::op {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

cluster_target target(const std::string& name,
                      std::optional<std::vector<std::string>> allowed = {}) {
  cluster_target t;
  t.name = name;
  t.server = "https://" + name + ".example:6443";
  t.allowed.names = std::move(allowed);
  return t;
}

routing_policy policy(const std::string& ns, const std::string& name,
                      json rules, std::optional<std::string> default_target,
                      int priority = 0) {
  routing_policy p;
  p.namespace_name = ns;
  p.name = name;
  p.rules = std::move(rules);
  p.default_target = std::move(default_target);
  p.priority = priority;
  return p;
}

pod_info pod(const std::string& ns = "team-a") {
  pod_info p;
  p.namespace_name = ns;
  p.name = "app-0";
  p.uid = "uid-1";
  p.service_account = "builder";
  p.labels = {{"app", "demo"}};
  return p;
}

mca::result<json> ok(json j) {
  return mca::result<json>(boost::system::in_place_value, std::move(j));
}

class PolicyCompiler : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* n : {"home", "east", "west"}) {
      targets_.emplace(n, target(n, std::vector<std::string>{"team-a"}));
      resolved_.emplace(
          n, ok(json{{"name", n},
                     {"server", std::string("https://") + n + ".example:6443"},
                     {"credentials",
                      {{"token", {{"value", std::string("tok-") + n}}}}}}));
    }
    facts_.operator_namespace = "mca-system";
  }

  std::map<std::string, cluster_target> targets_;
  std::map<std::string, mca::result<json>> resolved_;
  namespace_facts facts_;
};

const json by_region = json::parse(R"([
  {"name": "east", "match": {"labelSelector": {"matchLabels": {"region": "east"}}}, "target": "east"},
  {"name": "west", "match": {"labelSelector": {"matchLabels": {"region": "west"}}}, "target": "west"}
])");

TEST_F(PolicyCompiler, AcceptsAPolicyWhoseTargetsAllowItsNamespace) {
  const auto v =
      judge_policy(policy("team-a", "p", by_region, "home"), targets_, facts_);
  EXPECT_TRUE(v.accepted) << v.message;
  EXPECT_EQ(v.reason, "Accepted");
  EXPECT_EQ(v.targets, (std::set<std::string>{"east", "home", "west"}));
}

TEST_F(PolicyCompiler, RefusesEachKindOfBadPolicyWithItsReason) {
  struct row {
    std::string name;
    routing_policy p;
    std::string reason;
    std::string message;
  };
  const std::vector<row> rows = {
      {"unknown rule target",
       policy("team-a", "p",
              json::parse(R"([{"name": "r", "target": "north"}])"), "home"),
       "UnknownTarget", "ClusterTarget \"north\" does not exist"},
      {"unknown default", policy("team-a", "p", json::array(), "south"),
       "UnknownTarget", "ClusterTarget \"south\" does not exist"},
      {"namespace not allowed", policy("team-b", "p", by_region, "home"),
       "TargetNotAllowed",
       "ClusterTarget \"home\" does not allow RoutingPolicies in namespace "
       "\"team-b\""},
      {"unknown verb",
       policy(
           "team-a", "p",
           json::parse(
               R"([{"name": "r", "match": {"verbs": ["fly"]}, "target": "east"}])"),
           "home"),
       "InvalidRule", "spec.rules[0] (\"r\").match.verbs"},
      {"both actions",
       policy(
           "team-a", "p",
           json::parse(
               R"([{"name": "r", "target": "east", "reject": {"message": "no"}}])"),
           "home"),
       "InvalidRule", "spec.rules[0] (\"r\")"},
      {"reject code out of range",
       policy("team-a", "p",
              json::parse(R"([{"name": "r", "reject": {"code": 200}}])"),
              "home"),
       "InvalidRule", "400 to 599"},
      {"selector operator needs values",
       policy("team-a", "p",
              json::parse(
                  R"([{"name": "r", "target": "east", "match": {"labelSelector":
                {"matchExpressions": [{"key": "k", "operator": "In"}]}}}])"),
              "home"),
       "InvalidRule", "must not be empty for operator In"},
  };
  for (const auto& r : rows) {
    const auto v = judge_policy(r.p, targets_, facts_);
    EXPECT_FALSE(v.accepted) << r.name;
    EXPECT_EQ(v.reason, r.reason) << r.name;
    EXPECT_THAT(v.message, HasSubstr(r.message)) << r.name << ": " << v.message;
  }
}

// One fan-out rule, then the policy around it.
routing_policy fan_out_policy(const std::string& ns, json rule,
                              std::optional<std::string> default_target = {}) {
  rule["name"] = "r";
  return policy(ns, "p", json::array({std::move(rule)}),
                std::move(default_target));
}

TEST_F(PolicyCompiler, CompilesFanOutRulesWithPartialAndWriteTarget) {
  const auto p = policy("team-a", "p", json::parse(R"([
    {"name": "spread", "match": {"verbs": ["list", "watch", "create"]},
     "targets": ["east", "west"], "partial": "allow", "writeTarget": "west"},
    {"name": "strict", "targets": ["west", "east"]}
  ])"),
                        std::nullopt);
  const auto v = judge_policy(p, targets_, facts_);
  EXPECT_TRUE(v.accepted) << v.message;
  EXPECT_EQ(v.targets, (std::set<std::string>{"east", "west"}));

  auto table = compile_pod_table(pod(), {&p}, targets_, resolved_);
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ(table->targets, (std::set<std::string>{"east", "west"}));
  auto parsed = routing::routing_table::parse(table->json);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->rules.size(), 2U);
  EXPECT_EQ(parsed->rules[0].name, "p/spread");
  ASSERT_TRUE(parsed->rules[0].fan_out);
  EXPECT_EQ(*parsed->rules[0].fan_out,
            (routing::fan_out_action{{"east", "west"}, true, "west"}));
  EXPECT_TRUE(parsed->rules[0].target.empty());
  // partial absent: deny; writeTarget absent: creates are refused.
  ASSERT_TRUE(parsed->rules[1].fan_out);
  EXPECT_EQ(*parsed->rules[1].fan_out,
            (routing::fan_out_action{{"west", "east"}, false, std::nullopt}));
}

TEST_F(PolicyCompiler, StatusTargetsIncludeFanOutTargets) {
  const auto v = judge_policy(
      fan_out_policy("team-a",
                     {{"targets", {"west", "east"}}, {"writeTarget", "east"}},
                     "home"),
      targets_, facts_);
  EXPECT_TRUE(v.accepted) << v.message;
  EXPECT_EQ(v.targets, (std::set<std::string>{"east", "home", "west"}));
}

TEST_F(PolicyCompiler, RefusesEachKindOfBadFanOutRuleWithItsReason) {
  targets_.emplace("north",
                   target("north", std::vector<std::string>{"team-b"}));
  struct row {
    std::string name;
    json rule;  // named "r" by fan_out_policy
    std::string reason;
    std::string message;
  };
  const std::vector<row> rows = {
      {"unknown target in targets",
       {{"targets", {"east", "south"}}},
       "UnknownTarget",
       "ClusterTarget \"south\" does not exist"},
      {"unknown writeTarget",
       {{"targets", {"east", "west"}}, {"writeTarget", "south"}},
       "UnknownTarget",
       "ClusterTarget \"south\" does not exist"},
      {"target in targets not allowed",
       {{"targets", {"east", "north"}}},
       "TargetNotAllowed",
       "ClusterTarget \"north\" does not allow RoutingPolicies in namespace "
       "\"team-a\""},
      {"duplicate target",
       {{"targets", {"east", "west", "east"}}},
       "InvalidRule",
       "spec.rules[0] (\"r\").targets[2]: names \"east\" twice"},
      {"fewer than two targets",
       {{"targets", {"east"}}},
       "InvalidRule",
       "spec.rules[0] (\"r\").targets: must name two or more targets"},
      {"targets not a list",
       {{"targets", "east"}},
       "InvalidRule",
       "spec.rules[0] (\"r\").targets: must be a list"},
      {"writeTarget not among targets",
       {{"targets", {"east", "west"}}, {"writeTarget", "home"}},
       "InvalidRule",
       "spec.rules[0] (\"r\").writeTarget: must be one of targets (east, "
       "west), got \"home\""},
      {"partial without targets",
       {{"target", "east"}, {"partial", "allow"}},
       "InvalidRule",
       "spec.rules[0] (\"r\").partial: is only allowed with targets"},
      {"writeTarget without targets",
       {{"target", "east"}, {"writeTarget", "east"}},
       "InvalidRule",
       "spec.rules[0] (\"r\").writeTarget: is only allowed with targets"},
      {"partial neither deny nor allow",
       {{"targets", {"east", "west"}}, {"partial", "maybe"}},
       "InvalidRule",
       "spec.rules[0] (\"r\").partial: must be deny or allow"},
      {"target and targets",
       {{"target", "east"}, {"targets", {"east", "west"}}},
       "InvalidRule",
       "spec.rules[0] (\"r\"): must set exactly one of target, targets, "
       "reject"},
  };
  for (const auto& r : rows) {
    const auto v =
        judge_policy(fan_out_policy("team-a", r.rule), targets_, facts_);
    EXPECT_FALSE(v.accepted) << r.name;
    EXPECT_EQ(v.reason, r.reason) << r.name << ": " << v.message;
    EXPECT_THAT(v.message, HasSubstr(r.message)) << r.name << ": " << v.message;
  }
}

TEST_F(PolicyCompiler, AllowedNamespacesByNameSelectorOrTheOperatorsOwn) {
  cluster_target only_operator = target("t");
  EXPECT_TRUE(target_allows_namespace(only_operator, "mca-system", facts_));
  EXPECT_FALSE(target_allows_namespace(only_operator, "team-a", facts_));

  cluster_target by_selector = target("t");
  routing::label_selector sel;
  sel.match_labels = {{"mca-access", "east"}};
  by_selector.allowed.selector = sel;
  facts_.labels["team-a"] = {{"mca-access", "east"}};
  facts_.labels["team-b"] = {{"mca-access", "west"}};
  EXPECT_TRUE(target_allows_namespace(by_selector, "team-a", facts_));
  EXPECT_FALSE(target_allows_namespace(by_selector, "team-b", facts_));
  EXPECT_FALSE(target_allows_namespace(by_selector, "team-c", facts_));
  // Once allowedNamespaces is set, the operator's namespace is not implied.
  EXPECT_FALSE(target_allows_namespace(by_selector, "mca-system", facts_));
}

TEST_F(PolicyCompiler, SelectsPodsOfItsNamespaceByLabels) {
  routing_policy p = policy("team-a", "p", by_region, "home");
  EXPECT_TRUE(policy_selects(p, pod()));  // empty selector: every pod
  p.pod_selector.match_labels = {{"app", "demo"}};
  EXPECT_TRUE(policy_selects(p, pod()));
  p.pod_selector.match_labels = {{"app", "other"}};
  EXPECT_FALSE(policy_selects(p, pod()));
  p.pod_selector.match_labels.clear();
  EXPECT_FALSE(policy_selects(p, pod("team-b")));
}

TEST_F(PolicyCompiler, MergesByPriorityThenNameFirstDefaultWins) {
  const auto low =
      policy("team-a", "a-low",
             json::parse(R"([{"name": "r", "target": "west"}])"), "west", -5);
  const auto high = policy("team-a", "z-high", by_region, "home", 10);
  const auto mid_b =
      policy("team-a", "b", json::parse(R"([{"name": "r", "target": "east"}])"),
             std::nullopt, 0);
  const auto mid_a =
      policy("team-a", "a", json::parse(R"([{"name": "r", "target": "east"}])"),
             std::nullopt, 0);
  auto table = compile_pod_table(pod(), {&low, &mid_b, &high, &mid_a}, targets_,
                                 resolved_);
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_THAT(table->policies, ElementsAre("team-a/z-high", "team-a/a",
                                           "team-a/b", "team-a/a-low"));
  const json j = json::parse(table->json);
  std::vector<std::string> rule_names;
  for (const auto& r : j["rules"]) rule_names.push_back(r["name"]);
  EXPECT_THAT(rule_names, ElementsAre("z-high/east", "z-high/west", "a/r",
                                      "b/r", "a-low/r"));
  EXPECT_EQ(j["defaultTarget"], "home");
  EXPECT_EQ(j["policy"], "team-a/z-high,team-a/a,team-a/b,team-a/a-low");
  EXPECT_EQ(j["version"], table->version);
  // What the sidecar will load from it.
  auto parsed = routing::routing_table::parse(table->json);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->version, table->version);
  EXPECT_EQ(parsed->rules.size(), 5U);
}

TEST_F(PolicyCompiler, VersionDependsOnContentOnly) {
  const auto a = policy("team-a", "a", by_region, "home", 1);
  const auto b =
      policy("team-a", "b", json::parse(R"([{"name": "r", "target": "east"}])"),
             std::nullopt);
  auto first = compile_pod_table(pod(), {&a, &b}, targets_, resolved_);
  auto again = compile_pod_table(pod(), {&b, &a}, targets_, resolved_);
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->version, again->version);
  EXPECT_EQ(first->json, again->json);
  EXPECT_EQ(first->version.size(), 16U);

  // A pod with other labels but the same policies gets the same table.
  pod_info other = pod();
  other.name = "app-1";
  other.labels = {{"app", "demo"}, {"extra", "x"}};
  auto same = compile_pod_table(other, {&a, &b}, targets_, resolved_);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->version, first->version);

  // Any change of content changes the version: a rule, a credential.
  auto changed_rule = a;
  changed_rule.rules[0]["target"] = "west";
  auto r1 = compile_pod_table(pod(), {&changed_rule, &b}, targets_, resolved_);
  ASSERT_TRUE(r1);
  EXPECT_NE(r1->version, first->version);
  resolved_.at("east") =
      ok(json{{"name", "east"},
              {"server", "https://east.example:6443"},
              {"credentials", {{"token", {{"value", "rotated"}}}}}});
  auto r2 = compile_pod_table(pod(), {&a, &b}, targets_, resolved_);
  ASSERT_TRUE(r2);
  EXPECT_NE(r2->version, first->version);
}

TEST_F(PolicyCompiler, TableHoldsOnlyTheTargetsItsPoliciesName) {
  const auto p =
      policy("team-a", "p", json::parse(R"([{"name": "r", "target": "east"}])"),
             std::nullopt);
  auto table = compile_pod_table(pod(), {&p}, targets_, resolved_);
  ASSERT_TRUE(table);
  EXPECT_EQ(table->targets, (std::set<std::string>{"east"}));
  const json j = json::parse(table->json);
  ASSERT_EQ(j["targets"].size(), 1U);
  EXPECT_EQ(j["targets"][0]["name"], "east");
  EXPECT_FALSE(j.contains("defaultTarget"));
}

TEST_F(PolicyCompiler, ImpersonatingTargetsNameThePodsServiceAccount) {
  targets_.at("east").impersonate = true;
  const auto p = policy("team-a", "p", by_region, "home");
  auto table = compile_pod_table(pod(), {&p}, targets_, resolved_);
  ASSERT_TRUE(table);
  for (const auto& t : json::parse(table->json)["targets"]) {
    if (t["name"] == "east") {
      EXPECT_EQ(t["impersonateUser"], "system:serviceaccount:team-a:builder");
    } else {
      EXPECT_FALSE(t.contains("impersonateUser")) << t.dump();
    }
  }
}

TEST_F(PolicyCompiler, NoTableWithoutAPolicyOrWithAnUnresolvedTarget) {
  auto none = compile_pod_table(pod(), {}, targets_, resolved_);
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message,
              HasSubstr("no accepted RoutingPolicy selects pod team-a/app-0"));

  resolved_.at("west") = error::of(
      error_source::config, "ClusterTarget \"west\": Secret \"w\" is missing");
  const auto p = policy("team-a", "p", by_region, "home");
  auto unresolved = compile_pod_table(pod(), {&p}, targets_, resolved_);
  ASSERT_FALSE(unresolved);
  EXPECT_THAT(unresolved.error().message, HasSubstr("Secret \"w\" is missing"));
}

TEST_F(PolicyCompiler, FailureModeComesFromTheFirstPolicy) {
  auto first = policy("team-a", "a", by_region, "home", 5);
  first.on_failure = failure_mode::local_passthrough;
  const auto second = policy("team-a", "b", by_region, "home", 1);
  auto table = compile_pod_table(pod(), {&second, &first}, targets_, resolved_);
  ASSERT_TRUE(table);
  EXPECT_EQ(table->on_failure, failure_mode::local_passthrough);
}

}  // namespace
}  // namespace mca::op
