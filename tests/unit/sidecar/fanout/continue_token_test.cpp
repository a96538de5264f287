#include "sidecar/fanout/continue_token.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/util/base64.hpp"

namespace mca::sidecar::fanout {
namespace {

using ::testing::ElementsAre;
using ::testing::MatchesRegex;

std::string forge(const std::string& prefix, const std::string& json) {
  std::string b64 = util::base64_encode(json);
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  for (auto& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return prefix + b64;
}

std::string version_of(const composite_version& v) {
  auto e = encode(v);
  EXPECT_TRUE(e) << e.error().message;
  return e ? *e : std::string();
}

TEST(ContinueToken, RoundTrips) {
  const std::string listed = version_of({{{"east", "5"}}});
  const std::vector<fanout_continue> cases = {
      {0, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NX0=", listed},
      {1, "", listed},
      {63, std::string(max_upstream_continue_bytes, 'x'), listed},
  };
  for (const auto& c : cases) {
    const std::string token = encode(c);
    EXPECT_THAT(token, MatchesRegex("mca1c\\.[A-Za-z0-9_-]+"));
    EXPECT_LE(token.size(), max_continue_bytes);
    auto back = decode_continue(token);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, c);
  }
}

TEST(ContinueToken, DecodeErrors) {
  const std::string listed = version_of({{{"east", "5"}}});
  struct row {
    std::string label;
    std::string text;
    std::string why;
  };
  const std::vector<row> rows = {
      {"upstream token", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ",
       "it does not start with \"mca1c.\""},
      {"a version", listed, "it does not start with \"mca1c.\""},
      {"bad base64", "mca1c.%%%", "bad base64url"},
      {"not json", forge("mca1c.", "nope"), "its content is not JSON"},
      {"not canonical", forge("mca1c.", "[0, \"\", \"" + listed + "\"]"),
       "not in the form the sidecar issues"},
      {"object", forge("mca1c.", R"({"i":0})"), "malformed content"},
      {"negative index", forge("mca1c.", "[-1,\"\",\"" + listed + "\"]"),
       "malformed content"},
      {"two fields", forge("mca1c.", "[0,\"\"]"), "malformed content"},
      {"bad list version", forge("mca1c.", R"([1,"","mca1.!"])"),
       "its resourceVersion is not valid"},
      {"raw list version", forge("mca1c.", R"([1,"","5"])"),
       "its resourceVersion is not valid"},
      {"long upstream",
       forge("mca1c.", "[0,\"" +
                           std::string(max_upstream_continue_bytes + 1, 'x') +
                           "\",\"" + listed + "\"]"),
       "its upstream token is too long"},
      {"too long", "mca1c." + std::string(max_continue_bytes, 'A'),
       "longer than " + std::to_string(max_continue_bytes) + " bytes"},
  };
  for (const auto& r : rows) {
    auto d = decode_continue(r.text);
    ASSERT_FALSE(d) << r.label;
    EXPECT_EQ(d.error().source, error_source::client) << r.label;
    EXPECT_EQ(d.error().message,
              "the continue token is not one this sidecar issued (" + r.why +
                  "); start a new list without the continue parameter")
        << r.label;
  }
}

TEST(Paging, IsPaged) {
  EXPECT_FALSE(is_paged(0, ""));
  EXPECT_TRUE(is_paged(7, ""));
  EXPECT_TRUE(is_paged(0, "mca1c.x"));
}

const std::vector<std::string> three = {"home", "east", "west"};

TEST(Paging, FirstPage) {
  const std::string composite =
      version_of({{{"home", "10"}, {"east", "20"}, {"west", "30"}}});
  struct row {
    std::string label;
    std::int64_t limit;
    std::string client_version;
    std::string upstream_version;
  };
  const std::vector<row> rows = {
      {"latest", 7, "", ""},
      // "0" may be served from the watch cache ignoring limit.
      {"any, paged", 7, "0", ""},
      {"any, unpaged", 0, "0", "0"},
      {"composite", 7, composite, "10"},
  };
  for (const auto& r : rows) {
    auto p = plan_page(r.limit, three, "", r.client_version);
    ASSERT_TRUE(p) << r.label << ": " << p.error().message;
    EXPECT_EQ(p->cluster_index, 0U) << r.label;
    EXPECT_EQ(p->cluster, "home") << r.label;
    EXPECT_EQ(p->upstream_limit, r.limit) << r.label;
    EXPECT_EQ(p->upstream_continue, "") << r.label;
    EXPECT_EQ(p->upstream_resource_version, r.upstream_version) << r.label;
    EXPECT_TRUE(p->listed.versions.empty()) << r.label;
  }
}

TEST(Paging, PlanErrors) {
  const std::string home = version_of({{{"home", "10"}}});
  const std::string home_east = version_of({{{"home", "10"}, {"east", "20"}}});
  const std::string expired_message =
      "the clusters of this list changed since its first page (now home, "
      "east, west); start a new list without the continue parameter";
  struct row {
    std::string label;
    std::int64_t limit;
    std::vector<std::string> clusters;
    std::string continue_param;
    std::string client_version;
    error_source source;
    int status;  // 0: none
    std::string message;
  };
  const std::vector<row> rows = {
      {"no clusters",
       7,
       {},
       "",
       "",
       error_source::internal,
       0,
       "a fan-out list needs at least one cluster"},
      {"negative limit", -1, three, "", "", error_source::client, 0,
       "limit must not be negative"},
      {"raw version", 7, three, "", "42", error_source::client, 0,
       "resourceVersion \"42\" is not one the sidecar issued for this "
       "multi-cluster request; list again to get a current one"},
      {"version with continue", 7, three, encode({1, "", home}), "5",
       error_source::client, 0,
       "specifying resource version is not allowed when using continue"},
      {"bad token", 7, three, "abc", "", error_source::client, 0,
       "the continue token is not one this sidecar issued (it does not start "
       "with \"mca1c.\"); start a new list without the continue parameter"},
      {"index past the clusters", 7, three, encode({3, "", home}), "",
       error_source::client, 410, expired_message},
      {"start of the list", 7, three, encode({0, "", home}), "",
       error_source::client, 410, expired_message},
      {"cluster renamed",
       7,
       {"home", "south", "west"},
       encode({2, "", home_east}),
       "",
       error_source::client,
       410,
       "the clusters of this list changed since its first page (now home, "
       "south, west); start a new list without the continue parameter"},
      {"version lacks current cluster", 7, three, encode({1, "abc", home}), "",
       error_source::client, 410, expired_message},
  };
  for (const auto& r : rows) {
    auto p = plan_page(r.limit, r.clusters, r.continue_param, r.client_version);
    ASSERT_FALSE(p) << r.label;
    EXPECT_EQ(p.error().source, r.source) << r.label;
    EXPECT_EQ(p.error().message, r.message) << r.label;
    EXPECT_EQ(p.error().status.code, r.status) << r.label;
    if (r.status == 410) {
      EXPECT_EQ(p.error().status.reason, "Expired") << r.label;
      EXPECT_EQ(p.error().status.message, r.message) << r.label;
    }
  }
}

TEST(Paging, FinishPage) {
  page_request east;
  east.cluster_index = 1;
  east.cluster = "east";
  east.upstream_limit = 7;
  east.listed = {{{"home", "10"}}};

  // Part-way through a middle cluster: its token, no count.
  auto mid = finish_page(east, three, {7, "20", "up-1", 33});
  ASSERT_TRUE(mid) << mid.error().message;
  const std::string home_east = version_of({{{"home", "10"}, {"east", "20"}}});
  EXPECT_EQ(mid->list_version, home_east);
  EXPECT_EQ(mid->continue_token, encode({1, "up-1", home_east}));
  EXPECT_EQ(mid->remaining_item_count, std::nullopt);

  // The middle cluster ends: the next one from its start.
  auto end_of_east = finish_page(east, three, {3, "20", "", std::nullopt});
  ASSERT_TRUE(end_of_east);
  EXPECT_EQ(end_of_east->continue_token, encode({2, "", home_east}));

  // A later page of a cluster keeps the version of its snapshot.
  page_request later = east;
  later.upstream_continue = "up-1";
  later.listed = {{{"home", "10"}, {"east", "20"}}};
  auto kept = finish_page(later, three, {7, "25", "up-2", 26});
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->list_version, home_east);

  // The last cluster: its count passes through; the end has no token.
  page_request west{2, "west", 7, "", "", {{{"home", "10"}, {"east", "20"}}}};
  auto last = finish_page(west, three, {7, "30", "up-3", 4});
  ASSERT_TRUE(last);
  EXPECT_EQ(last->remaining_item_count, 4);
  auto done = finish_page(west, three, {4, "30", "", std::nullopt});
  ASSERT_TRUE(done);
  EXPECT_EQ(done->continue_token, "");
  EXPECT_EQ(done->list_version,
            version_of({{{"home", "10"}, {"east", "20"}, {"west", "30"}}}));
}

// A cluster left out (partial: allow, or it lacks the resource): the next
// cluster from its start, the skipped one at "0" so the token still names
// every cluster before its index and a watch takes it from any version.
TEST(Paging, SkipPage) {
  page_request east;
  east.cluster_index = 1;
  east.cluster = "east";
  east.upstream_limit = 7;
  east.upstream_continue = "up-1";
  east.listed = {{{"home", "10"}, {"east", "20"}}};
  auto next = skip_page(east, three);
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->cluster_index, 2U);
  EXPECT_EQ(next->cluster, "west");
  EXPECT_EQ(next->upstream_limit, 7);
  EXPECT_EQ(next->upstream_continue, "");
  EXPECT_EQ(next->listed, (composite_version{{{"home", "10"}, {"east", "0"}}}));
  // The planner accepts where it leads: finishing west gives a token-less
  // end whose version has all three.
  auto done = finish_page(*next, three, {2, "30", "", std::nullopt});
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->list_version,
            version_of({{{"home", "10"}, {"east", "0"}, {"west", "30"}}}));

