// kubectl through a real mca-sidecar to real API servers: placement by
// label, locate by name, watch, server-side apply, identity, errors.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include "sidecar/sidecar_fixture.hpp"

namespace mca::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string configmap(const std::string& name, const std::string& label) {
  std::string y =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n";
  if (!label.empty()) y += "  labels: {cluster: " + label + "}\n";
  return y + "data: {k: v1}\n";
}

class KubectlThroughSidecar : public SidecarTest {};

TEST_F(KubectlThroughSidecar, CreatesLandInTheClusterTheirLabelNames) {
  const auto east = unique_name("cm-east");
  const auto west = unique_name("cm-west");
  const auto home = unique_name("cm-home");
  ASSERT_TRUE(via({"create", "-f", "-"}, configmap(east, "east")).ok());
  ASSERT_TRUE(via({"create", "-f", "-"}, configmap(west, "west")).ok());
  ASSERT_TRUE(via({"create", "-f", "-"}, configmap(home, "")).ok());
  EXPECT_THAT(clusters_holding(east), ElementsAre("east"));
  EXPECT_THAT(clusters_holding(west), ElementsAre("west"));
  EXPECT_THAT(clusters_holding(home), ElementsAre("home"));
}

TEST_F(KubectlThroughSidecar, GetPatchAndDeleteByNameFindTheObject) {
  // Created directly in west, so the sidecar has never seen it: get, patch
  // and delete by name must find it by asking the candidate clusters.
  const auto name = unique_name("cm-locate");
  ASSERT_TRUE(env_->kubectl("west", {"-n", namespace_, "create", "-f", "-"},
                            configmap(name, "west"))
                  .ok());
  auto got = via({"get", "configmap", name, "-o", "jsonpath={.data.k}"});
  ASSERT_TRUE(got.ok()) << got.err;
  EXPECT_EQ(got.out, "v1");

  auto patched = via({"patch", "configmap", name, "--type=merge", "-p",
                      R"({"data":{"k":"v2"}})"});
  ASSERT_TRUE(patched.ok()) << patched.err;
  EXPECT_EQ(
      direct("west", {"get", "configmap", name, "-o", "jsonpath={.data.k}"})
          .out,
      "v2");

  auto deleted = via({"delete", "configmap", name});
  ASSERT_TRUE(deleted.ok()) << deleted.err;
  EXPECT_THAT(clusters_holding(name), ::testing::IsEmpty());
}

TEST_F(KubectlThroughSidecar, MissingObjectIsNotFoundAsTheApiServerSaysIt) {
  auto r = via({"get", "configmap", "no-such-configmap"});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.err, HasSubstr(R"(configmaps "no-such-configmap" not found)"));
}

TEST_F(KubectlThroughSidecar, ObjectInTwoClustersIsAConflictNamingThem) {
  const auto name = unique_name("cm-twice");
  ASSERT_TRUE(direct("east", {"create", "configmap", name}).ok());
  ASSERT_TRUE(direct("west", {"create", "configmap", name}).ok());
  auto r = via({"get", "configmap", name});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.err, HasSubstr("several clusters"));
  EXPECT_THAT(r.err, HasSubstr("east"));
  EXPECT_THAT(r.err, HasSubstr("west"));
}

TEST_F(KubectlThroughSidecar, LabelChangeThatWouldMoveTheObjectIsRefused) {
  const auto name = unique_name("cm-move");
  ASSERT_TRUE(via({"create", "-f", "-"}, configmap(name, "east")).ok());
  auto r = via({"label", "configmap", name, "cluster=west", "--overwrite"});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.err, HasSubstr("would move"));
  EXPECT_THAT(r.err, HasSubstr("from cluster east to cluster west"));
  // A label change that keeps it where it is goes through.
  auto ok = via({"label", "configmap", name, "team=a"});
  EXPECT_TRUE(ok.ok()) << ok.err;
  EXPECT_THAT(clusters_holding(name), ElementsAre("east"));
}

TEST_F(KubectlThroughSidecar, ListBySelectorReadsTheSelectedCluster) {
  const auto name = unique_name("cm-list");
  ASSERT_TRUE(via({"create", "-f", "-"}, configmap(name, "west")).ok());
  auto r = via({"get", "configmaps", "-l", "cluster=west", "-o", "name"});
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_THAT(r.out, HasSubstr("configmap/" + name));
}

