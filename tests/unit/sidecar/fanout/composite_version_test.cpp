#include "sidecar/fanout/composite_version.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/util/base64.hpp"

namespace mca::sidecar::fanout {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// The payload a token carries, encoded as the sidecar would, so tests can
// forge tokens with exactly one thing wrong.
std::string forge(const std::string& json) {
  std::string b64 = util::base64_encode(json);
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  for (auto& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return "mca1." + b64;
}

std::string must_encode(const composite_version& v) {
  auto e = encode(v);
  EXPECT_TRUE(e) << e.error().message;
  return e ? *e : std::string();
}

TEST(CompositeVersion, RoundTrips) {
  const std::vector<composite_version> cases = {
      {{{"east", "1"}}},
      {{{"east", "123"}, {"home", "9"}, {"west", "18446744073709551615"}}},
      // Characters that need escaping in JSON or URLs stay inside the token.
      {{{"a", "x/y+z=\"\\"}, {"b.c-d", "ä€"}}},
  };
  for (const auto& v : cases) {
    const std::string token = must_encode(v);
    EXPECT_THAT(token, MatchesRegex("mca1\\.[A-Za-z0-9_-]+")) << token;
    auto back = decode(token);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, v);
    EXPECT_TRUE(is_composite(token));
  }
}

TEST(CompositeVersion, KnownEncoding) {
  // The wire form is a contract with clients holding tokens across sidecar
  // restarts and upgrades: pin it.
  EXPECT_EQ(must_encode({{{"east", "5"}, {"west", "7"}}}),
            forge(R"([["east","5"],["west","7"]])"));
}

TEST(CompositeVersion, StableUnderInsertionOrder) {
  composite_version a;
  a.versions["west"] = "7";
  a.versions["east"] = "5";
  a.versions["home"] = "3";
  composite_version b;
  b = with(b, "home", "3");
  b = with(b, "east", "5");
  b = with(b, "west", "7");
  composite_version c =
      with(with(with({}, "east", "1"), "west", "7"), "home", "3");
  c = with(c, "east", "5");  // replaced, not added
  EXPECT_EQ(must_encode(a), must_encode(b));
  EXPECT_EQ(must_encode(a), must_encode(c));
  EXPECT_EQ(c.versions.size(), 3U);
}

TEST(CompositeVersion, EncodeErrors) {
  composite_version too_many;
  for (int i = 0; i <= 64; ++i)
    too_many.versions["c" + std::to_string(i)] = "1";
  composite_version just_enough = too_many;
  just_enough.versions.erase("c0");

  struct row {
    std::string label;
    composite_version version;
    error_source source;
    std::string message;
  };
  const std::vector<row> rows = {
      {"empty",
       {},
       error_source::internal,
       "a multi-cluster version needs at least one cluster"},
      {"too many clusters", too_many, error_source::config,
       "a fan-out over 65 clusters exceeds the limit of 64"},
      {"empty cluster",
       {{{"", "1"}}},
       error_source::internal,
       "cluster name \"\" is empty or longer than 253 bytes"},
      {"long cluster",
       {{{std::string(254, 'a'), "1"}}},
       error_source::internal,
       "cluster name \"" + std::string(254, 'a') +
           "\" is empty or longer than 253 bytes"},
      {"empty version",
       {{{"east", ""}}},
       error_source::decode,
       "cluster \"east\" answered without a resourceVersion"},
      {"long version",
       {{{"east", std::string(129, '1')}}},
       error_source::decode,
       "cluster \"east\" answered with a resourceVersion of 129 bytes; the "
       "limit is 128"},
      {"nested",
       {{{"east", "mca1.abc"}}},
       error_source::decode,
       "cluster \"east\" answered with a resourceVersion that is already a "
       "multi-cluster version"},
  };
  for (const auto& r : rows) {
    auto e = encode(r.version);
    ASSERT_FALSE(e) << r.label;
    EXPECT_EQ(e.error().source, r.source) << r.label;
    EXPECT_EQ(e.error().message, r.message) << r.label;
  }

  // The bounds themselves are allowed, and fit the documented size.
  for (auto& [cluster, rv] : just_enough.versions) rv = std::string(128, '9');
  EXPECT_LE(must_encode(just_enough).size(), max_composite_bytes);
  composite_version worst;
  for (int i = 0; i < 64; ++i) {
    std::string name(253, 'n');
    name.replace(0, 2, std::to_string(10 + i));
    worst.versions[name] = std::string(128, '9');
  }
  EXPECT_LE(must_encode(worst).size(), max_composite_bytes);
  EXPECT_TRUE(decode(must_encode(worst)));
}

TEST(CompositeVersion, DecodeErrors) {
  const std::string prefix =
      "resourceVersion is not a valid multi-cluster version: ";
  const std::string valid = forge(R"([["east","5"]])");
  struct row {
    std::string label;
    std::string text;
    std::string why;
  };
  const std::vector<row> rows = {
      {"empty", "", "it does not start with \"mca1.\""},
      {"raw version", "12345", "it does not start with \"mca1.\""},
      {"other prefix", "mca2.W10", "it does not start with \"mca1.\""},
      {"prefix only", "mca1.", "bad base64url after \"mca1.\""},
      {"bad character", "mca1.W1s*", "bad base64url after \"mca1.\""},
      {"standard alphabet", "mca1.W1s+", "bad base64url after \"mca1.\""},
      {"padding", valid + "=", "bad base64url after \"mca1.\""},
      {"impossible length", "mca1.W", "bad base64url after \"mca1.\""},
      {"double encoded", "mca1." + valid, "it is encoded twice"},
      {"not json", forge("east=5"), "its content is not JSON"},
      {"spaced json", forge(R"([ ["east","5"] ])"),
       "not in the form the sidecar issues"},
      {"unsorted", forge(R"([["west","7"],["east","5"]])"),
       "not in the form the sidecar issues"},
      {"object", forge(R"({"east":"5"})"), "it names no cluster"},
      {"empty array", forge("[]"), "it names no cluster"},
      {"not a pair", forge(R"([["east"]])"),
       "an entry is not a [cluster, version] pair"},
      {"number version", forge(R"([["east",5]])"),
       "an entry is not a [cluster, version] pair"},
      {"empty cluster", forge(R"([["","5"]])"), "an entry has no cluster name"},
      {"empty version", forge(R"([["east",""]])"),
       "cluster \"east\" has no version"},
      {"duplicate", forge(R"([["east","5"],["east","6"]])"),
       "cluster \"east\" appears twice"},
      {"nested", forge(R"([["east",")" + valid + R"("]])"),
       "the version of cluster \"east\" is itself a multi-cluster version"},
      {"too long", "mca1." + std::string(max_composite_bytes, 'A'),
       "longer than 49152 bytes"},
  };
  for (const auto& r : rows) {
    auto d = decode(r.text);
    ASSERT_FALSE(d) << r.label;
    EXPECT_EQ(d.error().source, error_source::client) << r.label;
    EXPECT_EQ(d.error().message, prefix + r.why) << r.label;
  }

  std::string many = "[";
  for (int i = 0; i < 65; ++i) {
    many += (i ? "," : "") + std::string("[\"c") + std::to_string(100 + i) +
            "\",\"1\"]";
  }
  many += "]";
  auto d = decode(forge(many));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message, prefix + "it names more than 64 clusters");
}

