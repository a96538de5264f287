#include "common/routing/placement_index.hpp"

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace mca::routing {
namespace {

object_ref configmap(std::string ns, std::string name) {
  return {"", "configmaps", std::move(ns), std::move(name)};
}

TEST(PlacementIndex, RemembersLooksUpAndForgets) {
  placement_index index(8);
  EXPECT_EQ(index.capacity(), 8U);
  EXPECT_EQ(index.size(), 0U);
  EXPECT_EQ(index.lookup(configmap("default", "a")), std::nullopt);

  index.remember(configmap("default", "a"), "east");
  EXPECT_EQ(index.size(), 1U);
  EXPECT_EQ(index.lookup(configmap("default", "a")), "east");

  index.forget(configmap("default", "a"));
  EXPECT_EQ(index.size(), 0U);
  EXPECT_EQ(index.lookup(configmap("default", "a")), std::nullopt);

  // Forgetting something unknown is harmless.
  index.forget(configmap("default", "a"));
  EXPECT_EQ(index.size(), 0U);
}

TEST(PlacementIndex, EveryPartOfTheReferenceDistinguishesObjects) {
  placement_index index(16);
  index.remember({"", "configmaps", "ns-a", "x"}, "c1");
  index.remember({"", "configmaps", "ns-b", "x"}, "c2");
  index.remember({"", "secrets", "ns-a", "x"}, "c3");
  index.remember({"apps", "configmaps", "ns-a", "x"}, "c4");
  index.remember({"", "configmaps", "", "x"}, "c5");  // cluster-scoped
  EXPECT_EQ(index.size(), 5U);

  EXPECT_EQ(index.lookup({"", "configmaps", "ns-a", "x"}), "c1");
  EXPECT_EQ(index.lookup({"", "configmaps", "ns-b", "x"}), "c2");
  EXPECT_EQ(index.lookup({"", "secrets", "ns-a", "x"}), "c3");
  EXPECT_EQ(index.lookup({"apps", "configmaps", "ns-a", "x"}), "c4");
  EXPECT_EQ(index.lookup({"", "configmaps", "", "x"}), "c5");
  EXPECT_EQ(index.lookup({"", "configmaps", "ns-a", "y"}), std::nullopt);

  // Fields must not run into each other: "ab"+"c" is not "a"+"bc".
  index.remember({"", "configmaps", "ab", "c"}, "left");
  EXPECT_EQ(index.lookup({"", "configmaps", "a", "bc"}), std::nullopt);
}

TEST(PlacementIndex, RememberingAgainMovesTheObjectToAnotherCluster) {
  placement_index index(4);
  index.remember(configmap("default", "a"), "east");
  index.remember(configmap("default", "a"), "west");
  EXPECT_EQ(index.size(), 1U);
  EXPECT_EQ(index.lookup(configmap("default", "a")), "west");
}

TEST(PlacementIndex, EvictsTheLeastRecentlyUsed) {
  placement_index index(3);
  index.remember(configmap("ns", "a"), "c");
  index.remember(configmap("ns", "b"), "c");
  index.remember(configmap("ns", "c"), "c");

  // Without any lookups, insertion order decides: "a" goes first.
  index.remember(configmap("ns", "d"), "c");
  EXPECT_EQ(index.size(), 3U);
  EXPECT_EQ(index.lookup(configmap("ns", "a")), std::nullopt);

  // Recency is now b < c < d. A lookup of "b" makes "c" the oldest.
  EXPECT_EQ(index.lookup(configmap("ns", "b")), "c");
  index.remember(configmap("ns", "e"), "c");
  EXPECT_EQ(index.lookup(configmap("ns", "c")), std::nullopt);
  EXPECT_TRUE(index.lookup(configmap("ns", "b")).has_value());

  // Re-remembering refreshes too: recency is d < e < b, then e < b < d.
  index.remember(configmap("ns", "d"), "other");
  index.remember(configmap("ns", "f"), "c");
  EXPECT_EQ(index.lookup(configmap("ns", "e")), std::nullopt);
  EXPECT_EQ(index.lookup(configmap("ns", "d")), "other");
  EXPECT_EQ(index.lookup(configmap("ns", "b")), "c");
  EXPECT_EQ(index.lookup(configmap("ns", "f")), "c");
  EXPECT_EQ(index.size(), 3U);
}

TEST(PlacementIndex, CapacityOneKeepsOnlyTheLatest) {
  placement_index index(1);
  index.remember(configmap("ns", "a"), "c1");
  index.remember(configmap("ns", "b"), "c2");
  EXPECT_EQ(index.size(), 1U);
  EXPECT_EQ(index.lookup(configmap("ns", "a")), std::nullopt);
  EXPECT_EQ(index.lookup(configmap("ns", "b")), "c2");
}

TEST(PlacementIndex, CapacityZeroRemembersNothing) {
  placement_index index(0);
  EXPECT_EQ(index.capacity(), 0U);
  index.remember(configmap("ns", "a"), "c1");
  EXPECT_EQ(index.size(), 0U);
  EXPECT_EQ(index.lookup(configmap("ns", "a")), std::nullopt);
  EXPECT_EQ(
      index.remember_list({"", "configmaps", "", ""},
                          R"({"items":[{"metadata":{"name":"a"}}]})", "c1"),
      0U);
  EXPECT_EQ(index.size(), 0U);
  index.forget(configmap("ns", "a"));
  index.forget_cluster("c1");
  EXPECT_EQ(index.size(), 0U);
}

TEST(PlacementIndex, ForgetClusterRemovesExactlyThatClustersEntries) {
  placement_index index(16);
  index.remember(configmap("ns", "a"), "east");
  index.remember(configmap("ns", "b"), "west");
  index.remember(configmap("ns", "c"), "east");
  index.remember(configmap("ns", "d"), "east-2");  // a prefix is not a match
  index.remember(configmap("ns", "e"), "east");

  index.forget_cluster("east");
  EXPECT_EQ(index.size(), 2U);
  EXPECT_EQ(index.lookup(configmap("ns", "a")), std::nullopt);
  EXPECT_EQ(index.lookup(configmap("ns", "c")), std::nullopt);
  EXPECT_EQ(index.lookup(configmap("ns", "e")), std::nullopt);
  EXPECT_EQ(index.lookup(configmap("ns", "b")), "west");
  EXPECT_EQ(index.lookup(configmap("ns", "d")), "east-2");

  index.forget_cluster("nowhere");
  EXPECT_EQ(index.size(), 2U);

  // The freed room is usable, and eviction still works afterwards.
  for (int i = 0; i < 20; ++i) {
    index.remember(configmap("ns", "n" + std::to_string(i)), "north");
  }
  EXPECT_EQ(index.size(), 16U);
  EXPECT_EQ(index.lookup(configmap("ns", "n19")), "north");
  EXPECT_EQ(index.lookup(configmap("ns", "b")), std::nullopt);
}

// As `kubectl get configmaps -A -o json` receives it from the API server.
constexpr const char* configmap_list = R"({
  "kind": "ConfigMapList",
  "apiVersion": "v1",
  "metadata": {"resourceVersion": "123456"},
  "items": [
    {
      "metadata": {
        "name": "kube-root-ca.crt",
        "namespace": "default",
        "uid": "0a9a6c1e-4d8e-4a43-9f5c-0d1b2a3c4d5e",
        "resourceVersion": "352",
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "annotations": {"kubernetes.io/description": "CA bundle"}
      },
      "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n"}
    },
    {
      "metadata": {
        "name": "app-config",
        "namespace": "team-a",
        "labels": {"app": "web"},
        "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
      },
      "data": {"mode": "fast"}
    },
    {
      "metadata": {"name": "kube-root-ca.crt", "namespace": "team-a"}
    }
  ]
})";

