#include "common/routing/body_metadata.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace mca::routing {
namespace {

using labels_t = std::map<std::string, std::string>;

// ------------------------------------------------- JSON and YAML bodies

struct metadata_row {
  std::string content_type;
  std::string body;
  object_metadata want;
};

object_metadata meta(std::string name, std::string ns, labels_t labels = {},
                     labels_t annotations = {}) {
  object_metadata m;
  m.name = std::move(name);
  m.namespace_name = std::move(ns);
  m.has_labels = !labels.empty();
  m.has_annotations = !annotations.empty();
  m.labels = std::move(labels);
  m.annotations = std::move(annotations);
  return m;
}

void expect_metadata(const object_metadata& got, const object_metadata& want) {
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.generate_name, want.generate_name);
  EXPECT_EQ(got.namespace_name, want.namespace_name);
  EXPECT_EQ(got.labels, want.labels);
  EXPECT_EQ(got.annotations, want.annotations);
  EXPECT_EQ(got.has_labels, want.has_labels);
  EXPECT_EQ(got.has_annotations, want.has_annotations);
}

TEST(BodyMetadata, ReadsJsonAndYamlBodies) {
  object_metadata generated = meta("", "dev", {{"app", "web"}});
  generated.generate_name = "web-";
  object_metadata null_labels = meta("a", "");
  null_labels.has_labels = true;  // present, though null
  const std::vector<metadata_row> rows = {
      {"application/json",
       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg",)"
       R"("namespace":"prod","labels":{"app":"web","tier":"frontend"},)"
       R"("annotations":{"note":"x"}},"data":{"k":"v"}})",
       meta("cfg", "prod", {{"app", "web"}, {"tier", "frontend"}},
            {{"note", "x"}})},
      {"application/json; charset=utf-8",
       R"({"metadata":{"generateName":"web-","namespace":"dev",)"
       R"("labels":{"app":"web"}}})",
       generated},
      {"Application/JSON", R"({"kind":"Pod"})", meta("", "")},
      {"application/json", R"({"metadata":null})", meta("", "")},
      {"application/json", R"({"metadata":{"name":"a","labels":null}})",
       null_labels},
      {"application/vnd.custom+json", R"({"metadata":{"name":"c"}})",
       meta("c", "")},
      {"application/yaml",
       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"
       "  namespace: prod\n  labels:\n    app: web\n    version: \"1\"\n"
       "    app.kubernetes.io/name: shop\n  annotations:\n    note: |\n"
       "      multi\n      line\ndata:\n  k: v\n",
       meta("cfg", "prod",
            {{"app", "web"},
             {"version", "1"},
             {"app.kubernetes.io/name", "shop"}},
            {{"note", "multi\nline\n"}})},
      {"application/apply-patch+yaml; charset=utf-8",
       "metadata:\n  name: cfg\n  labels: {app: web, on-call: 'yes'}\n",
       meta("cfg", "", {{"app", "web"}, {"on-call", "yes"}})},
      // JSON sent as an apply configuration.
      {"application/apply-patch+yaml",
       R"({"metadata":{"name":"j","labels":{"a":"\u00e9\/"}}})",
       meta("j", "", {{"a", "\xc3\xa9/"}})},
      {"application/yaml", "kind: Pod\n", meta("", "")},
      // Values that look like other scalars but are strings in YAML.
      {"application/yaml",
       "metadata:\n  labels:\n    a: 1.2.3\n    b: v1\n    c: '007'\n"
       "    d: inf\n    e: 2024-01-01\n",
       meta("", "",
            {{"a", "1.2.3"},
             {"b", "v1"},
             {"c", "007"},
             {"d", "inf"},
             {"e", "2024-01-01"}})},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.content_type + " " + r.body);
    const auto got = extract_metadata(r.content_type, r.body);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    expect_metadata(*got, r.want);
  }
}

struct error_row {
  std::string content_type;
  std::string body;
  std::string want;  // a substring of the message
};

