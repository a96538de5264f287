#include "common/routing/request_facts.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::routing {
namespace {

using labels = std::map<std::string, std::string>;

TEST(SelectorEqualities, KeepsOnlyEqualityTerms) {
  struct row {
    std::string selector;
    labels want;
  };
  const std::vector<row> rows = {
      {"", {}},
      {"cluster=east", {{"cluster", "east"}}},
      {"cluster==east, tier = gold", {{"cluster", "east"}, {"tier", "gold"}}},
      {"cluster!=east,app", {}},
      {"env in (prod,staging),cluster=west", {{"cluster", "west"}}},
      {"cluster=west,env notin (a,b)", {{"cluster", "west"}}},
      {"!legacy,app.kubernetes.io/name=web",
       {{"app.kubernetes.io/name", "web"}}},
      {"empty=", {{"empty", ""}}},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(selector_equalities(r.selector), r.want) << r.selector;
  }
}

TEST(Inspect, CreateTakesNameAndLabelsFromTheBody) {
  auto r = inspect(
      "POST", "/api/v1/namespaces/team-a/configmaps", "application/json",
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","labels":{"cluster":"east"}}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->info.name, "cm");
  EXPECT_EQ(r->info.namespace_name, "team-a");
  ASSERT_TRUE(r->object);
  const auto facts = facts_of(*r, "kubectl/v1.37.2");
  ASSERT_TRUE(facts.labels);
  EXPECT_EQ(*facts.labels, (labels{{"cluster", "east"}}));
  EXPECT_EQ(facts.user_agent, "kubectl/v1.37.2");
}

TEST(Inspect, OnlyObjectBodiesAreRead) {
  struct row {
    std::string method, target, content_type;
    bool reads_body;
  };
  const std::vector<row> rows = {
      {"POST", "/api/v1/namespaces/a/configmaps", "application/json", true},
      {"PUT", "/api/v1/namespaces/a/configmaps/x", "application/json", true},
      {"PATCH", "/api/v1/namespaces/a/configmaps/x",
       "application/apply-patch+yaml", true},
      {"PATCH", "/api/v1/namespaces/a/configmaps/x",
       "application/merge-patch+json", false},
      {"PUT", "/apis/apps/v1/namespaces/a/deployments/x/scale",
       "application/json", false},
      {"POST", "/api/v1/namespaces/a/pods/x/eviction", "application/json",
       false},
      {"GET", "/api/v1/namespaces/a/configmaps/x", "", false},
      {"DELETE", "/api/v1/namespaces/a/configmaps/x", "application/json",
       false},
  };
  for (const auto& r : rows) {
    auto info = classify(r.method, r.target);
    ASSERT_TRUE(info) << r.target;
    EXPECT_EQ(needs_object_body(*info, r.content_type), r.reads_body)
        << r.method << " " << r.target << " " << r.content_type;
  }
}

TEST(Inspect, ListLabelsComeFromTheSelectorAndGetsHaveNone) {
  auto list =
      inspect("GET", "/api/v1/configmaps?labelSelector=cluster%3Dwest", "", "");
  ASSERT_TRUE(list);
  auto facts = facts_of(*list, "");
  ASSERT_TRUE(facts.labels);
  EXPECT_EQ(*facts.labels, (labels{{"cluster", "west"}}));
  EXPECT_FALSE(facts.annotations);

  auto get = inspect("GET", "/api/v1/namespaces/a/configmaps/x", "", "");
  ASSERT_TRUE(get);
  EXPECT_FALSE(facts_of(*get, "").labels);
}

TEST(Inspect, MalformedBodyIsAClientError) {
  auto r = inspect("POST", "/api/v1/namespaces/a/configmaps",
                   "application/json", "{not json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::client);
}

TEST(Inspect, OversizeBodyIs413) {
  auto r = inspect("POST", "/api/v1/namespaces/a/configmaps",
                   "application/json", std::string(2048, ' '), 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status.code, 413);
}

}  // namespace
}  // namespace mca::routing
