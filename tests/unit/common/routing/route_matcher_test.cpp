#include "common/routing/route_matcher.hpp"

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace mca::routing {
namespace {

using labels_t = std::optional<std::map<std::string, std::string>>;

const labels_t unknown = std::nullopt;
const labels_t none = std::map<std::string, std::string>{};

routing_table table(const std::string& rules,
                    const std::string& default_target = "home") {
  std::string text = R"(apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingTable
policy: team-a/route-by-cluster
targets:
  - {name: home, server: "https://home", credentials: {local: {}}}
  - {name: east, server: "https://east", credentials: {local: {}}}
  - {name: west, server: "https://west", credentials: {local: {}}}
)";
  if (!default_target.empty()) {
    text += "defaultTarget: " + default_target + "\n";
  }
  if (!rules.empty()) text += "rules:\n" + rules;
  auto t = routing_table::parse(text);
  if (!t) ADD_FAILURE() << t.error().message;
  return t.value();
}

struct request {
  std::string method = "GET";
  std::string path;
  labels_t labels = none;
  labels_t annotations = none;
  std::string user_agent = "app/1.0";
};

decision decide(const routing_table& t, const request& r) {
  const auto info = classify(r.method, r.path);
  if (!info) ADD_FAILURE() << r.path << ": " << info.error().message;
  request_facts facts;
  facts.info = &info.value();
  facts.user_agent = r.user_agent;
  facts.labels = r.labels;
  facts.annotations = r.annotations;
  return match(t, facts);
}

void expect_route(const decision& d, const std::string& target,
                  const std::string& rule) {
  EXPECT_EQ(d.what, decision::kind::route) << d.message;
  EXPECT_EQ(d.target, target);
  EXPECT_EQ(d.rule, rule);
  EXPECT_TRUE(d.candidates.empty());
}

void expect_locate(const decision& d, const std::vector<std::string>& want,
                   const std::string& rule) {
  EXPECT_EQ(d.what, decision::kind::locate) << d.target << d.message;
  EXPECT_EQ(d.candidates, want);
  EXPECT_EQ(d.rule, rule);
  EXPECT_TRUE(d.target.empty());
}

std::string pod() { return "/api/v1/namespaces/team-a/pods/p1"; }
std::string pods() { return "/api/v1/namespaces/team-a/pods"; }

// ---------------------------------------------------------------- conditions

// One rule `{match: <match>, target: east}` and default home: the request
// goes to east exactly when the rule matches.
struct condition_row {
  std::string label;
  std::string match;
  request req;
  bool want_match;
};

// Rows print as their label, not as bytes. GoogleTest finds it by name.
// NOLINTNEXTLINE(readability-identifier-naming)
void PrintTo(const condition_row& row, std::ostream* os) { *os << row.label; }

class MatcherConditions : public ::testing::TestWithParam<condition_row> {};

TEST_P(MatcherConditions, RoutesToRuleOnlyWhenItMatches) {
  const condition_row& row = GetParam();
  const routing_table t =
      table("  - {name: r, match: " + row.match + ", target: east}\n");
  const decision d = decide(t, row.req);
  if (row.want_match) {
    expect_route(d, "east", "r");
  } else {
    expect_route(d, "home", "");
  }
}

request get(std::string path) {
  request r;
  r.path = std::move(path);
  return r;
}
request with_method(std::string method, std::string path) {
  request r = get(std::move(path));
  r.method = std::move(method);
  return r;
}
request with_labels(std::map<std::string, std::string> labels,
                    std::string path = pods()) {
  request r = with_method("POST", std::move(path));
  r.labels = std::move(labels);
  return r;
}
request with_annotations(std::map<std::string, std::string> annotations) {
  request r = with_method("POST", pods());
  r.annotations = std::move(annotations);
  return r;
}
request with_agent(std::string agent) {
  request r = get(pod());
  r.user_agent = std::move(agent);
  return r;
}

std::string in_gold() {
  return "{labelSelector: {matchExpressions: [{key: tier, operator: In, "
         "values: [gold, silver]}]}}";
}
std::string not_in_gold() {
  return "{labelSelector: {matchExpressions: [{key: tier, operator: NotIn, "
         "values: [gold]}]}}";
}
std::string tier_exists() {
  return "{labelSelector: {matchExpressions: [{key: tier, operator: Exists}]}}";
}
std::string tier_absent() {
  return "{labelSelector: {matchExpressions: [{key: tier, operator: "
         "DoesNotExist}]}}";
}

std::vector<condition_row> condition_rows() {
  return {
      {"verb_get", "{verbs: [get]}", get(pod()), true},
      {"verb_create_vs_get", "{verbs: [create]}", get(pod()), false},
      {"verb_list", "{verbs: [list, watch]}", get(pods()), true},
      {"verb_watch", "{verbs: [watch]}", get(pods() + "?watch=1"), true},
      {"verb_delete", "{verbs: [delete]}", with_method("DELETE", pod()), true},
      {"verb_star", "{verbs: [\"*\"]}", with_method("PATCH", pod()), true},
      {"resource_core", "{resources: [{group: \"\", resource: pods}]}",
       get(pod()), true},
      {"resource_other_group", "{resources: [{group: apps, resource: pods}]}",
       get(pod()), false},
      {"resource_other_resource", "{resources: [{resource: configmaps}]}",
       get(pod()), false},
      {"resource_covers_subresources", "{resources: [{resource: pods}]}",
       get(pod() + "/log"), true},
      {"resource_main_only",
       "{resources: [{resource: pods, subresource: \"\"}]}",
       get(pod() + "/log"), false},
      {"resource_star_with_subresource",
       "{resources: [{group: apps, resource: \"*\", subresource: scale}]}",
       get("/apis/apps/v1/namespaces/x/deployments/d/scale"), true},
      {"resource_star_other_subresource",
       "{resources: [{group: apps, resource: \"*\", subresource: scale}]}",
       get("/apis/apps/v1/namespaces/x/deployments/d/status"), false},
      {"resource_second_entry",
       R"({resources: [{resource: configmaps}, {group: "*", resource: pods}]})",
       get(pod()), true},
      {"namespace_glob", "{namespaces: [\"team-*\"]}", get(pod()), true},
      {"namespace_other", R"({namespaces: ["prod-*", "ops"]})", get(pod()),
       false},
      {"namespace_cluster_scoped", "{namespaces: [\"*\"]}",
       get("/api/v1/nodes/n1"), false},
      // As for the API server's RequestInfo, a Namespace is in itself.
      {"namespace_object_itself", "{namespaces: [\"team-*\"]}",
       get("/api/v1/namespaces/team-a"), true},
      {"name_glob", "{names: [\"p?\"]}", get(pod()), true},
      {"name_glob_too_long", "{names: [\"p?\"]}", get(pod() + "0"), false},
      {"name_absent_on_list", "{names: [\"*\"]}", get(pods()), false},
      {"name_from_field_selector", "{names: [\"p1\"]}",
       get(pods() + "?fieldSelector=metadata.name%3Dp1"), true},
      {"user_agent", "{userAgent: \"kubectl/*\"}",
       with_agent("kubectl/v1.29.0 (linux/amd64)"), true},
      {"user_agent_other", "{userAgent: \"kubectl/*\"}", with_agent("curl/8"),
       false},
      {"match_labels", "{labelSelector: {matchLabels: {cluster: east}}}",
       with_labels({{"cluster", "east"}, {"app", "x"}}), true},
      {"match_labels_other_value",
       "{labelSelector: {matchLabels: {cluster: east}}}",
       with_labels({{"cluster", "west"}}), false},
      {"match_labels_missing",
       "{labelSelector: {matchLabels: {cluster: east}}}", with_labels({}),
       false},
      {"list_selector_equality",
       "{labelSelector: {matchLabels: {cluster: east}}}",
       [] {
         request r = get(pods() + "?labelSelector=cluster%3Deast");
         r.labels = std::map<std::string, std::string>{{"cluster", "east"}};
         return r;
       }(),
       true},
      {"in_listed", in_gold(), with_labels({{"tier", "silver"}}), true},
      {"in_not_listed", in_gold(), with_labels({{"tier", "bronze"}}), false},
      {"in_missing", in_gold(), with_labels({}), false},
      {"not_in_listed", not_in_gold(), with_labels({{"tier", "gold"}}), false},
      {"not_in_not_listed", not_in_gold(), with_labels({{"tier", "bronze"}}),
       true},
      {"not_in_missing", not_in_gold(), with_labels({}), true},
      {"exists_present", tier_exists(), with_labels({{"tier", ""}}), true},
      {"exists_missing", tier_exists(), with_labels({}), false},
      {"does_not_exist_present", tier_absent(), with_labels({{"tier", "x"}}),
       false},
      {"does_not_exist_missing", tier_absent(), with_labels({}), true},
      {"selector_all_requirements",
       "{labelSelector: {matchLabels: {cluster: east}, matchExpressions: "
       "[{key: tier, operator: Exists}]}}",
       with_labels({{"cluster", "east"}}), false},
      {"empty_selector_is_no_condition", "{labelSelector: {}}", get(pod()),
       true},
      {"annotations_exact", "{annotations: {owner: team-a}}",
       with_annotations({{"owner", "team-a"}, {"x", "y"}}), true},
      {"annotations_other_value", "{annotations: {owner: team-a}}",
       with_annotations({{"owner", "team-ab"}}), false},
      {"annotations_missing", "{annotations: {owner: team-a}}",
       with_annotations({}), false},
      {"all_conditions",
       "{verbs: [create], resources: [{resource: pods}], namespaces: [team-a], "
       "labelSelector: {matchLabels: {cluster: east}}}",
       with_labels({{"cluster", "east"}}), true},
      {"all_but_one_condition",
       "{verbs: [create], resources: [{resource: pods}], namespaces: [team-b], "
       "labelSelector: {matchLabels: {cluster: east}}}",
       with_labels({{"cluster", "east"}}), false},
      {"non_resource_by_verb", "{verbs: [non-resource]}", get("/version"),
       true},
      {"non_resource_by_agent", "{userAgent: \"kubectl/*\"}",
       [] {
         request r = get("/apis");
         r.user_agent = "kubectl/v1.29";
         return r;
       }(),
       true},
      {"non_resource_catch_all", "{}", get("/healthz"), true},
      {"non_resource_vs_resource_rule", "{resources: [{resource: \"*\"}]}",
       get("/version"), false},
      {"non_resource_vs_namespace_rule", "{namespaces: [\"*\"]}", get("/api"),
       false},
      {"non_resource_vs_label_rule", not_in_gold(), get("/openapi/v2"), false},
      {"non_resource_vs_get", "{verbs: [get]}", get("/version"), false},
  };
}

INSTANTIATE_TEST_SUITE_P(
    All, MatcherConditions, ::testing::ValuesIn(condition_rows()),
    [](const ::testing::TestParamInfo<condition_row>& param) {
      return param.param.label;
    });

// ---------------------------------------------------------------- decisions

TEST(Matcher, FirstMatchingRuleWins) {
  const routing_table t = table(
      R"(  - {name: configmaps, match: {resources: [{resource: configmaps}]}, target: west}
  - {name: team-a, match: {namespaces: [team-a]}, target: east}
  - {name: everything, target: west}
)");
  expect_route(decide(t, get(pod())), "east", "team-a");
  expect_route(decide(t, get("/api/v1/namespaces/team-a/configmaps/c")), "west",
               "configmaps");
  expect_route(decide(t, get("/api/v1/namespaces/team-b/pods/p")), "west",
               "everything");
}

TEST(Matcher, RejectRuleDecidesLikeATargetRule) {
  const routing_table t = table(R"(  - name: no-prod-secrets
    match: {resources: [{resource: secrets}], namespaces: ["prod-*"]}
    reject: {code: 451, message: secrets stay out of prod}
  - {match: {resources: [{resource: secrets}]}, reject: {}}
  - {name: rest, target: east}
)");
  const decision d = decide(t, get("/api/v1/namespaces/prod-1/secrets/s"));
  EXPECT_EQ(d.what, decision::kind::reject);
  EXPECT_EQ(d.code, 451);
  EXPECT_EQ(d.message, "secrets stay out of prod");
  EXPECT_EQ(d.rule, "no-prod-secrets");
  EXPECT_TRUE(d.target.empty());

  // Without a message the refusal still names the rule and the policy.
  const decision plain = decide(t, get("/api/v1/namespaces/dev/secrets/s"));
  EXPECT_EQ(plain.what, decision::kind::reject);
  EXPECT_EQ(plain.code, 403);
  EXPECT_EQ(plain.rule, "rules[1]");
  EXPECT_EQ(plain.message,
            "request get secrets is rejected by rule rules[1] of policy "
            "team-a/route-by-cluster");

  expect_route(decide(t, get("/api/v1/namespaces/prod-1/configmaps/c")), "east",
               "rest");
}

TEST(Matcher, UnmatchedGoesToDefault) {
  const routing_table t = table(
      "  - {name: r, match: {namespaces: [ops]}, target: east}\n", "west");
  expect_route(decide(t, get(pod())), "west", "");
  expect_route(decide(t, get("/version")), "west", "");
}

TEST(Matcher, UnmatchedWithoutDefaultIsRefusedNamingThePolicy) {
  const routing_table t =
      table("  - {name: r, match: {namespaces: [ops]}, target: east}\n", "");
  const decision d =
      decide(t, get("/apis/apps/v1/namespaces/x/deployments/d/scale"));
  EXPECT_EQ(d.what, decision::kind::reject);
  EXPECT_EQ(d.code, 403);
  EXPECT_EQ(d.rule, "");
  EXPECT_EQ(d.message,
            "request get deployments.apps/scale is not routed by policy "
            "team-a/route-by-cluster: no rule matches and it has no "
            "defaultTarget");

  const decision version = decide(t, get("/version"));
  EXPECT_EQ(version.what, decision::kind::reject);
  EXPECT_EQ(version.message,
            "request non-resource /version is not routed by policy "
            "team-a/route-by-cluster: no rule matches and it has no "
            "defaultTarget");
}

TEST(Matcher, EmptyTableRoutesEverythingToDefault) {
  const routing_table t = table("");
  expect_route(decide(t, with_method("DELETE", pod())), "home", "");
}

// ---------------------------------------------------------------- locate

std::string label_rules() {
  return R"(  - name: east-by-label
    match: {labelSelector: {matchLabels: {cluster: east}}}
    target: east
  - name: west-by-annotation
    match: {annotations: {cluster: west}}
    target: west
)";
}