  page_request west{2, "west", 7, "", "", {}};
  EXPECT_FALSE(skip_page(west, three));
}

TEST(Paging, FinishPageErrors) {
  page_request east{1, "east", 7, "", "", {{{"home", "10"}}}};
  struct row {
    std::string label;
    page_request request;
    upstream_page page;
    error_source source;
    std::string message;
  };
  const std::vector<row> rows = {
      {"limit ignored",
       east,
       {8, "20", "", std::nullopt},
       error_source::decode,
       "cluster \"east\" returned 8 items for limit 7"},
      {"long token",
       east,
       {7, "20", std::string(max_upstream_continue_bytes + 1, 'x'),
        std::nullopt},
       error_source::decode,
       "cluster \"east\" returned a continue token longer than 8192 bytes"},
      {"no version",
       east,
       {7, "", "", std::nullopt},
       error_source::decode,
       "cluster \"east\" answered without a resourceVersion"},
      {"wrong cluster",
       page_request{1, "west", 7, "", "", {}},
       {1, "20", "", std::nullopt},
       error_source::internal,
       "page request for cluster \"west\" does not belong to this list's "
       "clusters"},
  };
  for (const auto& r : rows) {
    auto o = finish_page(r.request, three, r.page);
    ASSERT_FALSE(o) << r.label;
    EXPECT_EQ(o.error().source, r.source) << r.label;
    EXPECT_EQ(o.error().message, r.message) << r.label;
  }
}

