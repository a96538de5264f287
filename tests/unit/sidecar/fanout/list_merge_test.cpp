#include "sidecar/fanout/list_merge.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sidecar/fanout/composite_version.hpp"

namespace mca::sidecar::fanout {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string version_of(const composite_version& v) {
  auto e = encode(v);
  EXPECT_TRUE(e) << e.error().message;
  return e ? *e : std::string();
}

json config_map(const std::string& name, const std::string& rv) {
  return {{"metadata",
           {{"name", name}, {"namespace", "default"}, {"resourceVersion", rv}}},
          {"data", {{"k", "v"}}}};
}

json list_of(const std::string& rv, json items) {
  return {{"kind", "ConfigMapList"},
          {"apiVersion", "v1"},
          {"metadata", {{"resourceVersion", rv}}},
          {"items", std::move(items)}};
}

TEST(MergeLists, ItemsMarkedAndVersionsComposite) {
  json annotated = config_map("b", "21");
  annotated["metadata"]["annotations"] = {{"team", "x"}};
  // A stored copy of our own annotation must not lie about the cluster.
  json stale = config_map("c", "22");
  stale["metadata"]["annotations"] = {{"mca.k8s.io/cluster", "elsewhere"}};
  auto merged = merge_lists(
      {{"home", list_of("10", json::array({config_map("a", "11")}))},
       {"east", list_of("20", json::array({annotated, stale}))},
       {"west", list_of("30", nullptr)}},
      {});
  ASSERT_TRUE(merged) << merged.error().message;
  const json& body = merged->body;
  EXPECT_EQ(body["kind"], "ConfigMapList");
  EXPECT_EQ(body["apiVersion"], "v1");
  EXPECT_EQ(
      body["metadata"],
      json({{"resourceVersion",
             version_of({{{"home", "10"}, {"east", "20"}, {"west", "30"}}})}}));
  ASSERT_EQ(body["items"].size(), 3U);
  const struct {
    std::string name, cluster, rv;
    json annotations;
  } want[] = {
      {"a", "home", "11", {{"mca.k8s.io/cluster", "home"}}},
      {"b", "east", "21", {{"mca.k8s.io/cluster", "east"}, {"team", "x"}}},
      {"c", "east", "22", {{"mca.k8s.io/cluster", "east"}}},
  };
  for (std::size_t i = 0; i < 3; ++i) {
    const json& meta = body["items"][i]["metadata"];
    EXPECT_EQ(meta["name"], want[i].name);
    EXPECT_EQ(meta["annotations"], want[i].annotations) << want[i].name;
    EXPECT_EQ(meta["resourceVersion"],
              version_of({{{want[i].cluster, want[i].rv}}}));
    // The way back: a write of this object reaches its cluster with the
    // cluster's own version.
    auto back = upstream_version(meta["resourceVersion"].get<std::string>(),
                                 want[i].cluster, 3);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, want[i].rv);
    EXPECT_EQ(body["items"][i]["data"], json({{"k", "v"}}));
  }
  EXPECT_THAT(merged->missing, IsEmpty());
}

TEST(MergeLists, Paging) {
  json page = list_of("20", json::array({config_map("a", "21")}));
  page["metadata"]["continue"] = "upstream-token";
  page["metadata"]["remainingItemCount"] = 12;
  struct row {
    std::string label;
    list_paging paging;
    std::vector<std::string> missing;
    json want_metadata;
  };
  const std::string rv = version_of({{{"east", "20"}}});
  const std::vector<row> rows = {
      {"whole", {}, {}, {{"resourceVersion", rv}}},
      {"paged",
       {"mca1c.token", 12},
       {},
       {{"resourceVersion", rv},
        {"continue", "mca1c.token"},
        {"remainingItemCount", 12}}},
      {"paged, count unknown",
       {"mca1c.token", std::nullopt},
       {},
       {{"resourceVersion", rv}, {"continue", "mca1c.token"}}},
      {"partial", {"", 12}, {"west"}, {{"resourceVersion", rv}}},
  };
  for (const auto& r : rows) {
    auto merged = merge_lists({{"east", page}}, r.missing, r.paging);
    ASSERT_TRUE(merged) << r.label << ": " << merged.error().message;
    EXPECT_EQ(merged->body["metadata"], r.want_metadata) << r.label;
    EXPECT_EQ(merged->missing, r.missing) << r.label;
  }
}

TEST(MergeLists, PartialMetadataList) {
  json partial = {
      {"kind", "PartialObjectMetadataList"},
      {"apiVersion", "meta.k8s.io/v1"},
      {"metadata", {{"resourceVersion", "7"}}},
      {"items",
       {{{"kind", "PartialObjectMetadata"},
         {"apiVersion", "meta.k8s.io/v1"},
         {"metadata", {{"name", "a"}, {"resourceVersion", "6"}}}}}}};
  auto merged = merge_lists({{"east", partial}, {"west", partial}}, {"home"});
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ(merged->body["kind"], "PartialObjectMetadataList");
  EXPECT_EQ(merged->body["items"].size(), 2U);
  EXPECT_EQ(merged->body["items"][1]["metadata"]["annotations"],
            json({{"mca.k8s.io/cluster", "west"}}));
  EXPECT_THAT(merged->missing, ElementsAre("home"));
  // The composite lacks the missing cluster, so a watch from it cannot
  // silently leave that cluster out.
  auto rv = upstream_version(
      merged->body["metadata"]["resourceVersion"].get<std::string>(), "home",
      3);
  EXPECT_FALSE(rv);
}

