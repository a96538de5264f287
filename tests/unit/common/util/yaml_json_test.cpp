#include "common/util/yaml_json.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::util {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

json one(std::string_view text) {
  auto docs = parse_yaml_documents(text, "test.yaml");
  EXPECT_TRUE(docs) << docs.error().message;
  if (!docs || docs->size() != 1) {
    ADD_FAILURE() << "expected one document";
    return nullptr;
  }
  return docs->front();
}

TEST(YamlToJson, PlainScalarsResolveQuotedOnesStayStrings) {
  const json doc = one(R"(
bool: true
boolCaps: False
int: 42
negative: -7
float: 0.6667
exponent: 1e3
null1: null
null2: ~
null3:
word: hello
version: 1.2.3
hex: 0x10
quotedBool: "true"
quotedInt: '42'
quotedNull: "null"
quotedEmpty: ""
tagged: !!str 12
block: |
  line one
  line two
)");
  EXPECT_EQ(doc["bool"], true);
  EXPECT_EQ(doc["boolCaps"], false);
  EXPECT_EQ(doc["int"], 42);
  EXPECT_TRUE(doc["int"].is_number_integer());
  EXPECT_EQ(doc["negative"], -7);
  EXPECT_TRUE(doc["float"].is_number_float());
  EXPECT_DOUBLE_EQ(doc["float"].get<double>(), 0.6667);
  EXPECT_DOUBLE_EQ(doc["exponent"].get<double>(), 1000.0);
  EXPECT_TRUE(doc["null1"].is_null());
  EXPECT_TRUE(doc["null2"].is_null());
  EXPECT_TRUE(doc["null3"].is_null());
  EXPECT_EQ(doc["word"], "hello");
  EXPECT_EQ(doc["version"], "1.2.3");
  EXPECT_EQ(doc["hex"], "0x10");
  EXPECT_EQ(doc["quotedBool"], "true");
  EXPECT_EQ(doc["quotedInt"], "42");
  EXPECT_EQ(doc["quotedNull"], "null");
  EXPECT_EQ(doc["quotedEmpty"], "");
  EXPECT_EQ(doc["tagged"], "12");
  EXPECT_EQ(doc["block"], "line one\nline two\n");
}

TEST(YamlToJson, IntegersWiderThan64BitsKeepTheirDigits) {
  const json doc =
      one("big: 123456789012345678901234567890\n"
          "unsigned: 18446744073709551615\n");
  EXPECT_EQ(doc["big"], "123456789012345678901234567890");
  EXPECT_EQ(doc["unsigned"].get<std::uint64_t>(), 18446744073709551615ULL);
}

TEST(YamlToJson, NonScalarKeyIsAnErrorWithItsPosition) {
  auto docs = parse_yaml_documents("a: 1\n? [x, y]\n: 2\n", "keys.yaml");
  ASSERT_FALSE(docs);
  EXPECT_THAT(docs.error().message, HasSubstr("keys.yaml: line 2"));
  EXPECT_THAT(docs.error().message, HasSubstr("key must be a scalar"));
}

TEST(ParseYamlDocuments, SkipsEmptyDocumentsAndKeepsOrder) {
  auto docs = parse_yaml_documents(
      "---\n# nothing here\n---\na: 1\n---\n---\n"
      "b: 2\n...\n",
      "multi.yaml");
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 2U);
  EXPECT_EQ((*docs)[0], (json{{"a", 1}}));
  EXPECT_EQ((*docs)[1], (json{{"b", 2}}));
}

TEST(ParseYamlDocuments, EmptyTextHasNoDocuments) {
  auto docs = parse_yaml_documents("", "empty.yaml");
  ASSERT_TRUE(docs);
  EXPECT_TRUE(docs->empty());
}

TEST(ParseYamlDocuments, JsonIsReadExactlyAsJson) {
  auto docs = parse_yaml_documents(
      "  {\"n\": 12345678901234567890, \"s\": \"caf\\u00e9\", \"f\": 0.1, "
      "\"t\": \"true\"}",
      "in.json");
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 1U);
  const json& doc = docs->front();
  EXPECT_EQ(doc["n"].get<std::uint64_t>(), 12345678901234567890ULL);
  EXPECT_EQ(doc["s"], "caf\xc3\xa9");
  EXPECT_DOUBLE_EQ(doc["f"].get<double>(), 0.1);
  EXPECT_EQ(doc["t"], "true");
}

TEST(ParseYamlDocuments, JsonDocumentsSeparatedLikeYamlAreRead) {
  auto docs = parse_yaml_documents("{\"a\": 1}\n---\n{\"b\": [1, 2]}\n", "x");
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 2U);
  EXPECT_EQ((*docs)[1], (json{{"b", {1, 2}}}));
}

TEST(ParseYamlDocuments, SyntaxErrorNamesOriginLineAndColumn) {
  auto docs = parse_yaml_documents("a: 1\nb: 2\nc: [unclosed\n", "bad.yaml");
  ASSERT_FALSE(docs);
  EXPECT_EQ(docs.error().source, error_source::config);
  EXPECT_THAT(docs.error().message, HasSubstr("bad.yaml: line "));
  EXPECT_THAT(docs.error().message, HasSubstr("column "));

  auto indent = parse_yaml_documents("a:\n  b: 1\n c: 2\n", "indent.yaml");
  ASSERT_FALSE(indent);
  EXPECT_THAT(indent.error().message, HasSubstr("indent.yaml: line 3, column"));
}

