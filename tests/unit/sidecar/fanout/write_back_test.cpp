#include "sidecar/fanout/write_back.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sidecar/fanout/composite_version.hpp"

namespace mca::sidecar::fanout {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

std::string east_version() {
  return *encode(composite_version{{{"east", "41"}}});
}

struct row {
  std::string label;
  std::string content_type;
  json body;
  json want;  // null: the body passes unchanged
};

TEST(WriteBack, TranslatesVersionsAndStripsTheAnnotation) {
  const std::string rv = east_version();
  const json annotated_meta = {
      {"name", "a"},
      {"resourceVersion", rv},
      {"annotations", {{"mca.k8s.io/cluster", "east"}, {"keep", "1"}}}};
  const std::vector<row> rows = {
      {"update: annotation gone, own version",
       "application/json",
       {{"kind", "ConfigMap"}, {"metadata", annotated_meta}},
       {{"kind", "ConfigMap"},
        {"metadata",
         {{"name", "a"},
          {"resourceVersion", "41"},
          {"annotations", {{"keep", "1"}}}}}}},
      {"only annotation: the emptied map goes too",
       "application/json",
       {{"metadata", {{"annotations", {{"mca.k8s.io/cluster", "east"}}}}}},
       {{"metadata", json::object()}}},
      {"merge patch",
       "application/merge-patch+json",
       {{"metadata", {{"resourceVersion", rv}}}, {"data", {{"k", "v"}}}},
       {{"metadata", {{"resourceVersion", "41"}}}, {"data", {{"k", "v"}}}}},
      {"json patch test on the version",
       "application/json-patch+json",
       {{{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", rv}},
        {{"op", "replace"}, {"path", "/data/k"}, {"value", "v"}}},
       {{{"op", "test"},
         {"path", "/metadata/resourceVersion"},
         {"value", "41"}},
        {{"op", "replace"}, {"path", "/data/k"}, {"value", "v"}}}},
      {"delete options precondition",
       "application/json",
       {{"kind", "DeleteOptions"},
        {"preconditions", {{"uid", "u"}, {"resourceVersion", rv}}}},
       {{"kind", "DeleteOptions"},
        {"preconditions", {{"uid", "u"}, {"resourceVersion", "41"}}}}},
      {"server-side apply YAML",
       "application/apply-patch+yaml",
       json::object(),  // body given as YAML below
       {{"metadata", {{"name", "a"}, {"resourceVersion", "41"}}}}},
      {"a cluster's own version passes",
       "application/json",
       {{"metadata", {{"name", "a"}, {"resourceVersion", "41"}}}},
       nullptr},
      {"protobuf is not read",
       "application/vnd.kubernetes.protobuf",
       {{"metadata", {{"resourceVersion", rv}}}},
       nullptr},
  };
  for (const auto& r : rows) {
    std::string body = r.body.dump();
    if (r.label == "server-side apply YAML") {
      body = "metadata:\n  name: a\n  resourceVersion: " + rv + "\n";
    }
    auto out = translate_write(body, r.content_type, "east", 3);
    ASSERT_TRUE(out) << r.label << ": " << out.error().message;
    if (r.want.is_null()) {
      EXPECT_FALSE(out->changed) << r.label;
      EXPECT_EQ(out->body, body) << r.label;
    } else {
      EXPECT_TRUE(out->changed) << r.label;
      EXPECT_EQ(json::parse(out->body), r.want) << r.label;
    }
  }
}

TEST(WriteBack, AVersionFromAnotherClusterIsAConflict) {
  auto out = translate_write(
      json{{"metadata", {{"resourceVersion", east_version()}}}}.dump(),
      "application/json", "west", 3);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().status.code, 409);
  EXPECT_THAT(out.error().message, HasSubstr("\"west\""));
}

TEST(WriteBack, BadBodiesAndTokensAreClientErrors) {
  auto not_json = translate_write("{nope", "application/json", "east", 3);
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().source, error_source::client);
  auto bad_token =
      translate_write(R"({"metadata": {"resourceVersion": "mca1.!!"}})",
                      "application/json", "east", 3);
  ASSERT_FALSE(bad_token);
  EXPECT_EQ(bad_token.error().source, error_source::client);
}

TEST(WriteBack, TheAnnotationNamesTheCluster) {
  EXPECT_EQ(
      cluster_named_in(
          R"({"metadata": {"annotations": {"mca.k8s.io/cluster": "west"}}})",
          "application/json"),
      "west");
  EXPECT_EQ(cluster_named_in(R"({"metadata": {}})", "application/json"),
            std::nullopt);
  EXPECT_EQ(
      cluster_named_in("\x0a\x02k8s", "application/vnd.kubernetes.protobuf"),
      std::nullopt);
}

}  // namespace
}  // namespace mca::sidecar::fanout