void expect_metadata_error(const error_row& r) {
  SCOPED_TRACE(r.content_type + " " + r.body.substr(0, 80));
  const auto got = extract_metadata(r.content_type, r.body);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().source, error_source::client);
  EXPECT_NE(got.error().message.find(r.want), std::string::npos)
      << got.error().message;
  EXPECT_LT(got.error().message.size(), 300U) << got.error().message;
}

TEST(BodyMetadata, ReadsABodyWithoutContentTypeAsJson) {
  // As the API server does (its first supported media type is JSON).
  auto m = extract_metadata(
      "", R"({"metadata":{"name":"cm","labels":{"cluster":"west"}}})");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->name, "cm");
  EXPECT_EQ(m->labels.at("cluster"), "west");
  EXPECT_FALSE(extract_metadata("", "name: cm"));
}

TEST(BodyMetadata, RefusesBadJsonAndYaml) {
  const std::string long_key(5000, 'k');
  const std::vector<error_row> rows = {
      {"application/json", "", "not valid JSON"},
      {"application/json", R"({"metadata":{"name":"a")", "not valid JSON"},
      {"application/json", R"([{"metadata":{}}])", "not a JSON object"},
      {"application/json", R"({"metadata":"x"})", "metadata is not an object"},
      {"application/json", R"({"metadata":{"name":7}})",
       "metadata.name is not a string"},
      {"application/json", R"({"metadata":{"namespace":{}}})",
       "metadata.namespace is not a string"},
      {"application/json", R"({"metadata":{"labels":{"tier":1}}})",
       "metadata.labels.tier is not a string"},
      {"application/json", R"({"metadata":{"labels":{"tier":null}}})",
       "metadata.labels.tier is not a string"},
      {"application/json", R"({"metadata":{"labels":["a"]}})",
       "metadata.labels is not an object"},
      {"application/json", R"({"metadata":{"annotations":{"n":true}}})",
       "metadata.annotations.n is not a string"},
      {"application/json",
       R"({"metadata":{"labels":{")" + long_key + R"(":1}}})",
       "is not a string"},
      {"application/yaml", "", "empty"},
      {"application/yaml", "- a\n- b\n", "not a YAML map"},
      {"application/yaml", "just a string", "not a YAML map"},
      {"application/yaml", "metadata: [unclosed\n", "not valid YAML"},
      {"application/yaml", "metadata:\n  labels:\n    tier: 1\n",
       "metadata.labels.tier is not a string"},
      {"application/yaml", "metadata:\n  labels:\n    on: yes\n",
       "metadata.labels.on is not a string"},
      {"application/yaml", "metadata:\n  labels:\n    a: ~\n",
       "metadata.labels.a is not a string"},
      {"application/yaml", "metadata:\n  labels:\n    a: 0x1F\n",
       "metadata.labels.a is not a string"},
      {"application/yaml", "metadata:\n  labels:\n    a: {b: c}\n",
       "metadata.labels.a is not a string"},
      {"application/yaml", "metadata:\n  name: [a]\n",
       "metadata.name is not a string"},
      {"application/yaml", "metadata:\n  labels:\n    a: x\n    a: y\n",
       "metadata.labels.a appears more than once"},
      {"application/yaml", "metadata: {}\nmetadata: {name: x}\n",
       "appears more than once"},
      {"application/yaml",
       "base: &b {labels: {a: x}}\nmetadata:\n  <<: *b\n  name: n\n",
       "merge key"},
      {"application/yaml", "metadata: {name: a}\n---\nmetadata: {name: b}\n",
       "more than one YAML document"},
      {"text/plain", "{}", "unsupported content type \"text/plain\""},
      {"application/x-www-form-urlencoded", "a=b", "unsupported content type"},
  };
  for (const auto& r : rows) expect_metadata_error(r);
}