TEST(Matcher, UnknownLabelsLocateAmongCandidatesAndDefault) {
  const routing_table t = table(label_rules());
  request r = get(pod());
  r.labels = unknown;
  r.annotations = unknown;
  expect_locate(decide(t, r), {"east", "west", "home"}, "");

  // Known metadata decides outright.
  r.labels = std::map<std::string, std::string>{{"cluster", "east"}};
  expect_route(decide(t, r), "east", "east-by-label");
}

TEST(Matcher, OnlyTheUnknownPartMakesACandidate) {
  const routing_table t = table(label_rules());
  request r = get(pod());
  r.labels = unknown;  // annotations known and not matching
  r.annotations = std::map<std::string, std::string>{{"cluster", "north"}};
  expect_locate(decide(t, r), {"east", "home"}, "");
}

TEST(Matcher, LaterPathRuleEndsTheCandidates) {
  const routing_table t = table(label_rules() + R"(  - name: pods-west
    match: {resources: [{resource: pods}]}
    target: west
  - {name: never-reached, target: east}
)");
  request r = with_method("DELETE", pod());
  r.labels = unknown;
  r.annotations = unknown;
  expect_locate(decide(t, r), {"east", "west"}, "pods-west");
}

TEST(Matcher, SingleDistinctCandidateRoutes) {
  const routing_table t = table(R"(  - name: east-by-label
    match: {labelSelector: {matchLabels: {cluster: east}}}
    target: east
  - name: gold-east
    match: {labelSelector: {matchExpressions: [{key: tier, operator: In, values: [gold]}]}}
    target: east
)",
                                "east");
  request r = with_method("PATCH", pod());
  r.labels = unknown;
  expect_route(decide(t, r), "east", "");
}