TEST(PlacementIndex, RemembersEveryItemOfAList) {
  placement_index index(16);
  // The collection's namespace and name are ignored: each item has its own.
  EXPECT_EQ(index.remember_list({"", "configmaps", "ignored", "ignored"},
                                configmap_list, "east"),
            3U);
  EXPECT_EQ(index.size(), 3U);
  EXPECT_EQ(index.lookup(configmap("default", "kube-root-ca.crt")), "east");
  EXPECT_EQ(index.lookup(configmap("team-a", "app-config")), "east");
  EXPECT_EQ(index.lookup(configmap("team-a", "kube-root-ca.crt")), "east");
  EXPECT_EQ(index.lookup(configmap("ignored", "ignored")), std::nullopt);
  // Group and resource come from the collection.
  EXPECT_EQ(index.lookup({"", "secrets", "team-a", "app-config"}),
            std::nullopt);
}

TEST(PlacementIndex, RemembersAClusterScopedList) {
  placement_index index(16);
  const std::string list = R"({
    "kind": "ClusterRoleList",
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "metadata": {"resourceVersion": "99"},
    "items": [
      {"metadata": {"name": "admin"}, "rules": []},
      {"metadata": {"name": "view"}, "rules": []}
    ]
  })";
  EXPECT_EQ(
      index.remember_list({"rbac.authorization.k8s.io", "clusterroles", "", ""},
                          list, "west"),
      2U);
  EXPECT_EQ(
      index.lookup({"rbac.authorization.k8s.io", "clusterroles", "", "admin"}),
      "west");
  EXPECT_EQ(
      index.lookup({"rbac.authorization.k8s.io", "clusterroles", "", "view"}),
      "west");
}

TEST(PlacementIndex, MalformedOrUnexpectedJsonRemembersNothing) {
  placement_index index(16);
  const object_ref collection{"", "configmaps", "", ""};
  for (const char* body : {
           "",
           "not json",
           R"({"items":[{"metadata":{"name":"a"}})",  // truncated
           R"({"items":[{"metadata":{"name":"a"}}]} trailing)",
           "[]",
           "42",
           R"("items")",
           R"({"items":null})",
           R"({"items":{"metadata":{"name":"a"}}})",
           R"({"kind":"Status","status":"Failure","code":403})",
       }) {
    EXPECT_EQ(index.remember_list(collection, body, "east"), 0U) << body;
  }
  EXPECT_EQ(index.size(), 0U);
}