TEST(BodyMetadata, RefusesOversizeBodies) {
  const std::string body = R"({"metadata":{"name":"a"}})";
  EXPECT_TRUE(extract_metadata("application/json", body, body.size()));
  const auto got = extract_metadata("application/json", body, body.size() - 1);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().source, error_source::client);
  EXPECT_EQ(got.error().status.code, 413);
  EXPECT_NE(got.error().message.find("over the limit"), std::string::npos);

  const std::string big(default_max_body_bytes + 1, ' ');
  const auto too_big = extract_metadata("application/yaml", big);
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().status.code, 413);
  const auto patch = extract_label_change(patch_kind::merge_patch, body, 4);
  ASSERT_FALSE(patch.has_value());
  EXPECT_EQ(patch.error().status.code, 413);
}

// ------------------------------------------------------------ protobuf
//
// A tiny protobuf encoder, enough to build envelopes field by field.

std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7fU) | 0x80U);
    v >>= 7U;
  }
  out += static_cast<char>(v);
  return out;
}

std::string tag(std::uint32_t field, std::uint32_t wire_type) {
  return varint((std::uint64_t{field} << 3U) | wire_type);
}

std::string bytes_field(std::uint32_t field, const std::string& bytes) {
  return tag(field, 2) + varint(bytes.size()) + bytes;
}

std::string varint_field(std::uint32_t field, std::uint64_t value) {
  return tag(field, 0) + varint(value);
}

std::string fixed_field(std::uint32_t field, std::uint32_t wire_type,
                        std::size_t width) {
  return tag(field, wire_type) + std::string(width, '\x7f');
}

std::string map_entry(std::uint32_t field, const std::string& key,
                      const std::string& value) {
  return bytes_field(field, bytes_field(1, key) + bytes_field(2, value));
}

constexpr std::string_view magic_bytes("k8s\0", 4);

std::string magic() { return std::string(magic_bytes); }

std::string envelope(const std::string& raw) {
  return magic() +
         bytes_field(1, bytes_field(1, "v1") + bytes_field(2, "ConfigMap")) +
         bytes_field(2, raw) + bytes_field(3, "") + bytes_field(4, "");
}

// A ConfigMap with fields no reader here knows before and after metadata,
// and inside it, in every wire type that is allowed.
std::string config_map_with_unknown_fields() {
  const std::string metadata =
      bytes_field(1, "cfg") + bytes_field(3, "prod") + varint_field(7, 42) +
      fixed_field(40, 1, 8) + map_entry(11, "app", "web") +
      fixed_field(41, 5, 4) + map_entry(11, "tier", "frontend") +
      map_entry(12, "note", "hello") + bytes_field(13, "owner-ref-bytes");
  return envelope(varint_field(9, 300) + bytes_field(5, "before") +
                  bytes_field(1, metadata) + map_entry(2, "key", "value") +
                  varint_field(4, 1) + fixed_field(6, 1, 8));
}

// A ConfigMap exactly as client-go's generated (gogo) marshalling writes it:
// fields ascending, ObjectMeta's non-pointer fields always present even when
// empty, map entries sorted by key, and the envelope's contentEncoding and
// contentType written empty. Spelled out by hand so that a mistake in the
// encoder above cannot hide one in the reader.
constexpr std::string_view client_go_config_map(
    "k8s\0"                              // magic
    "\x0a\x0f"                           // typeMeta, 15 bytes
    "\x0a\x02v1"                         //   apiVersion
    "\x12\x09"                           //   kind
    "ConfigMap"                          //
    "\x12\x5b"                           // raw, 91 bytes: ConfigMap
    "\x0a\x4b"                           //   metadata, 75 bytes
    "\x0a\x0a"                           //     name
    "app-config"                         //
    "\x12\x00"                           //     generateName
    "\x1a\x04prod"                       //     namespace
    "\x22\x00"                           //     selfLink
    "\x2a\x00"                           //     uid
    "\x32\x00"                           //     resourceVersion
    "\x38\x00"                           //     generation
    "\x42\x00"                           //     creationTimestamp
    "\x5a\x0a\x0a\x03"                   //     labels entry, key
    "app"                                //
    "\x12\x03web"                        //       value
    "\x5a\x10\x0a\x04tier\x12\x08"       //     labels entry
    "frontend"                           //
    "\x62\x0d\x0a\x04note\x12\x05hello"  //     annotations entry
    "\x12\x0c\x0a\x03key\x12\x05value"   //   data entry
    "\x1a\x00"                           // contentEncoding
    "\x22\x00",                          // contentType
    4 + 2 + 15 + 2 + 91 + 2 + 2);

