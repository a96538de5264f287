#include "sidecar/fanout/discovery_merge.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mca::sidecar::fanout {
namespace {

using json = nlohmann::json;

TEST(DiscoveryMerge, ClassifiesOnlyExactDiscoveryPaths) {
  struct row {
    std::string path;
    discovery_path want;
  };
  const std::vector<row> rows = {
      {"/api", discovery_path::api},
      {"/api/", discovery_path::api},
      {"/api/v1", discovery_path::group_version},
      {"/apis", discovery_path::apis},
      {"/apis/apps", discovery_path::group},
      {"/apis/apps/v1", discovery_path::group_version},
      {"/api/v1/namespaces", discovery_path::none},
      {"/apis/apps/v1/deployments", discovery_path::none},
      {"/version", discovery_path::none},
      {"/openapi/v2", discovery_path::none},
      {"/apis-other", discovery_path::none},
      {"/", discovery_path::none},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(classify_discovery(r.path), r.want) << r.path;
  }
}

TEST(DiscoveryMerge, AcceptKeepsOnlyJson) {
  EXPECT_EQ(json_only_accept(""), "application/json");
  EXPECT_EQ(json_only_accept(
                "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;"
                "v=v2;as=APIGroupDiscoveryList,application/json;g="
                "apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList, "
                "application/json"),
            "application/json;g=apidiscovery.k8s.io;v=v2;as="
            "APIGroupDiscoveryList,application/json");
  EXPECT_EQ(json_only_accept("application/vnd.kubernetes.protobuf"), "");
}

TEST(DiscoveryMerge, GroupListsUniteGroupsAndVersions) {
  const json home = json::parse(R"({"kind":"APIGroupList","apiVersion":"v1",
    "groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],
               "preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]})");
  const json east = json::parse(R"({"kind":"APIGroupList","apiVersion":"v1",
    "groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],
               "preferredVersion":{"groupVersion":"apps/v1","version":"v1"}},
              {"name":"stable.example.com","versions":[
                 {"groupVersion":"stable.example.com/v2","version":"v2"},
                 {"groupVersion":"stable.example.com/v1","version":"v1"}],
               "preferredVersion":{"groupVersion":"stable.example.com/v2","version":"v2"}}]})");
  const json west = json::parse(R"({"kind":"APIGroupList","apiVersion":"v1",
    "groups":[{"name":"stable.example.com","versions":[
                 {"groupVersion":"stable.example.com/v1","version":"v1"},
                 {"groupVersion":"stable.example.com/v3","version":"v3"}],
               "preferredVersion":{"groupVersion":"stable.example.com/v1","version":"v1"}}]})");
  auto merged = merge_discovery({home, east, west});
  ASSERT_TRUE(merged) << merged.error().message;
  const json& groups = (*merged)["groups"];
  ASSERT_EQ(groups.size(), 2U);
  EXPECT_EQ(groups[0]["name"], "apps");
  EXPECT_EQ(groups[0]["versions"].size(), 1U);
  EXPECT_EQ(groups[1]["name"], "stable.example.com");
  // east's order and preference first, west's extra version appended.
  EXPECT_EQ(groups[1]["preferredVersion"]["version"], "v2");
  ASSERT_EQ(groups[1]["versions"].size(), 3U);
  EXPECT_EQ(groups[1]["versions"][0]["version"], "v2");
  EXPECT_EQ(groups[1]["versions"][1]["version"], "v1");
  EXPECT_EQ(groups[1]["versions"][2]["version"], "v3");
}

TEST(DiscoveryMerge, AggregatedDiscoveryUnitesDownToResources) {
  const json home = json::parse(R"({"kind":"APIGroupDiscoveryList",
    "apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[
      {"metadata":{"name":"apps"},"versions":[{"version":"v1","resources":[
        {"resource":"deployments","scope":"Namespaced"}]}]}]})");
  const json east = json::parse(R"({"kind":"APIGroupDiscoveryList",
    "apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[
      {"metadata":{"name":"apps"},"versions":[{"version":"v1","resources":[
        {"resource":"deployments","scope":"Namespaced","extra":"east's"},
        {"resource":"widgets","scope":"Namespaced"}]}]},
      {"metadata":{"name":"stable.example.com"},"versions":[{"version":"v1",
        "resources":[{"resource":"crontabs","scope":"Namespaced"}]}]}]})");
  // Another release's answer is left out rather than mixed in.
  const json old = json::parse(R"({"kind":"APIGroupDiscoveryList",
    "apiVersion":"apidiscovery.k8s.io/v2beta1","items":[
      {"metadata":{"name":"old.example.com"},"versions":[]}]})");
  auto merged = merge_discovery({home, east, old});
  ASSERT_TRUE(merged) << merged.error().message;
  const json& items = (*merged)["items"];
  ASSERT_EQ(items.size(), 2U);
  const json& apps = items[0]["versions"][0]["resources"];
  ASSERT_EQ(apps.size(), 2U);
  EXPECT_FALSE(apps[0].contains("extra"));  // the first target's entry stays
  EXPECT_EQ(apps[1]["resource"], "widgets");
  EXPECT_EQ(items[1]["metadata"]["name"], "stable.example.com");
}

TEST(DiscoveryMerge, ResourceListsAndVersions) {
  auto lists = merge_discovery(
      {json::parse(R"({"kind":"APIResourceList","apiVersion":"v1",
         "groupVersion":"v1","resources":[{"name":"pods"},{"name":"pods/log"}]})"),
       json::parse(R"({"kind":"APIResourceList","apiVersion":"v1",
         "groupVersion":"v1","resources":[{"name":"pods/log"},{"name":"nodes"}]})")});
  ASSERT_TRUE(lists);
  ASSERT_EQ((*lists)["resources"].size(), 3U);
  EXPECT_EQ((*lists)["resources"][2]["name"], "nodes");

  auto versions = merge_discovery(
      {json::parse(R"({"kind":"APIVersions","versions":["v1"]})"),
       json::parse(R"({"kind":"APIVersions","versions":["v1","v2"]})")});
  ASSERT_TRUE(versions);
  EXPECT_EQ((*versions)["versions"], json::parse(R"(["v1","v2"])"));

  EXPECT_FALSE(merge_discovery({}));
}

}  // namespace
}  // namespace mca::sidecar::fanout
