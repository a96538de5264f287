#include "sidecar/fanout/table_merge.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sidecar/fanout/composite_version.hpp"

namespace mca::sidecar::fanout {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;

std::string version_of(const composite_version& v) {
  auto e = encode(v);
  EXPECT_TRUE(e) << e.error().message;
  return e ? *e : std::string();
}

json column(const std::string& name, const std::string& type = "string") {
  return {{"name", name},
          {"type", type},
          {"format", name == "Name" ? "name" : ""},
          {"description", name + " of the object"},
          {"priority", 0}};
}

const json cluster_column_definition = {
    {"name", "Cluster"},
    {"type", "string"},
    {"format", ""},
    {"description", "The cluster (ClusterTarget) the object is in."},
    {"priority", 0}};

// What `kubectl get configmaps` gets back: Name, Data, Age.
json table(const std::string& rv, json rows,
           json columns = json::array(
               {column("Name"), column("Data", "integer"), column("Age")})) {
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", {{"resourceVersion", rv}}},
          {"columnDefinitions", std::move(columns)},
          {"rows", std::move(rows)}};
}

json row(const std::string& name, const std::string& rv) {
  return {{"cells", {name, 1, "5m"}},
          {"object",
           {{"kind", "PartialObjectMetadata"},
            {"apiVersion", "meta.k8s.io/v1"},
            {"metadata", {{"name", name}, {"resourceVersion", rv}}}}}};
}

TEST(MergeTables, ClusterColumnAfterName) {
  auto merged = merge_tables(
      {{"home", table("10", json::array({row("a", "11")}))},
       {"east", table("20", json::array({row("b", "21"), row("c", "22")}))}},
      {}, {"mca1c.next", std::nullopt});
  ASSERT_TRUE(merged) << merged.error().message;
  const json& body = merged->body;
  EXPECT_EQ(body["kind"], "Table");
  EXPECT_EQ(body["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(body["columnDefinitions"],
            json::array({column("Name"), cluster_column_definition,
                         column("Data", "integer"), column("Age")}));
  ASSERT_EQ(body["rows"].size(), 3U);
  const struct {
    std::string name, cluster, rv;
  } want[] = {{"a", "home", "11"}, {"b", "east", "21"}, {"c", "east", "22"}};
  for (std::size_t i = 0; i < 3; ++i) {
    const json& r = body["rows"][i];
    EXPECT_EQ(r["cells"], json({want[i].name, want[i].cluster, 1, "5m"}));
    EXPECT_EQ(r["object"]["metadata"]["annotations"],
              json({{"mca.k8s.io/cluster", want[i].cluster}}));
    EXPECT_EQ(r["object"]["metadata"]["resourceVersion"],
              version_of({{{want[i].cluster, want[i].rv}}}));
  }
  EXPECT_EQ(
      body["metadata"],
      json({{"resourceVersion", version_of({{{"home", "10"}, {"east", "20"}}})},
            {"continue", "mca1c.next"}}));
}

TEST(MergeTables, ColumnPlacement) {
  struct row_case {
    std::string label;
    std::vector<std::string> columns;
    std::vector<std::string> want;
  };
  const std::vector<row_case> rows = {
      {"name first", {"Name", "Age"}, {"Name", "Cluster", "Age"}},
      {"name later",
       {"Namespace", "Name", "Age"},
       {"Namespace", "Name", "Cluster", "Age"}},
      {"no name", {"Key", "Value"}, {"Cluster", "Key", "Value"}},
      {"name last", {"Age", "Name"}, {"Age", "Name", "Cluster"}},
      {"no columns", {}, {"Cluster"}},
  };
  for (const auto& r : rows) {
    json columns = json::array();
    json cells = json::array();
    for (const auto& c : r.columns) {
      columns.push_back(column(c));
      cells.push_back(c + "-value");
    }
    auto merged = merge_tables(
        {{"east", table("5", json::array({{{"cells", cells}}}), columns)}}, {});
    ASSERT_TRUE(merged) << r.label << ": " << merged.error().message;
    std::vector<std::string> names;
    for (const auto& c : merged->body["columnDefinitions"]) {
      names.push_back(c["name"]);
    }
    EXPECT_EQ(names, r.want) << r.label;
    const json& merged_cells = merged->body["rows"][0]["cells"];
    ASSERT_EQ(merged_cells.size(), r.want.size()) << r.label;
    for (std::size_t i = 0; i < r.want.size(); ++i) {
      EXPECT_EQ(merged_cells[i],
                r.want[i] == "Cluster" ? "east" : r.want[i] + "-value")
          << r.label;
    }
    // Rows without an object (includeObject=None) stay without one.
    EXPECT_FALSE(merged->body["rows"][0].contains("object")) << r.label;
  }
}

TEST(MergeTables, PartialAndEmpty) {
  auto merged =
      merge_tables({{"east", table("5", nullptr)}}, {"west"}, {"", 3});
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ(merged->body["rows"], json::array());
  EXPECT_THAT(merged->missing, ElementsAre("west"));
  EXPECT_EQ(merged->body["metadata"],
            json({{"resourceVersion", version_of({{{"east", "5"}}})}}));
}

TEST(MergeTables, Errors) {
  json other_columns =
      table("6", json::array(), json::array({column("Name"), column("Age")}));
  json short_row = table("6", json::array({{{"cells", {"a", 1}}}}));
  json no_cells = table("6", json::array({{{"object", json::object()}}}));
  json rows_object = table("6", json::object());
  struct row_case {
    std::string label;
    std::vector<cluster_list> tables;
    std::vector<std::string> missing;
    error_source source;
    std::string message;
  };
  const std::vector<row_case> rows = {
      {"nothing",
       {},
       {"east"},
       error_source::internal,
       "no cluster answered the table (failed: east)"},
      {"a list",
       {{"east", table("5", json::array())},
        {"west", {{"kind", "ConfigMapList"}, {"apiVersion", "v1"}}}},
       {},
       error_source::decode,
       "cluster \"west\" answered something other than a meta.k8s.io/v1 "
       "Table"},
      {"old table version",
       {{"east", {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1beta1"}}}},
       {},
       error_source::decode,
       "cluster \"east\" answered something other than a meta.k8s.io/v1 "
       "Table"},
      {"columns differ",
       {{"east", table("5", json::array())}, {"west", other_columns}},
       {},
       error_source::decode,
       "cluster \"west\" answered a Table with columns (Name, Age) unlike "
       "\"east\"'s (Name, Data, Age)"},
      {"columns not an array",
       {{"east", table("5", json::array(), "x")}},
       {},
       error_source::decode,
       "cluster \"east\" answered a Table without columnDefinitions"},
      {"short row",
       {{"east", short_row}},
       {},
       error_source::decode,
       "cluster \"east\" answered a Table row whose cells do not match its "
       "columns"},
      {"row without cells",
       {{"east", no_cells}},
       {},
       error_source::decode,
       "cluster \"east\" answered a Table row whose cells do not match its "
       "columns"},
      {"rows not an array",
       {{"east", rows_object}},
       {},
       error_source::decode,
       "cluster \"east\" answered a Table whose rows are not an array"},
      {"no version",
       {{"east", table("", json::array())}},
       {},
       error_source::decode,
       "cluster \"east\" answered without a resourceVersion"},
  };
  for (const auto& r : rows) {
    auto merged = merge_tables(r.tables, r.missing);
    ASSERT_FALSE(merged) << r.label;
    EXPECT_EQ(merged.error().source, r.source) << r.label;
    EXPECT_EQ(merged.error().message, r.message) << r.label;
  }
}

}  // namespace
}  // namespace mca::sidecar::fanout