TEST(BodyMetadata, ReadsProtobufBodies) {
  const auto got = extract_metadata("application/vnd.kubernetes.protobuf",
                                    config_map_with_unknown_fields());
  ASSERT_TRUE(got.has_value()) << got.error().message;
  expect_metadata(*got,
                  meta("cfg", "prod", {{"app", "web"}, {"tier", "frontend"}},
                       {{"note", "hello"}}));

  ASSERT_EQ(client_go_config_map.size(), 118U);
  const auto real =
      extract_metadata("application/vnd.kubernetes.protobuf; charset=binary",
                       client_go_config_map);
  ASSERT_TRUE(real.has_value()) << real.error().message;
  expect_metadata(
      *real, meta("app-config", "prod", {{"app", "web"}, {"tier", "frontend"}},
                  {{"note", "hello"}}));

  // No metadata at all, and metadata in two parts merged as protobuf does.
  const auto bare = extract_metadata("application/vnd.kubernetes.protobuf",
                                     envelope(map_entry(2, "k", "v")));
  ASSERT_TRUE(bare.has_value()) << bare.error().message;
  expect_metadata(*bare, meta("", ""));
  const auto merged = extract_metadata(
      "application/vnd.kubernetes.protobuf",
      envelope(bytes_field(1, bytes_field(1, "a") + map_entry(11, "x", "1")) +
               bytes_field(1, bytes_field(1, "b") + map_entry(11, "y", "2") +
                                  map_entry(11, "x", "3"))));
  ASSERT_TRUE(merged.has_value()) << merged.error().message;
  expect_metadata(*merged, meta("b", "", {{"x", "3"}, {"y", "2"}}));
}

// Protobuf has no end marker, so a prefix that ends between two envelope
// fields after the object (the empty contentEncoding and contentType the
// last 4 bytes hold) is itself a valid message; all earlier cuts are errors.
TEST(BodyMetadata, EveryTruncatedProtobufBodyIsAnError) {
  for (const std::string& body :
       {config_map_with_unknown_fields(), std::string(client_go_config_map)}) {
    const auto full =
        extract_metadata("application/vnd.kubernetes.protobuf", body);
    ASSERT_TRUE(full.has_value()) << full.error().message;
    const std::size_t object_end = body.size() - 4;
    for (std::size_t n = 0; n < body.size(); ++n) {
      SCOPED_TRACE("prefix of " + std::to_string(n) + " bytes");
      // A copy of exactly n bytes, so a sanitizer sees any over-read.
      const std::string prefix = body.substr(0, n);
      const auto got =
          extract_metadata("application/vnd.kubernetes.protobuf", prefix);
      if (n < object_end) {
        ASSERT_FALSE(got.has_value());
        EXPECT_EQ(got.error().source, error_source::client);
      } else if (got.has_value()) {
        expect_metadata(*got, *full);
      }
    }
  }
}

// Every single-byte corruption of a real body either decodes or is an
// error; under a sanitizer this also shows nothing is read out of bounds.
TEST(BodyMetadata, CorruptedProtobufNeverCrashes) {
  for (std::size_t i = 0; i < client_go_config_map.size(); ++i) {
    for (int v = 0; v < 256; ++v) {
      std::string body(client_go_config_map);
      body[i] = static_cast<char>(v);
      const auto got =
          extract_metadata("application/vnd.kubernetes.protobuf", body);
      if (!got) {
        EXPECT_EQ(got.error().source, error_source::client);
      }
    }
  }
}