// A cluster that pages its objects as an API server does: a consistent
// snapshot, `limit` at a time, an opaque token for the rest.
struct fake_cluster {
  std::string name;
  std::vector<std::string> objects;
  std::string version;

  upstream_page list(const page_request& r,
                     std::vector<std::string>& out) const {
    const std::size_t from =
        r.upstream_continue.empty() ? 0 : std::stoul(r.upstream_continue);
    const std::size_t n =
        r.upstream_limit == 0
            ? objects.size() - from
            : std::min<std::size_t>(static_cast<std::size_t>(r.upstream_limit),
                                    objects.size() - from);
    out.insert(out.end(), objects.begin() + static_cast<std::ptrdiff_t>(from),
               objects.begin() + static_cast<std::ptrdiff_t>(from + n));
    upstream_page page{n, version, "", std::nullopt};
    if (from + n < objects.size()) {
      page.continue_token = std::to_string(from + n);
      page.remaining_item_count =
          static_cast<std::int64_t>(objects.size() - from - n);
    }
    return page;
  }
};

struct walk_result {
  std::vector<std::string> seen;
  std::vector<std::size_t> page_sizes;
  std::string last_version;
};

walk_result walk(const std::vector<fake_cluster>& fakes, std::int64_t limit) {
  std::vector<std::string> names;
  for (const auto& f : fakes) names.push_back(f.name);
  walk_result out;
  std::string token;
  std::size_t last_cluster = 0;  // items seen from the last cluster
  for (int guard = 0; guard < 1000; ++guard) {
    auto plan = plan_page(limit, names, token, "");
    EXPECT_TRUE(plan) << plan.error().message;
    if (!plan) break;
    std::vector<std::string> page;
    const upstream_page answer = fakes[plan->cluster_index].list(*plan, page);
    auto outcome = finish_page(*plan, names, answer);
    EXPECT_TRUE(outcome) << outcome.error().message;
    if (!outcome) break;
    out.page_sizes.push_back(page.size());
    out.seen.insert(out.seen.end(), page.begin(), page.end());
    out.last_version = outcome->list_version;
    if (plan->cluster_index + 1 == fakes.size()) last_cluster += page.size();
    // Counted only on the last cluster, where it is exact.
    if (outcome->remaining_item_count) {
      EXPECT_EQ(static_cast<std::size_t>(*outcome->remaining_item_count),
                fakes.back().objects.size() - last_cluster);
    }
    token = outcome->continue_token;
    if (token.empty()) break;
  }
  return out;
}