TEST(Matcher, PathConditionThatFailsMakesNoCandidate) {
  const routing_table t = table(R"(  - name: ops-east
    match: {namespaces: [ops], labelSelector: {matchLabels: {cluster: east}}}
    target: east
)");
  request r = get(pod());  // namespace team-a
  r.labels = unknown;
  expect_route(decide(t, r), "home", "");
}

TEST(Matcher, UnknownLabelsWithoutDefaultLocateAmongCandidates) {
  const routing_table t = table(label_rules(), "");
  request r = get(pod());
  r.labels = unknown;
  r.annotations = unknown;
  const decision d = decide(t, r);
  expect_locate(d, {"east", "west"}, "");
  // What to answer if the object is in none of them.
  EXPECT_EQ(d.code, 403);
  EXPECT_NE(d.message.find("no rule matches"), std::string::npos);

  r.annotations = none;
  expect_route(decide(t, r), "east", "");
}

TEST(Matcher, PathRejectAfterCandidatesStillLocates) {
  const routing_table t = table(label_rules() + R"(  - name: no-deletes
    match: {verbs: [delete]}
    reject: {code: 405, message: no deletes here}
)");
  request r = with_method("DELETE", pod());
  r.labels = unknown;
  r.annotations = unknown;
  const decision d = decide(t, r);
  expect_locate(d, {"east", "west"}, "no-deletes");
  EXPECT_EQ(d.code, 405);
  EXPECT_EQ(d.message, "no deletes here");

  r.annotations = none;
  expect_route(decide(t, r), "east", "no-deletes");
}

