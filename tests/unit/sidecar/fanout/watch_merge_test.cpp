#include "sidecar/fanout/watch_merge.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::sidecar::fanout {
namespace {

using json = nlohmann::json;
using type = kube::watch_event_type;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string version_of(const composite_version& v) {
  auto e = encode(v);
  EXPECT_TRUE(e) << e.error().message;
  return e ? *e : std::string();
}

kube::watch_event object_event(type t, const std::string& name,
                               const std::string& rv) {
  return {t,
          {{"kind", "ConfigMap"},
           {"apiVersion", "v1"},
           {"metadata", {{"name", name}, {"resourceVersion", rv}}}}};
}

// Built by a function: GCC 12 warns (maybe-uninitialized) on a json
// member braced into an aggregate inside an initializer list.
kube::watch_event event_of(type t, json object) {
  kube::watch_event e;
  e.type = t;
  e.object = std::move(object);
  return e;
}

kube::watch_event bookmark(const std::string& rv, bool initial_end = false) {
  json meta = {{"resourceVersion", rv}};
  if (initial_end) {
    meta["annotations"] = {{"k8s.io/initial-events-end", "true"}};
  }
  return {type::bookmark,
          {{"kind", "ConfigMap"}, {"apiVersion", "v1"}, {"metadata", meta}}};
}

TEST(MergeEvent, SequenceCarriesTheCompositeForward) {
  watch_merge_state state;
  state.current = {{{"east", "20"}, {"west", "30"}}};
  struct row {
    std::string cluster;
    kube::watch_event event;
    composite_version want;
  };
  const std::vector<row> rows = {
      {"east",
       object_event(type::added, "a", "21"),
       {{{"east", "21"}, {"west", "30"}}}},
      {"west",
       object_event(type::modified, "b", "35"),
       {{{"east", "21"}, {"west", "35"}}}},
      {"east",
       object_event(type::deleted, "a", "22"),
       {{{"east", "22"}, {"west", "35"}}}},
      {"west", bookmark("40"), {{{"east", "22"}, {"west", "40"}}}},
  };
  for (const auto& r : rows) {
    auto step = merge_event(state, r.cluster, r.event);
    ASSERT_TRUE(step) << step.error().message;
    EXPECT_FALSE(step->ends);
    EXPECT_EQ(step->event.type, r.event.type);
    EXPECT_EQ(step->state.current, r.want);
    const json& meta = step->event.object["metadata"];
    EXPECT_EQ(meta["resourceVersion"], version_of(r.want));
    if (r.event.type == type::bookmark) {
      EXPECT_FALSE(meta.contains("annotations"));
    } else {
      EXPECT_EQ(meta["annotations"], json({{"mca.k8s.io/cluster", r.cluster}}));
      EXPECT_EQ(meta["name"], r.event.object["metadata"]["name"]);
    }
    // Resuming from this event's version asks each cluster from where it
    // was.
    for (const auto& [cluster, rv] : r.want.versions) {
      auto back = upstream_version(meta["resourceVersion"].get<std::string>(),
                                   cluster, 2);
      ASSERT_TRUE(back);
      EXPECT_EQ(*back, rv);
    }
    state = step->state;
  }
}

TEST(MergeEvent, InitialEventsEndWhenEveryClusterHas) {
  watch_merge_state state;
  state.initial_events_pending = {"east", "home", "west"};
  const std::vector<std::pair<std::string, bool>> order = {
      {"west", false}, {"home", false}, {"east", true}};
  for (const auto& [cluster, kept] : order) {
    auto step = merge_event(state, cluster, bookmark("7", true));
    ASSERT_TRUE(step) << step.error().message;
    EXPECT_EQ(step->event.object["metadata"].contains("annotations"), kept)
        << cluster;
    state = step->state;
  }
  EXPECT_THAT(state.initial_events_pending, IsEmpty());
  EXPECT_EQ(state.current.versions.size(), 3U);
}

TEST(MergeEvent, UpstreamErrorEndsTheWatch) {
  const json gone = {
      {"kind", "Status"},    {"apiVersion", "v1"},
      {"status", "Failure"}, {"message", "too old resource version: 5 (90)"},
      {"reason", "Expired"}, {"code", 410}};
  struct row {
    std::string label;
    json object;
    std::string message;
  };
  const std::vector<row> rows = {
      {"410", gone,
       "the watch of cluster \"west\" ended (too old resource version: 5 "
       "(90)); list again to resume"},
      {"no message", json::object(),
       "the watch of cluster \"west\" ended (its watch failed); list again to "
       "resume"},
  };
  for (const auto& r : rows) {
    watch_merge_state state;
    state.current = {{{"east", "1"}}};
    auto step = merge_event(state, "west", event_of(type::error, r.object));
    ASSERT_TRUE(step) << r.label;
    EXPECT_TRUE(step->ends) << r.label;
    EXPECT_EQ(step->event.type, type::error) << r.label;
    EXPECT_EQ(step->event.object, json({{"kind", "Status"},
                                        {"apiVersion", "v1"},
                                        {"metadata", json::object()},
                                        {"status", "Failure"},
                                        {"message", r.message},
                                        {"reason", "Expired"},
                                        {"code", 410}}))
        << r.label;
    EXPECT_EQ(step->state.current, state.current) << r.label;
  }
  EXPECT_EQ(upstream_ended("east", "the watch ended").object["message"],
            "the watch of cluster \"east\" ended (the watch ended); list "
            "again to resume");
}

// kubectl get -w: Table events, one row each. The first event's columns
// gain Cluster after Name; later events' columns are dropped (an API server
// sends them once); every row gets its cluster's cell and a marked object.
json table_event_object(const std::string& name, const std::string& rv,
                        bool with_columns) {
  json t = {
      {"kind", "Table"},
      {"apiVersion", "meta.k8s.io/v1"},
      {"metadata", {{"resourceVersion", rv}}},
      {"rows",
       json::array(
           {{{"cells", json::array({name, 1, "0s"})},
             {"object",
              {{"kind", "PartialObjectMetadata"},
               {"metadata", {{"name", name}, {"resourceVersion", rv}}}}}}})}};
  t["columnDefinitions"] =
      with_columns
          ? json::parse(R"([{"name":"Name"},{"name":"Data"},{"name":"Age"}])")
          : json(nullptr);
  return t;
}

TEST(MergeEvent, TableEventsGainAClusterColumn) {
  watch_merge_state state;
  auto first = merge_event(
      state, "east", event_of(type::added, table_event_object("a", "5", true)));
  ASSERT_TRUE(first) << first.error().message;
  const json& t1 = first->event.object;
  ASSERT_EQ(t1["columnDefinitions"].size(), 4U);
  EXPECT_EQ(t1["columnDefinitions"][1]["name"], "Cluster");
  EXPECT_EQ(t1["rows"][0]["cells"], json::parse(R"(["a","east",1,"0s"])"));
  EXPECT_EQ(t1["metadata"]["resourceVersion"], version_of({{{"east", "5"}}}));
  EXPECT_EQ(
      t1["rows"][0]["object"]["metadata"]["annotations"]["mca.k8s.io/cluster"],
      "east");

  // West's first event has columns too; the client has them already.
  auto second =
      merge_event(first->state, "west",
                  event_of(type::added, table_event_object("b", "9", true)));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->event.object["columnDefinitions"].is_null());
  EXPECT_EQ(second->event.object["rows"][0]["cells"],
            json::parse(R"(["b","west",1,"0s"])"));
  EXPECT_EQ(second->event.object["metadata"]["resourceVersion"],
            version_of({{{"east", "5"}, {"west", "9"}}}));