std::vector<fake_cluster> spread(const std::vector<std::size_t>& counts) {
  const std::vector<std::string> names = {"home", "east", "west", "north"};
  std::vector<fake_cluster> fakes;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    fake_cluster f{names[c], {}, std::to_string(100 + c)};
    for (std::size_t i = 0; i < counts[c]; ++i) {
      f.objects.push_back(names[c] + "/cm-" + std::to_string(i));
    }
    fakes.push_back(std::move(f));
  }
  return fakes;
}

void expect_every_object_once(const std::vector<fake_cluster>& fakes,
                              std::int64_t limit, const walk_result& w) {
  std::vector<std::string> all;
  for (const auto& f : fakes) {
    all.insert(all.end(), f.objects.begin(), f.objects.end());
  }
  // In order, each once: the walk is deterministic.
  EXPECT_EQ(w.seen, all) << "limit " << limit;
  if (limit > 0) {
    for (const auto n : w.page_sizes) {
      EXPECT_LE(n, static_cast<std::size_t>(limit));
    }
  }
  composite_version every;
  for (const auto& f : fakes) every.versions[f.name] = f.version;
  EXPECT_EQ(w.last_version, version_of(every)) << "limit " << limit;
}

TEST(Paging, SimulationThreeUnevenClusters) {
  const auto fakes = spread({3, 40, 7});
  const walk_result w = walk(fakes, 7);
  expect_every_object_once(fakes, 7, w);
  // home ends after 3; east in 6 pages (7*5 + 5); west fills one page.
  EXPECT_THAT(w.page_sizes, ElementsAre(3, 7, 7, 7, 7, 7, 5, 7));
}

TEST(Paging, SimulationManyShapes) {
  const std::vector<std::vector<std::size_t>> shapes = {
      {3, 40, 7},    {0, 50, 0}, {50, 0, 0}, {0, 0, 0},
      {1, 1, 1, 47}, {7, 7, 7},  {25, 25},   {50}};
  for (const auto& shape : shapes) {
    const auto fakes = spread(shape);
    for (std::int64_t limit : {0, 1, 2, 6, 7, 8, 49, 50, 51, 500}) {
      expect_every_object_once(fakes, limit, walk(fakes, limit));
    }
  }
}

}  // namespace
}  // namespace mca::sidecar::fanout