TEST(BodyMetadata, RefusesMalformedProtobuf) {
  const std::string type = "application/vnd.kubernetes.protobuf";
  const std::string good_meta = bytes_field(1, bytes_field(1, "a"));
  const std::vector<error_row> rows = {
      {type, "", "magic"},
      {type, "k8s", "magic"},
      {type, std::string("k8s\1", 4) + bytes_field(2, good_meta), "magic"},
      {type, std::string("\x0a\x00", 2), "magic"},
      {type, magic(), "no object"},
      {type, magic() + bytes_field(1, ""), "no object"},
      // Groups, invalid wire types and field number 0.
      {type, envelope(tag(5, 3) + good_meta), "group"},
      {type, envelope(tag(5, 4)), "group"},
      {type, envelope(tag(5, 6)), "invalid wire type"},
      {type, envelope(tag(5, 7)), "invalid wire type"},
      {type, envelope(tag(0, 0) + "\x01"), "invalid field key"},
      // Varints: 11 bytes, overflowing the 64th bit, and unterminated.
      {type,
       envelope(varint_field(9, 0).substr(0, 1) + std::string(10, '\x80') +
                "\x01"),
       "varint"},
      {type, envelope(tag(9, 0) + std::string(9, '\xff') + "\x02"),
       "overflows"},
      {type, magic() + tag(2, 2) + "\x80\x80", "truncated varint"},
      // Lengths past the end, at each level.
      {type, magic() + tag(2, 2) + varint(1000) + "abc", "past the end"},
      {type, magic() + tag(2, 2) + varint(~std::uint64_t{0}), "past the end"},
      {type, envelope(tag(1, 2) + varint(5) + "ab"), "past the end"},
      {type, envelope(bytes_field(1, tag(11, 2) + varint(9) + "x")),
       "past the end"},
      {type, envelope(bytes_field(1, bytes_field(11, tag(1, 2) + varint(3)))),
       "past the end"},
      // Known fields with the wrong wire type.
      {type, envelope(varint_field(1, 3)), "wrong wire type"},
      {type, envelope(bytes_field(1, varint_field(1, 3))), "wrong wire type"},
      {type, envelope(bytes_field(1, varint_field(11, 3))), "wrong wire type"},
      {type, envelope(bytes_field(1, bytes_field(11, varint_field(1, 3)))),
       "wrong wire type"},
      {type, magic() + varint_field(2, 1), "wrong wire type"},
      // Fixed-width fields cut short.
      {type, envelope(bytes_field(1, tag(9, 1) + "1234567")), "truncated"},
      {type, envelope(tag(9, 5) + "123"), "truncated"},
      // An envelope whose object this reader cannot see.
      {type, magic() + bytes_field(2, good_meta) + bytes_field(3, "gzip"),
       "content encoding \"gzip\""},
      {type,
       magic() + bytes_field(2, good_meta) + bytes_field(4, "application/json"),
       "inner content type"},
  };
  for (const auto& r : rows) expect_metadata_error(r);
}

// ------------------------------------------------------------- patches

TEST(PatchKind, FromContentType) {
  const std::vector<std::pair<std::string, patch_kind>> rows = {
      {"application/json-patch+json", patch_kind::json_patch},
      {"application/merge-patch+json", patch_kind::merge_patch},
      {"application/strategic-merge-patch+json; charset=UTF-8",
       patch_kind::strategic_merge_patch},
      {"Application/Apply-Patch+YAML", patch_kind::apply},
      {" application/merge-patch+json ;x=y", patch_kind::merge_patch},
  };
  for (const auto& [type, want] : rows) {
    SCOPED_TRACE(type);
    const auto got = patch_kind_from_content_type(type);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_STREQ(to_string(*got), to_string(want));
  }
  for (const std::string type :
       {"application/json", "application/yaml", "", "text/plain",
        "application/vnd.kubernetes.protobuf"}) {
    SCOPED_TRACE(type);
    const auto got = patch_kind_from_content_type(type);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().source, error_source::client);
    EXPECT_NE(got.error().message.find("not a patch type"), std::string::npos);
  }
}