TEST(Matcher, RejectRuleWithUnknownLabelsIsSkipped) {
  const routing_table t = table(R"(  - name: no-untiered
    match: {labelSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}}
    reject: {code: 422, message: every object needs a tier}
  - {name: by-label, match: {labelSelector: {matchLabels: {cluster: east}}}, target: east}
)");
  request r = get(pod());
  r.labels = unknown;
  expect_locate(decide(t, r), {"east", "home"}, "");

  // Known labels make the reject rule decide.
  r.labels = none;
  const decision d = decide(t, r);
  EXPECT_EQ(d.what, decision::kind::reject);
  EXPECT_EQ(d.code, 422);
  EXPECT_EQ(d.rule, "no-untiered");
}

}  // namespace
}  // namespace mca::routing

namespace mca::routing {
namespace {

std::string fan_out_rules(const std::string& extra = "") {
  return "  - {name: everywhere, match: {resources: [{resource: configmaps}]}, "
         "targets: [home, east, west]" +
         extra + "}\n";
}

TEST(MatcherFanOut, ListsAndWatchesSpanTheTargets) {
  const routing_table t = table(fan_out_rules(", partial: allow"));
  for (const char* path :
       {"/api/v1/configmaps", "/api/v1/namespaces/a/configmaps",
        "/api/v1/namespaces/a/configmaps?watch=true",
        "/api/v1/watch/namespaces/a/configmaps"}) {
    const decision d = decide(t, {.path = path});
    EXPECT_EQ(d.what, decision::kind::fan_out) << path;
    EXPECT_EQ(d.candidates, (std::vector<std::string>{"home", "east", "west"}));
    EXPECT_TRUE(d.allow_partial);
    EXPECT_EQ(d.rule, "everywhere");
  }
  EXPECT_FALSE(decide(table(fan_out_rules()), {.path = "/api/v1/configmaps"})
                   .allow_partial);
}

TEST(MatcherFanOut, ANamedObjectIsLocatedAmongTheTargets) {
  const routing_table t = table(fan_out_rules());
  for (const char* method : {"GET", "PUT", "PATCH", "DELETE"}) {
    const decision d = decide(t, {.method = method,
                                  .path = "/api/v1/namespaces/a/configmaps/cm",
                                  .labels = unknown});
    EXPECT_EQ(d.what, decision::kind::locate) << method;
    EXPECT_EQ(d.candidates, (std::vector<std::string>{"home", "east", "west"}));
  }
}

TEST(MatcherFanOut, CreatesGoToTheWriteTargetOrAreRefusedNamingTheRule) {
  const decision routed =
      decide(table(fan_out_rules(", writeTarget: east")),
             {.method = "POST", .path = "/api/v1/namespaces/a/configmaps"});
  EXPECT_EQ(routed.what, decision::kind::route);
  EXPECT_EQ(routed.target, "east");
  const decision refused =
      decide(table(fan_out_rules()),
             {.method = "POST", .path = "/api/v1/namespaces/a/configmaps"});
  EXPECT_EQ(refused.what, decision::kind::reject);
  EXPECT_EQ(refused.code, 422);
  EXPECT_NE(refused.message.find("rule everywhere of policy "
                                 "team-a/route-by-cluster"),
            std::string::npos)
      << refused.message;
  EXPECT_NE(refused.message.find("home, east, west"), std::string::npos);
  EXPECT_NE(refused.message.find("writeTarget"), std::string::npos);
  const decision collection =
      decide(table(fan_out_rules()),
             {.method = "DELETE", .path = "/api/v1/namespaces/a/configmaps"});
  EXPECT_EQ(collection.what, decision::kind::reject);
  EXPECT_EQ(collection.code, 422);
}

TEST(MatcherFanOut, UnknownLabelsMakeEveryTargetACandidate) {
  const routing_table t = table(
      "  - {name: by-label, match: {labelSelector: {matchLabels: {a: b}}}, "
      "targets: [east, west]}\n");
  const decision d = decide(
      t, {.path = "/api/v1/namespaces/a/configmaps/cm", .labels = unknown});
  EXPECT_EQ(d.what, decision::kind::locate);
  EXPECT_EQ(d.candidates, (std::vector<std::string>{"east", "west", "home"}));
}

}  // namespace
}  // namespace mca::routing