// The API server sends a large list as many small chunks, which the
// sidecar gathers into larger writes: every byte must still arrive, the
// last ones (which may come with the read that ends the message) included.
TEST_F(KubectlThroughSidecar, LargeListArrivesWholeAndEqualToTheClusters) {
  const auto label = unique_name("big");
  nlohmann::json list{{"apiVersion", "v1"},
                      {"kind", "List"},
                      {"items", nlohmann::json::array()}};
  for (int i = 0; i < 500; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "item-%03d", i);
    list["items"].push_back(
        {{"apiVersion", "v1"},
         {"kind", "ConfigMap"},
         {"metadata",
          {{"name", name},
           {"labels",
            {{"batch", label}, {"app.kubernetes.io/name", "bench"}}}}},
         {"data", {{"payload", std::string(768, 'x')}}}});
  }
  auto made = env_->kubectl("home", {"-n", namespace_, "create", "-f", "-"},
                            list.dump());
  ASSERT_TRUE(made.ok()) << made.err;

  // Without Accept-Encoding, as a client-go informer lists, whole and in
  // pages of several sizes: where the API server's last flush falls, and so
  // whether the end of the body comes in a read of its own, varies.
  const std::string collection =
      "/api/v1/namespaces/" + namespace_ + "/configmaps";
  for (const int limit : {0, 100, 250, 499}) {
    std::string query = "?labelSelector=batch%3D" + label;
    if (limit > 0) query += "&limit=" + std::to_string(limit);
    raw_request req;
    req.target = collection + query;
    req.headers = {{"Accept", "application/json"}};
    const auto through = sidecar_->request(req);
    ASSERT_EQ(through.status, 200) << through.error << through.body;
    auto straight = direct("home", {"get", "--raw", collection + query});
    ASSERT_TRUE(straight.ok()) << straight.err;
    const auto a = nlohmann::json::parse(through.body, nullptr, false);
    const auto b = nlohmann::json::parse(straight.out, nullptr, false);
    ASSERT_FALSE(a.is_discarded())
        << "limit " << limit << ": not JSON (" << through.body.size()
        << " bytes, the cluster's " << straight.out.size() << "), ending: "
        << through.body.substr(through.body.size() -
                               std::min<std::size_t>(200, through.body.size()));
    const std::size_t want = limit > 0 ? static_cast<std::size_t>(limit) : 500;
    ASSERT_EQ(a["items"].size(), want) << "limit " << limit;
    ASSERT_EQ(b["items"].size(), want) << "limit " << limit;
    for (std::size_t i = 0; i < want; ++i) {
      EXPECT_EQ(a["items"][i]["metadata"]["name"],
                b["items"][i]["metadata"]["name"]);
      EXPECT_EQ(a["items"][i]["data"], b["items"][i]["data"]);
    }
  }
}

