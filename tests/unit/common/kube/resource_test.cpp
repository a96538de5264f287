#include "common/kube/resource.hpp"

#include <gtest/gtest.h>

#include "common/kube/leader_elector.hpp"
#include "common/kube/object_store.hpp"
#include "common/kube/rest_client.hpp"

namespace mca::kube {
namespace {

TEST(ResourcePath, CoreGroupedNamespacedClusterScopedAndSubresources) {
  struct row {
    resource_ref ref;
    std::string ns, name, sub, want;
  };
  const std::vector<row> rows = {
      {resources::config_maps(), "ns", "", "",
       "/api/v1/namespaces/ns/configmaps"},
      {resources::config_maps(), "", "", "", "/api/v1/configmaps"},
      {resources::config_maps(), "ns", "a", "",
       "/api/v1/namespaces/ns/configmaps/a"},
      {resources::deployments(), "ns", "web", "scale",
       "/apis/apps/v1/namespaces/ns/deployments/web/scale"},
      {resources::namespaces(), "ignored", "kube-system", "status",
       "/api/v1/namespaces/kube-system/status"},
      {{"mca.x-k8s.io", "v1alpha1", "clustertargets", false},
       "",
       "east",
       "",
       "/apis/mca.x-k8s.io/v1alpha1/clustertargets/east"},
      {resources::config_maps(), "ns", "a b/c", "",
       "/api/v1/namespaces/ns/configmaps/a%20b%2Fc"},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(resource_path(r.ref, r.ns, r.name, r.sub), r.want);
  }
}

TEST(QueryString, EncodesValuesAndSkipsEmptyOnes) {
  query_string q;
  q.add("labelSelector", "app in (a,b),tier!=x")
      .add("limit", "")
      .add("watch", "1");
  EXPECT_EQ(q.str(),
            "?labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Dx&watch=1");
  EXPECT_EQ(query_string().str(), "");
}

TEST(ApiError, CarriesTheServersStatus) {
  http::response r;
  r.status = 404;
  r.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure",
    "message":"configmaps \"x\" not found","reason":"NotFound",
    "details":{"name":"x","kind":"configmaps"},"code":404})";
  auto e = api_error(r, "GET https://h/api/v1/namespaces/d/configmaps/x");
  EXPECT_EQ(e.source, error_source::api);
  EXPECT_TRUE(e.is_api(404));
  EXPECT_EQ(e.status.reason, "NotFound");
  EXPECT_EQ(e.status.message, "configmaps \"x\" not found");
  EXPECT_EQ(e.status.details, R"({"kind":"configmaps","name":"x"})");
  EXPECT_EQ(e.message,
            "GET https://h/api/v1/namespaces/d/configmaps/x: 404 NotFound: "
            "configmaps \"x\" not found");
}

TEST(ApiError, ANonStatusBodyIsKeptBoundedAndNamed) {
  http::response r;
  r.status = 502;
  r.body = std::string(1000, '<');
  auto e = api_error(r, "GET https://h/version");
  EXPECT_TRUE(e.is_api(502));
  EXPECT_LT(e.message.size(), 300U);
  EXPECT_EQ(e.message.rfind("GET https://h/version: 502: HTTP 502: <<<", 0),
            0U);
}

TEST(ObjectStore, SnapshotsStayValidAcrossWrites) {
  object_store store;
  auto a = std::make_shared<const nlohmann::json>(
      nlohmann::json{{"metadata", {{"name", "a"}, {"namespace", "n"}}}});
  EXPECT_EQ(object_key(*a), "n/a");
  EXPECT_EQ(store.upsert("n/a", a), nullptr);
  auto snapshot = store.list();
  EXPECT_EQ(store.erase("n/a"), a);
  EXPECT_EQ(store.size(), 0U);
  ASSERT_EQ(snapshot.size(), 1U);
  EXPECT_EQ((*snapshot[0])["metadata"]["name"], "a");
  EXPECT_EQ(object_key(nlohmann::json{{"metadata", {{"name", "node-1"}}}}),
            "node-1");
}

TEST(MicroTime, IsRfc3339UtcWithMicroseconds) {
  const auto t = std::chrono::system_clock::time_point(
      std::chrono::seconds(1795441445) + std::chrono::microseconds(42));
  EXPECT_EQ(format_micro_time(t), "2026-11-23T13:44:05.000042Z");
}

}  // namespace
}  // namespace mca::kube