TEST(PlacementIndex, SkipsItemsWithoutAName) {
  placement_index index(16);
  const std::string list = R"({"items":[
    {"metadata":{"namespace":"ns"}},
    {"metadata":{"name":"","namespace":"ns"}},
    {"metadata":{"name":42,"namespace":"ns"}},
    {"metadata":{"name":"bad-namespace","namespace":7}},
    {"metadata":null},
    {"spec":{}},
    "a string",
    null,
    {"metadata":{"name":"kept","namespace":"ns"}}
  ]})";
  EXPECT_EQ(index.remember_list({"", "configmaps", "", ""}, list, "east"), 1U);
  EXPECT_EQ(index.size(), 1U);
  EXPECT_EQ(index.lookup(configmap("ns", "kept")), "east");
}

TEST(PlacementIndex, LearnsFromWatchEventsAndSingleObjects) {
  placement_index index(16);
  const object_ref collection{"", "configmaps", "", ""};
  EXPECT_EQ(
      index.remember_list(
          collection,
          R"({"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a","namespace":"ns"}}})",
          "east"),
      1U);
  EXPECT_EQ(index.lookup(configmap("ns", "a")), "east");

  EXPECT_EQ(
      index.remember_list(
          collection,
          R"({"type":"MODIFIED","object":{"metadata":{"name":"a","namespace":"ns"}}})",
          "west"),
      1U);
  EXPECT_EQ(index.lookup(configmap("ns", "a")), "west");

  // A deletion seen on the watch forgets the object.
  EXPECT_EQ(
      index.remember_list(
          collection,
          R"({"type":"DELETED","object":{"metadata":{"name":"a","namespace":"ns"}}})",
          "west"),
      0U);
  EXPECT_EQ(index.lookup(configmap("ns", "a")), std::nullopt);

  EXPECT_EQ(
      index.remember_list(
          collection,
          R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"5"}}})",
          "west"),
      0U);
  EXPECT_EQ(
      index.remember_list(
          collection,
          R"({"type":"ERROR","object":{"kind":"Status","metadata":{"name":"x"}}})",
          "west"),
      0U);
  EXPECT_EQ(index.size(), 0U);

  // A plain object, as a create's response returns it.
  EXPECT_EQ(
      index.remember_list(
          collection,
          R"({"kind":"ConfigMap","metadata":{"name":"b","namespace":"ns"}})",
          "east"),
      1U);
  EXPECT_EQ(index.lookup(configmap("ns", "b")), "east");
}

TEST(PlacementIndex, ListLargerThanCapacityKeepsTheLastItems) {
  placement_index index(2);
  EXPECT_EQ(index.remember_list({"", "configmaps", "", ""},
                                R"({"items":[
                                  {"metadata":{"name":"a","namespace":"n"}},
                                  {"metadata":{"name":"b","namespace":"n"}},
                                  {"metadata":{"name":"c","namespace":"n"}}
                                ]})",
                                "east"),
            3U);
  EXPECT_EQ(index.size(), 2U);
  EXPECT_EQ(index.lookup(configmap("n", "a")), std::nullopt);
  EXPECT_EQ(index.lookup(configmap("n", "b")), "east");
  EXPECT_EQ(index.lookup(configmap("n", "c")), "east");
}

TEST(PlacementIndex, SurvivesConcurrentUseWithinCapacity) {
  constexpr std::size_t capacity = 64;
  constexpr int thread_count = 4;
  constexpr int iterations = 20000;
  placement_index index(capacity);
  std::atomic<bool> over_capacity{false};
  std::atomic<bool> unknown_cluster{false};

  std::vector<std::thread> threads;
  threads.reserve(thread_count);
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      const std::string cluster = "cluster-" + std::to_string(t);
      for (int i = 0; i < iterations; ++i) {
        // A key space larger than the capacity, shared by all threads, so
        // that eviction, refresh and re-homing all race with each other.
        const auto ref =
            configmap("ns", "obj-" + std::to_string((i * 7 + t * 13) % 200));
        switch (i % 8) {
          case 0:
            index.forget(ref);
            break;
          case 1:
            if (i % 1000 == 1) index.forget_cluster(cluster);
            break;
          case 2:
            index.remember_list(
                {"", "configmaps", "", ""},
                R"({"items":[{"metadata":{"name":"listed","namespace":"ns"}}]})",
                cluster);
            break;
          case 3:
          case 4:
            index.remember(ref, cluster);
            break;
          default:
            if (const auto found = index.lookup(ref)) {
              if (found->rfind("cluster-", 0) != 0) unknown_cluster = true;
            }
            break;
        }
        if (index.size() > capacity) over_capacity = true;
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_FALSE(over_capacity);
  EXPECT_FALSE(unknown_cluster);
  EXPECT_LE(index.size(), capacity);
  EXPECT_GT(index.size(), 0U);
}

}  // namespace
}  // namespace mca::routing