TEST(CompositeVersion, IsComposite) {
  EXPECT_FALSE(is_composite(""));
  EXPECT_FALSE(is_composite("0"));
  EXPECT_FALSE(is_composite("12345"));
  EXPECT_FALSE(is_composite("mca1"));
  EXPECT_TRUE(is_composite("mca1."));
  EXPECT_TRUE(is_composite("mca1.garbage"));
}

TEST(UpstreamVersion, Table) {
  const std::string both = must_encode({{{"east", "5"}, {"west", "7"}}});
  struct row {
    std::string label;
    std::string client;
    std::string cluster;
    std::size_t clusters;
    std::string want;  // empty with an error
    std::string error;
  };
  const std::vector<row> rows = {
      {"any", "", "east", 3, "", ""},
      {"cache", "0", "east", 3, "0", ""},
      {"composite east", both, "east", 2, "5", ""},
      {"composite west", both, "west", 2, "7", ""},
      {"composite, one cluster", both, "west", 1, "7", ""},
      {"raw, one cluster", "42", "east", 1, "42", ""},
      {"raw, fan-out", "42", "east", 2, "",
       "resourceVersion \"42\" is not one the sidecar issued for this "
       "multi-cluster request; list again to get a current one"},
      {"raw, long, fan-out", std::string(100, '4'), "east", 2, "",
       "resourceVersion \"" + std::string(64, '4') +
           "...\" is not one the sidecar issued for this multi-cluster "
           "request; list again to get a current one"},
      {"cluster not in it", both, "home", 3, "",
       "resourceVersion has versions for east, west but not for cluster "
       "\"home\"; list again to get a current one"},
      {"bad composite", "mca1.!", "east", 2, "",
       "resourceVersion is not a valid multi-cluster version: bad base64url "
       "after \"mca1.\""},
  };
  for (const auto& r : rows) {
    auto v = upstream_version(r.client, r.cluster, r.clusters);
    if (r.error.empty()) {
      ASSERT_TRUE(v) << r.label << ": " << v.error().message;
      EXPECT_EQ(*v, r.want) << r.label;
    } else {
      ASSERT_FALSE(v) << r.label;
      EXPECT_EQ(v.error().source, error_source::client) << r.label;
      EXPECT_EQ(v.error().message, r.error) << r.label;
    }
  }
}

}  // namespace
}  // namespace mca::sidecar::fanout