TEST(JsonToYaml, WritesBlockStyleInKeyOrder) {
  const json value{
      {"kind", "Pod"},
      {"metadata", {{"name", "web"}, {"labels", json::object()}}},
      {"spec",
       {{"containers",
         json::array({json{{"name", "app"}, {"args", {"a", "b"}}}})},
        {"empty", json::array()}}}};
  EXPECT_EQ(json_to_yaml(value),
            "kind: Pod\n"
            "metadata:\n"
            "  labels: {}\n"
            "  name: web\n"
            "spec:\n"
            "  containers:\n"
            "  - args:\n"
            "    - a\n"
            "    - b\n"
            "    name: app\n"
            "  empty: []\n");
}

TEST(JsonToYaml, QuotesStringsYamlWouldReadAsSomethingElse) {
  const json value{{"a", "true"}, {"b", "1"}, {"c", "plain words"}};
  EXPECT_EQ(json_to_yaml(value), "a: \"true\"\nb: \"1\"\nc: plain words\n");
  EXPECT_EQ(json_to_yaml(json("--operator=x:9443")), "--operator=x:9443\n");
  // Our reader takes these as strings, but YAML 1.1 readers (kubectl,
  // PyYAML) would not: they are quoted for them.
  for (const char* s : {"yes", "No", "on", "OFF", "y", "0x10", "0o17", "1e3",
                        "1_000", "12:30", "2024-01-01", "~", ".inf", "<<"}) {
    EXPECT_EQ(json_to_yaml(json(s)), "\"" + std::string(s) + "\"\n") << s;
  }
}

TEST(JsonToYaml, ScalarDocuments) {
  EXPECT_EQ(json_to_yaml(json(nullptr)), "null\n");
  EXPECT_EQ(json_to_yaml(json::object()), "{}\n");
  EXPECT_EQ(json_to_yaml(json::array()), "[]\n");
  EXPECT_EQ(json_to_yaml(json(7)), "7\n");
}

// Every string some YAML reader would take for something else, or that
// needs escaping, in every position a value can take.
TEST(JsonToYaml, RoundTripsTrickyValues) {
  const std::vector<std::string> strings{
      "",
      " ",
      "true",
      "True",
      "FALSE",
      "yes",
      "No",
      "on",
      "OFF",
      "y",
      "n",
      "null",
      "Null",
      "~",
      "1",
      "-1",
      "+1",
      "007",
      "0x10",
      "0o17",
      "1e3",
      "1.5",
      ".5",
      "-.5",
      ".inf",
      "-.Inf",
      ".NaN",
      "1_000",
      "12:30",
      "2024-01-01",
      " leading",
      "trailing ",
      "a: b",
      "a #b",
      "a#b",
      "key:",
      ":",
      "-",
      "- item",
      "---",
      "...",
      "--flag=1",
      "-x",
      "?",
      "? q",
      "#c",
      "&anchor",
      "*alias",
      "!tag",
      "|",
      ">",
      "'single'",
      "\"double\"",
      "%",
      "@",
      "`",
      "{a: 1}",
      "[1, 2]",
      "a,b",
      "line\nbreak",
      "tab\there",
      "cr\rhere",
      "back\\slash",
      "bell\x07",
      "del\x7f",
      "caf\xc3\xa9",
      "emoji \xf0\x9f\x98\x80",
      "<<",
      "=",
      "mca.k8s.io/inject",
      "{\"version\":\"0.1.0\",\"containers\":[\"app\"]}",
      "/path/to:x"};
  json object = json::object();
  json array = json::array();
  for (const auto& s : strings) {
    object[s] = s;
    array.push_back(s);
    array.push_back(json::array({s}));
    array.push_back(json{{"k", s}, {s, json::array({s, s})}});
  }
  const json value{
      {"strings", object},
      {"list", array},
      {"numbers",
       {0, -1, 42, 1.5, 0.6667, 1e100, -2.5e-8, 2.0,
        std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::uint64_t>::max()}},
      {"other", {true, false, nullptr, json::object(), json::array()}},
      {"nested", json::array({json::array({json::array({"deep"})}),
                              json::array({json::object()}),
                              json{{"a", json{{"b", json{{"c", "d"}}}}}}})}};
  const std::string yaml = json_to_yaml(value);
  auto back = parse_yaml_documents(yaml, "round-trip.yaml");
  ASSERT_TRUE(back) << back.error().message << "\n" << yaml;
  ASSERT_EQ(back->size(), 1U);
  EXPECT_EQ(back->front(), value) << yaml;
  // And it is YAML, not JSON in disguise.
  EXPECT_THAT(yaml, Not(HasSubstr("{\"strings\"")));
}

TEST(JsonToYaml, EachTrickyStringRoundTripsAlone) {
  for (const std::string s : {"", "true", "0x10", "1e3", "~", " x", "x ",
                              "a: b", "a #b", "null", "-", "---", "\t", "\n"}) {
    auto back = parse_yaml_documents(json_to_yaml(json(s)), "one.yaml");
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->size(), 1U) << "for " << json(s).dump();
    EXPECT_EQ(back->front(), json(s)) << json_to_yaml(json(s));
  }
}

}  // namespace
}  // namespace mca::util