  auto third = merge_event(
      second->state, "east",
      event_of(type::modified, table_event_object("a", "6", false)));
  ASSERT_TRUE(third);
  EXPECT_EQ(third->event.object["rows"][0]["cells"],
            json::parse(R"(["a","east",1,"0s"])"));
}

TEST(MergeEvent, Errors) {
  struct row {
    std::string label;
    kube::watch_event event;
    std::string message;
  };
  const std::vector<row> rows = {
      {"not an object", event_of(type::added, "x"),
       "cluster \"east\" sent a watch event without an object with metadata"},
      {"no metadata", event_of(type::added, json::object()),
       "cluster \"east\" sent a watch event without an object with metadata"},
      {"no version", object_event(type::modified, "a", ""),
       "cluster \"east\" sent a watch event without a resourceVersion"},
      {"nested version",
       object_event(type::added, "a", version_of({{{"x", "1"}}})),
       "cluster \"east\" answered with a resourceVersion that is already a "
       "multi-cluster version"},
  };
  for (const auto& r : rows) {
    auto step = merge_event({}, "east", r.event);
    ASSERT_FALSE(step) << r.label;
    EXPECT_EQ(step.error().source, error_source::decode) << r.label;
    EXPECT_EQ(step.error().message, r.message) << r.label;
  }
}

}  // namespace
}  // namespace mca::sidecar::fanout