namespace mca::routing {
namespace {

// When is a list's, watch's or create's placement worth learning: only
// where a request naming the object would otherwise have to locate it.
TEST(PlacementAmbiguous, OnlyWhereLabelOrFanOutRulesCouldPlaceTheObject) {
  const auto t = table(R"(  - name: team-a-east
    match:
      resources: [{group: "", resource: configmaps}]
      namespaces: [team-a]
      labelSelector: {matchLabels: {region: east}}
    target: east
  - name: shared
    match:
      resources: [{group: "", resource: secrets}]
      namespaces: [shared]
    targets: [home, west]
  - name: deployments-west
    match:
      resources: [{group: apps, resource: deployments}]
    target: west
)");
  const struct {
    std::string path;
    bool ambiguous;
  } rows[] = {
      // A label rule covers team-a's ConfigMaps: home (default) or east.
      {"/api/v1/namespaces/team-a/configmaps", true},
      {"/api/v1/namespaces/team-a/configmaps?watch=1", true},
      // ... but not another namespace's: they can only be home.
      {"/api/v1/namespaces/bench/configmaps", false},
      // A fan-out rule: the object is in one of its targets.
      {"/api/v1/namespaces/shared/secrets", true},
      {"/api/v1/namespaces/team-a/secrets", false},
      // A plain rule decides by path alone.
      {"/apis/apps/v1/namespaces/team-a/deployments", false},
      // Across namespaces: not known until the objects are seen.
      {"/api/v1/configmaps", true},
      {"/version", false},
  };
  for (const auto& row : rows) {
    const auto info = classify("GET", row.path);
    ASSERT_TRUE(info) << row.path;
    EXPECT_EQ(placement_ambiguous(t, *info), row.ambiguous) << row.path;
  }
  // Without label or fan-out rules nothing is ever ambiguous.
  const auto plain = table(R"(  - name: deployments-west
    match:
      resources: [{group: apps, resource: deployments}]
    target: west
)");
  for (const char* path : {"/api/v1/configmaps", "/api/v1/namespaces/a/pods"}) {
    const auto info = classify("GET", path);
    ASSERT_TRUE(info);
    EXPECT_FALSE(placement_ambiguous(plain, *info)) << path;
  }
}

}  // namespace
}  // namespace mca::routing