using change_map = std::map<std::string, std::optional<std::string>>;

struct patch_row {
  patch_kind kind;
  std::string body;
  bool touches;
  bool replaces_all;
  change_map set;
};

TEST(PatchLabelChange, ReadsEachPatchKind) {
  using enum patch_kind;
  const auto none = std::nullopt;
  const std::vector<patch_row> rows = {
      // JSON patch.
      {json_patch,
       R"([{"op":"add","path":"/metadata/labels/tier","value":"db"}])",
       true,
       false,
       {{"tier", "db"}}},
      {json_patch,
       R"([{"op":"replace","path":"/metadata/labels/app.kubernetes.io~1name","value":"shop"},)"
       R"({"op":"remove","path":"/metadata/labels/a~0b"}])",
       true,
       false,
       {{"app.kubernetes.io/name", "shop"}, {"a~b", none}}},
      {json_patch,
       R"([{"op":"replace","path":"/metadata/labels","value":{"x":"1"}},)"
       R"({"op":"add","path":"/metadata/labels/y","value":"2"}])",
       true,
       true,
       {{"x", "1"}, {"y", "2"}}},
      {json_patch,
       R"([{"op":"remove","path":"/metadata/labels"}])",
       true,
       true,
       {}},
      {json_patch,
       R"([{"op":"replace","path":"/metadata","value":{"name":"n","labels":{"a":"b"}}}])",
       true,
       true,
       {{"a", "b"}}},
      {json_patch,
       R"([{"op":"replace","path":"/metadata","value":{"name":"n"}}])",
       true,
       true,
       {}},
      {json_patch,
       R"([{"op":"copy","from":"/metadata/annotations/x","path":"/metadata/labels/x"}])",
       true,
       true,
       {}},
      {json_patch,
       R"([{"op":"move","from":"/metadata/labels/old","path":"/spec/x"}])",
       true,
       false,
       {{"old", none}}},
      {json_patch,
       R"([{"op":"move","from":"/metadata/labels/a","path":"/metadata/labels/b"}])",
       true,
       true,
       {}},
      {json_patch,
       R"([{"op":"test","path":"/metadata/labels/a","value":"b"},)"
       R"({"op":"replace","path":"/spec/replicas","value":3},)"
       R"({"op":"add","path":"/metadata/labelsx","value":{}},)"
       R"({"op":"copy","from":"/metadata/labels/a","path":"/metadata/annotations/a"}])",
       false,
       false,
       {}},
      {json_patch, "[]", false, false, {}},
      // Merge patch.
      {merge_patch,
       R"({"metadata":{"labels":{"a":"1","b":null}}})",
       true,
       false,
       {{"a", "1"}, {"b", none}}},
      {merge_patch, R"({"metadata":{"labels":null}})", true, true, {}},
      {merge_patch, R"({"metadata":null})", true, true, {}},
      {merge_patch,
       R"({"spec":{"replicas":2},"metadata":{"annotations":{"a":"b"}}})",
       false,
       false,
       {}},
      {merge_patch, R"({"metadata":{"labels":{}}})", true, false, {}},
      // A merge patch ignores $ keys' meaning: they are just label names.
      {merge_patch,
       R"({"metadata":{"labels":{"$patch":"replace"}}})",
       true,
       false,
       {{"$patch", "replace"}}},
      // Strategic merge patch.
      {strategic_merge_patch,
       R"({"metadata":{"labels":{"a":"1","b":null}}})",
       true,
       false,
       {{"a", "1"}, {"b", none}}},
      {strategic_merge_patch,
       R"({"metadata":{"labels":{"$patch":"replace","a":"1","b":null}}})",
       true,
       true,
       {{"a", "1"}}},
      {strategic_merge_patch,
       R"({"metadata":{"labels":{"a":"1","$patch":"delete"}}})",
       true,
       true,
       {}},
      {strategic_merge_patch,
       R"({"metadata":{"labels":{"$retainKeys":["a"],"a":"1"}}})",
       true,
       true,
       {{"a", "1"}}},
      {strategic_merge_patch,
       R"({"metadata":{"$patch":"replace","name":"n"}})",
       true,
       true,
       {}},
      {strategic_merge_patch,
       R"({"metadata":{"$setElementOrder/finalizers":["a"],"finalizers":["a"]}})",
       false,
       false,
       {}},
      {strategic_merge_patch,
       R"({"spec":{"containers":[{"name":"c"}]}})",
       false,
       false,
       {}},
      // Apply, in YAML and JSON.
      {apply,
       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
       "  labels:\n    a: '1'\n    b: x\n",
       true,
       false,
       {{"a", "1"}, {"b", "x"}}},
      {apply,
       R"({"metadata":{"name":"c","labels":{"a":"1"}}})",
       true,
       false,
       {{"a", "1"}}},
      {apply, "metadata:\n  name: c\n", false, false, {}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(to_string(r.kind)) + " " + r.body);
    const auto got = extract_label_change(r.kind, r.body);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->touches_labels, r.touches);
    EXPECT_EQ(got->replaces_all, r.replaces_all);
    EXPECT_EQ(got->set, r.set);
  }
}