TEST(MergeLists, ItemWithoutMetadataOrVersion) {
  auto merged = merge_lists(
      {{"east", list_of("20", json::array({json::object(),
                                           {{"metadata", {{"name", "x"}}}}}))}},
      {});
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ(merged->body["items"][0],
            json({{"metadata",
                   {{"annotations", {{"mca.k8s.io/cluster", "east"}}}}}}));
  EXPECT_FALSE(
      merged->body["items"][1]["metadata"].contains("resourceVersion"));
}

TEST(MergeLists, Errors) {
  json secrets = list_of("5", json::array());
  secrets["kind"] = "SecretList";
  json bad_items = list_of("5", json::object());
  json bad_item = list_of("5", json::array({"x"}));
  struct row {
    std::string label;
    std::vector<cluster_list> lists;
    std::vector<std::string> missing;
    error_source source;
    std::string message;
  };
  const std::vector<row> rows = {
      {"nothing",
       {},
       {"east", "west"},
       error_source::internal,
       "no cluster answered the list (failed: east, west)"},
      {"not an object",
       {{"east", json::array()}},
       {},
       error_source::decode,
       "cluster \"east\" answered a list that is not a JSON object"},
      {"second not an object",
       {{"east", list_of("5", json::array())}, {"west", "text"}},
       {},
       error_source::decode,
       "cluster \"west\" answered a list that is not a JSON object"},
      {"other kind",
       {{"east", list_of("5", json::array())}, {"west", secrets}},
       {},
       error_source::decode,
       "cluster \"west\" answered a v1 SecretList where \"east\" answered a "
       "v1 ConfigMapList"},
      {"items not an array",
       {{"east", bad_items}},
       {},
       error_source::decode,
       "cluster \"east\" answered a list whose items are not an array"},
      {"item not an object",
       {{"east", bad_item}},
       {},
       error_source::decode,
       "cluster \"east\" answered a list item that is not an object"},
      {"no list version",
       {{"east", list_of("", json::array())}},
       {},
       error_source::decode,
       "cluster \"east\" answered without a resourceVersion"},
      {"nested version",
       {{"east", list_of(version_of({{{"a", "1"}}}), json::array())}},
       {},
       error_source::decode,
       "cluster \"east\" answered with a resourceVersion that is already a "
       "multi-cluster version"},
  };
  for (const auto& r : rows) {
    auto merged = merge_lists(r.lists, r.missing);
    ASSERT_FALSE(merged) << r.label;
    EXPECT_EQ(merged.error().source, r.source) << r.label;
    EXPECT_EQ(merged.error().message, r.message) << r.label;
  }
}

TEST(PartialWarning, Text) {
  EXPECT_EQ(partial_warning({"west"}),
            "299 - \"the list lacks the objects of cluster west, which did "
            "not answer\"");
  EXPECT_EQ(partial_warning({"east", "we\"st"}),
            "299 - \"the list lacks the objects of clusters east, we\\\"st, "
            "which did not answer\"");
}

TEST(StripClusterAnnotation, Table) {
  struct row {
    std::string label;
    json body;
    json want_body;
    std::optional<std::string> want_cluster;
  };
  const std::vector<row> rows = {
      {"update",
       {{"metadata",
         {{"name", "a"},
          {"annotations", {{"mca.k8s.io/cluster", "east"}, {"x", "y"}}}}}},
       {{"metadata", {{"name", "a"}, {"annotations", {{"x", "y"}}}}}},
       "east"},
      {"only annotation",
       {{"metadata", {{"annotations", {{"mca.k8s.io/cluster", "east"}}}}}},
       {{"metadata", json::object()}},
       "east"},
      {"merge patch deleting it",
       {{"metadata", {{"annotations", {{"mca.k8s.io/cluster", nullptr}}}}}},
       {{"metadata", json::object()}},
       std::nullopt},
      {"none",
       {{"metadata", {{"annotations", json::object()}}}},
       {{"metadata", {{"annotations", json::object()}}}},
       std::nullopt},
      {"no metadata", {{"spec", 1}}, {{"spec", 1}}, std::nullopt},
      {"not an object", "text", "text", std::nullopt},
      {"json patch",
       json::array({{{"op", "add"},
                     {"path", "/metadata/annotations/mca.k8s.io~1cluster"},
                     {"value", "west"}},
                    {{"op", "replace"}, {"path", "/data/k"}, {"value", "v"}},
                    {{"op", "remove"},
                     {"path", "/metadata/annotations/mca.k8s.io~1cluster"}}}),
       json::array({{{"op", "replace"}, {"path", "/data/k"}, {"value", "v"}}}),
       "west"},
      {"json patch of the map",
       json::array({{{"op", "replace"},
                     {"path", "/metadata/annotations"},
                     {"value", {{"mca.k8s.io/cluster", "east"}, {"x", "y"}}}}}),
       json::array({{{"op", "replace"},
                     {"path", "/metadata/annotations"},
                     {"value", {{"x", "y"}}}}}),
       "east"},
      {"json patch of metadata",
       json::array({{{"op", "replace"},
                     {"path", "/metadata"},
                     {"value",
                      {{"name", "a"},
                       {"annotations", {{"mca.k8s.io/cluster", "east"}}}}}}}),
       json::array({{{"op", "replace"},
                     {"path", "/metadata"},
                     {"value", {{"name", "a"}}}}}),
       "east"},
  };
  for (const auto& r : rows) {
    json body = r.body;
    EXPECT_EQ(strip_cluster_annotation(body), r.want_cluster) << r.label;
    EXPECT_EQ(body, r.want_body) << r.label;
  }
}

}  // namespace
}  // namespace mca::sidecar::fanout