TEST_F(KubectlThroughSidecar, WatchReceivesEventsAsTheyHappen) {
  const auto log = sidecar_->dir() / (unique_name("watch") + ".out");
  auto watch = child_process::start(
      {env_->kubectl().string(), "--kubeconfig",
       sidecar_->kubeconfig().string(), "-n", namespace_, "get", "configmaps",
       "-l", "cluster=east", "--watch-only", "--output-watch-events", "-o",
       "custom-columns=EVENT:.type,NAME:.object.metadata.name", "--no-headers"},
      log);
  // The watch must be established before the create, or the event is in
  // the past; the sidecar counts it as an active stream.
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (sidecar_->admin_get("/metrics")
             .body.find("mca_active_streams{kind=\"watch\"} 1") ==
         std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << watch.output();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto name = unique_name("cm-watched");
  ASSERT_TRUE(via({"create", "-f", "-"}, configmap(name, "east")).ok());
  EXPECT_TRUE(
      watch.wait_for_output("ADDED      " + name, std::chrono::seconds(10)) ||
      watch.wait_for_output("ADDED", std::chrono::seconds(1)))
      << watch.output();
  ASSERT_TRUE(via({"patch", "configmap", name, "--type=merge", "-p",
                   R"({"data":{"k":"v9"}})"})
                  .ok());
  EXPECT_TRUE(watch.wait_for_output("MODIFIED", std::chrono::seconds(10)))
      << watch.output();
  ASSERT_TRUE(via({"delete", "configmap", name}).ok());
  EXPECT_TRUE(watch.wait_for_output("DELETED", std::chrono::seconds(10)))
      << watch.output();
  EXPECT_THAT(watch.output(), HasSubstr(name));
}

TEST_F(KubectlThroughSidecar, ServerSideApplyRoutesByTheAppliedLabels) {
  const auto name = unique_name("cm-ssa");
  auto r = via({"apply", "--server-side", "--field-manager=e2e", "-f", "-"},
               configmap(name, "west"));
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_THAT(clusters_holding(name), ElementsAre("west"));
  // Applying again (an update of the same object) stays in west.
  auto again = via({"apply", "--server-side", "--field-manager=e2e", "-f", "-"},
                   configmap(name, "west"));
  EXPECT_TRUE(again.ok()) << again.err;
}

TEST_F(KubectlThroughSidecar, TargetSeesTheSidecarsIdentityNotTheApps) {
  // The app sends its own token and asks to impersonate someone: neither
  // may reach the target, which must see the identity the routes give it.
  auto home = via(
      {"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}",
       "--token=app-own-token", "--as=intruder", "--as-group=system:masters"});
  ASSERT_TRUE(home.ok()) << home.err;
  EXPECT_EQ(home.out, "mca-token-admin");
  EXPECT_THAT(home.out, Not(HasSubstr("intruder")));
}

TEST_F(KubectlThroughSidecar, ExecReachesTheApiServerAndRelaysItsAnswer) {
  // No kubelet exists, so the API server itself refuses the exec; the
  // sidecar must relay that answer intact (same message as directly).
  const auto pod = unique_name("pod");
  const std::string manifest =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: " + pod +
      "}\nspec:\n  containers: [{name: c, image: busybox}]\n";
  ASSERT_TRUE(via({"create", "-f", "-"}, manifest).ok());
  auto through = via({"exec", pod, "--", "true"});
  auto straight = direct("home", {"exec", pod, "--", "true"});
  EXPECT_FALSE(through.ok());
  EXPECT_FALSE(straight.ok());
  ASSERT_FALSE(straight.err.empty());
  EXPECT_EQ(through.err, straight.err);
}

TEST_F(KubectlThroughSidecar, RejectRuleAnswersWithItsStatus) {
  // kubectl delete --all deletes one by one; a deletecollection is a
  // DELETE on the collection itself.
  auto r = via(
      {"delete", "--raw", "/api/v1/namespaces/" + namespace_ + "/configmaps"});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.err, HasSubstr("deleting whole collections is not allowed"));
}

TEST_F(KubectlThroughSidecar, MalformedRequestGetsA400Status) {
  raw_request req;
  req.target = "/api/v1/namespaces//configmaps";
  auto res = sidecar_->request(req);
  ASSERT_EQ(res.status, 400) << res.error << res.body;
  auto status = nlohmann::json::parse(res.body);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["code"], 400);
  EXPECT_EQ(status["reason"], "BadRequest");
}

TEST_F(KubectlThroughSidecar, OversizedHeadersGetA431Status) {
  raw_request req;
  req.target = "/version";
  for (int i = 0; i < 3; ++i) {
    req.headers.emplace_back("X-Big-" + std::to_string(i),
                             std::string(30 * 1024, 'x'));
  }
  auto res = sidecar_->request(req);
  ASSERT_EQ(res.status, 431) << res.error << res.body;
  EXPECT_EQ(nlohmann::json::parse(res.body)["kind"], "Status");
}

TEST_F(KubectlThroughSidecar, OversizedInspectedBodyGetsA413Status) {
  raw_request req;
  req.method = "POST";
  req.target = "/api/v1/namespaces/" + namespace_ + "/configmaps";
  req.headers.emplace_back("Content-Type", "application/json");
  req.body =
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":")" +
      std::string(4 * 1024 * 1024, 'x') + "\"}}";
  auto res = sidecar_->request(req);
  ASSERT_EQ(res.status, 413) << res.error << res.body.substr(0, 300);
  EXPECT_EQ(nlohmann::json::parse(res.body)["reason"], "RequestEntityTooLarge");
}

TEST_F(KubectlThroughSidecar, AdminEndpointsReportTheTableInForce) {
  EXPECT_EQ(sidecar_->admin_get("/healthz").status, 200);
  EXPECT_EQ(sidecar_->admin_get("/readyz").status, 200);
  auto routes = sidecar_->admin_get("/routes");
  ASSERT_EQ(routes.status, 200);
  auto j = nlohmann::json::parse(routes.body);
  EXPECT_EQ(j["policy"], "e2e/route-by-cluster-label");
  EXPECT_EQ(j["targets"].size(), 3U);
  ASSERT_TRUE(via({"get", "--raw", "/version"}).ok());
  auto metrics = sidecar_->admin_get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("mca_routing_table_info{version=\"" +
                                 j["version"].get<std::string>() + "\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("mca_requests_total{cluster=\"home\",code=\"200\","
                        "resource=\"\",verb=\"non-resource\"}"));
}

}  // namespace
}  // namespace mca::test