TEST(PatchLabelChange, RefusesBadPatches) {
  using enum patch_kind;
  const std::vector<std::tuple<patch_kind, std::string, std::string>> rows = {
      {json_patch, R"({"op":"add"})", "not an array"},
      {json_patch, "[1]", "not an object"},
      {json_patch, R"([{"path":"/a"}])", "no op"},
      {json_patch, R"([{"op":"add","value":1}])", "no path"},
      {json_patch, R"([{"op":"frobnicate","path":"/a"}])", "unknown"},
      {json_patch, R"([{"op":"add","path":"/metadata/labels/a"}])", "no value"},
      {json_patch, R"([{"op":"move","path":"/a"}])", "no from"},
      {json_patch, R"([{"op":"add","path":"metadata","value":1}])",
       "does not start with /"},
      {json_patch,
       R"([{"op":"add","path":"/metadata/labels/a~2","value":"x"}])",
       "invalid ~ escape"},
      {json_patch, R"([{"op":"add","path":"/metadata/labels/a~","value":"x"}])",
       "invalid ~ escape"},
      {json_patch, R"([{"op":"add","path":"/metadata/labels/a","value":1}])",
       "metadata.labels.a is not a string"},
      {json_patch,
       R"([{"op":"add","path":"/metadata/labels","value":{"a":2}}])",
       "metadata.labels.a is not a string"},
      {json_patch,
       R"([{"op":"add","path":"/metadata/labels/a/b","value":"x"}])",
       "inside a label value"},
      {json_patch, "[", "not valid JSON"},
      {merge_patch, "[]", "not a JSON object"},
      {merge_patch, R"({"metadata":{"labels":{"a":1}}})",
       "metadata.labels.a is not a string"},
      {merge_patch, R"({"metadata":{"labels":"a=b"}})",
       "metadata.labels is not an object"},
      {merge_patch, R"({"metadata":3})", "metadata is not an object"},
      {strategic_merge_patch, "{", "not valid JSON"},
      {apply, "metadata:\n  labels:\n    a: 1\n",
       "metadata.labels.a is not a string"},
      {apply, "- a\n", "not a YAML map"},
  };
  for (const auto& [kind, body, want] : rows) {
    SCOPED_TRACE(std::string(to_string(kind)) + " " + body);
    const auto got = extract_label_change(kind, body);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().source, error_source::client);
    EXPECT_NE(got.error().message.find(want), std::string::npos)
        << got.error().message;
  }
}

}  // namespace
}  // namespace mca::routing
