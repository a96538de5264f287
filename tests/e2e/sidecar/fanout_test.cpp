// A fan-out rule (`targets: [home, east, west]`) through the real sidecar:
// kubectl's lists span the three clusters, each item says where it lives,
// `kubectl get` shows a Cluster column, pages walk the clusters, merged
// watches relay every cluster's events with composite versions, and a
// failing cluster fails the read unless the rule allows partial answers.
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/raw_http.hpp"
#include "support/sidecar_process.hpp"
#include "support/testenv.hpp"

namespace mca::test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class FanOut : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    env_ = new testenv(testenv::load(error));
    ASSERT_TRUE(error.empty()) << error;
    ns_ = new std::string(unique_name("mca-fan"));
    // Unevenly spread: 2 on home, 3 on east, 1 on west.
    const std::map<std::string, int> counts{
        {"home", 2}, {"east", 3}, {"west", 1}};
    for (const auto& [cluster, n] : counts) {
      env_->kubectl(cluster, {"create", "namespace", *ns_});
      for (int i = 0; i < n; ++i) {
        const std::string name = cluster + "-" + std::to_string(i);
        auto r = env_->kubectl(cluster, {"-n", *ns_, "create", "configmap",
                                         name, "--from-literal=k=v"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        r = env_->kubectl(cluster,
                          {"-n", *ns_, "label", "configmap", name, "fan=yes"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
      }
    }
  }
  static void TearDownTestSuite() {
    // Set-up failed before the namespace existed (no clusters): nothing to
    // clean up, and the failure is already reported.
    if (ns_ == nullptr) return;
    for (const char* cluster : {"home", "east", "west"}) {
      env_->kubectl(cluster, {"-n", *ns_, "delete", "configmaps", "-l", "fan",
                              "--wait=false"});
    }
    delete env_;
  }

  static std::string routes(const std::string& partial) {
    return standard_routes(*env_) +
           "  - name: everywhere\n"
           "    match: {resources: [{resource: configmaps}], namespaces: [" +
           *ns_ + "]}\n    targets: [home, east, west]\n" + partial;
  }

  static inline testenv* env_ = nullptr;
  static inline std::string* ns_ = nullptr;
};

TEST_F(FanOut, AListSpansEveryClusterAndSaysWhereEachItemLives) {
  auto sidecar = sidecar_process::start(routes(""));
  auto r = kubectl_via(
      *env_, sidecar,
      {"-n", *ns_, "get", "configmaps", "-l", "fan=yes", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json list = json::parse(r.out);
  std::set<std::string> seen;
  for (const auto& item : list["items"]) {
    const std::string name = item["metadata"]["name"];
    const std::string cluster =
        item["metadata"]["annotations"]["mca.k8s.io/cluster"];
    EXPECT_EQ(name.substr(0, name.find('-')), cluster) << name;
    EXPECT_TRUE(seen.insert(name).second) << name << " twice";
  }
  EXPECT_EQ(seen, (std::set<std::string>{"home-0", "home-1", "east-0", "east-1",
                                         "east-2", "west-0"}));
}

TEST_F(FanOut, KubectlGetShowsAClusterColumn) {
  auto sidecar = sidecar_process::start(routes(""));
  auto r = kubectl_via(*env_, sidecar,
                       {"-n", *ns_, "get", "configmaps", "-l", "fan=yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("CLUSTER"));
  int rows = 0;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("NAME", 0) == 0 || line.empty()) continue;
    ++rows;
    const std::string name = line.substr(0, line.find(' '));
    EXPECT_THAT(line, HasSubstr(" " + name.substr(0, name.find('-')) + " "))
        << line;
  }
  EXPECT_EQ(rows, 6) << r.out;
}

// Across all namespaces (a rule without a namespace condition), as the
// issue's `kubectl get configmaps -A` asks.
TEST_F(FanOut, KubectlGetAllNamespacesShowsNamespaceAndCluster) {
  auto sidecar = sidecar_process::start(
      standard_routes(*env_) +
      "  - name: all-configmaps\n"
      "    match: {resources: [{resource: configmaps}]}\n"
      "    targets: [home, east, west]\n");
  auto r =
      kubectl_via(*env_, sidecar, {"get", "configmaps", "-A", "-l", "fan=yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header;
  std::getline(lines, header);
  EXPECT_THAT(header, ::testing::ContainsRegex("^NAMESPACE +NAME +CLUSTER"));
  int rows = 0;
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(*ns_, 0) != 0) continue;  // other tests' objects
    std::istringstream words(line);
    std::string ns, name, cluster;
    words >> ns >> name >> cluster;
    EXPECT_EQ(cluster, name.substr(0, name.find('-'))) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 6) << r.out;
}

TEST_F(FanOut, ACreateMatchedOnlyByTheFanOutRuleIsRefusedNamingIt) {
  auto sidecar = sidecar_process::start(routes(""));
  auto r = kubectl_via(*env_, sidecar,
                       {"-n", *ns_, "create", "configmap", "nowhere"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("rule everywhere"));
  EXPECT_THAT(r.err, HasSubstr("writeTarget"));
}

// kubectl follows continue tokens; pages of 2 walk home, east and west in
// order and every object comes exactly once.
TEST_F(FanOut, PagesWalkTheClustersAndReturnEveryObjectOnce) {
  auto sidecar = sidecar_process::start(routes(""));
  auto r = kubectl_via(*env_, sidecar,
                       {"-n", *ns_, "get", "configmaps", "-l", "fan=yes",
                        "--chunk-size=2", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::multiset<std::string> seen;
  const json list = json::parse(r.out);
  for (const auto& item : list["items"]) {
    seen.insert(item["metadata"]["name"].get<std::string>());
  }
  EXPECT_EQ(seen, (std::multiset<std::string>{"home-0", "home-1", "east-0",
                                              "east-1", "east-2", "west-0"}))
      << r.out << r.err;
}

// Creates `n` ConfigMaps labelled fan=`label` in `cluster` at once.
void create_many(const testenv& env, const std::string& cluster,
                 const std::string& ns, const std::string& label, int n) {
  json list = {
      {"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}};
  for (int i = 0; i < n; ++i) {
    list["items"].push_back(
        {{"apiVersion", "v1"},
         {"kind", "ConfigMap"},
         {"metadata",
          {{"name", label + "-" + cluster + "-" + std::to_string(i)},
           {"labels", {{"fan", label}}}}},
         {"data", {{"i", std::to_string(i)}}}});
  }
  auto r = env.kubectl(cluster, {"-n", ns, "create", "-f", "-"}, list.dump());
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

raw_response get(const sidecar_process& sidecar, const std::string& target,
                 const std::string& accept = "application/json") {
  raw_request req;
  req.target = target;
  req.headers.emplace_back("Accept", accept);
  return sidecar.request(req);
}

// The events of a watch body, one JSON object per line.
std::vector<json> events_of(const std::string& body) {
  std::vector<json> out;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

std::string cluster_of(const json& object) {
  return object["metadata"]["annotations"]["mca.k8s.io/cluster"];
}

// Pages of 7 over 50 objects spread 3/40/7: every object once, no page over
// the limit; then a watch from the last page's version sees exactly what
// was created in each cluster after the listing, and resuming from the
// last event's version repeats nothing.
TEST_F(FanOut, PagesOfSevenOverFiftyAndAWatchFromTheListsVersion) {
  const std::map<std::string, int> counts{
      {"home", 3}, {"east", 40}, {"west", 7}};
  for (const auto& [cluster, n] : counts) {
    create_many(*env_, cluster, *ns_, "page", n);
  }
  auto sidecar = sidecar_process::start(routes(""));
  const std::string collection = "/api/v1/namespaces/" + *ns_ + "/configmaps";
  std::multiset<std::string> seen;
  std::string token, version;
  int pages = 0;
  do {
    std::string target = collection + "?labelSelector=fan%3Dpage&limit=7";
    if (!token.empty()) target += "&continue=" + token;
    auto res = get(sidecar, target);
    ASSERT_EQ(res.status, 200) << res.body;
    const json page = json::parse(res.body);
    ASSERT_LE(page["items"].size(), 7U) << res.body;
    for (const auto& item : page["items"]) {
      const std::string name = item["metadata"]["name"];
      seen.insert(name);
      EXPECT_THAT(name, HasSubstr("-" + cluster_of(item) + "-"));
    }
    token = page["metadata"].value("continue", "");
    version = page["metadata"]["resourceVersion"];
    ASSERT_LT(++pages, 20) << "the pages never end";
  } while (!token.empty());
  std::multiset<std::string> want;
  for (const auto& [cluster, n] : counts) {
    for (int i = 0; i < n; ++i) {
      want.insert("page-" + cluster + "-" + std::to_string(i));
    }
  }
  EXPECT_EQ(seen, want);
  EXPECT_GE(pages, 8);  // 1 + 6 + 1 pages at least, one cluster per page
  EXPECT_EQ(version.rfind("mca1.", 0), 0U) << version;

  // Meanwhile, in every cluster: one new object each.
  for (const auto& [cluster, n] : counts) {
    auto r = env_->kubectl(
        cluster, {"-n", *ns_, "create", "configmap", "page-late-" + cluster});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = env_->kubectl(cluster, {"-n", *ns_, "label", "configmap",
                                "page-late-" + cluster, "fan=page"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  raw_request watch;
  watch.target = collection +
                 "?labelSelector=fan%3Dpage&watch=1&timeoutSeconds=2&"
                 "resourceVersion=" +
                 version;
  watch.timeout = std::chrono::seconds(30);
  auto res = sidecar.request(watch);
  ASSERT_EQ(res.status, 200) << res.body;
  std::set<std::string> added;
  std::string last_version;
  for (const auto& e : events_of(res.body)) {
    ASSERT_NE(e["type"], "ERROR") << e.dump();
    const std::string name = e["object"]["metadata"]["name"];
    EXPECT_EQ(name, "page-late-" + cluster_of(e["object"])) << e.dump();
    EXPECT_EQ(e["type"], "ADDED") << e.dump();  // labelled: enters the set
    added.insert(name);
    last_version = e["object"]["metadata"]["resourceVersion"];
  }
  EXPECT_EQ(added, (std::set<std::string>{"page-late-home", "page-late-east",
                                          "page-late-west"}))
      << res.body;
  ASSERT_EQ(last_version.rfind("mca1.", 0), 0U) << res.body;

  watch.target = collection +
                 "?labelSelector=fan%3Dpage&watch=1&timeoutSeconds=1&"
                 "resourceVersion=" +
                 last_version;
  res = sidecar.request(watch);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_TRUE(events_of(res.body).empty()) << res.body;
}

// A watch-list (sendInitialEvents, as client-go's informers ask): every
// cluster's objects, then one bookmark ending the initial events, sent only
// once every cluster has ended its own.
TEST_F(FanOut, AWatchListEndsItsInitialEventsWhenEveryClusterHas) {
  auto sidecar = sidecar_process::start(routes(""));
  raw_request watch;
  watch.target = "/api/v1/namespaces/" + *ns_ +
                 "/configmaps?labelSelector=fan%3Dyes&watch=1&"
                 "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&"
                 "allowWatchBookmarks=true&timeoutSeconds=3";
  watch.timeout = std::chrono::seconds(30);
  auto res = sidecar.request(watch);
  ASSERT_EQ(res.status, 200) << res.body;
  std::set<std::string> added;
  int ends = 0;
  for (const auto& e : events_of(res.body)) {
    if (e["type"] == "ADDED") {
      EXPECT_EQ(ends, 0) << "an object after the initial events ended";
      added.insert(e["object"]["metadata"]["name"].get<std::string>());
    } else if (e["type"] == "BOOKMARK") {
      const auto& meta = e["object"]["metadata"];
      if (meta.contains("annotations") &&
          meta["annotations"].contains("k8s.io/initial-events-end")) {
        ++ends;
        EXPECT_EQ(added.size(), 6U);
        EXPECT_EQ(meta["resourceVersion"].get<std::string>().rfind("mca1.", 0),
                  0U);
      }
    }
  }
  EXPECT_EQ(ends, 1) << res.body;
  EXPECT_EQ(added, (std::set<std::string>{"home-0", "home-1", "east-0",
                                          "east-1", "east-2", "west-0"}));
}

// kubectl get -w asks for Table events: the first names a Cluster column
// after Name, and every row carries its cluster.
TEST_F(FanOut, TableWatchesCarryAClusterColumn) {
  auto sidecar = sidecar_process::start(routes(""));
  raw_request watch;
  watch.target = "/api/v1/namespaces/" + *ns_ +
                 "/configmaps?labelSelector=fan%3Dyes&watch=1&timeoutSeconds=2";
  watch.headers.emplace_back(
      "Accept",
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  watch.timeout = std::chrono::seconds(30);
  auto res = sidecar.request(watch);
  ASSERT_EQ(res.status, 200) << res.body;
  const auto events = events_of(res.body);
  ASSERT_EQ(events.size(), 6U) << res.body;
  const json& columns = events[0]["object"]["columnDefinitions"];
  ASSERT_TRUE(columns.is_array()) << res.body;
  EXPECT_EQ(columns[0]["name"], "Name");
  EXPECT_EQ(columns[1]["name"], "Cluster");
  std::set<std::string> rows;
  for (const auto& e : events) {
    EXPECT_EQ(e["object"]["kind"], "Table");
    for (const auto& row : e["object"]["rows"]) {
      const std::string name = row["cells"][0];
      EXPECT_EQ(row["cells"][1], name.substr(0, name.find('-'))) << name;
      rows.insert(name);
    }
  }
  EXPECT_EQ(rows, (std::set<std::string>{"home-0", "home-1", "east-0", "east-1",
                                         "east-2", "west-0"}));
}

// An object from the merged list, edited and written back with kubectl:
// it lands on the cluster it came from (the name exists on two), with that
// cluster's own version; written again from the same stale copy, the
// cluster's optimistic concurrency answers 409.
TEST_F(FanOut, AnUpdateFromTheMergedListLandsWhereTheObjectLives) {
  for (const char* cluster : {"home", "east"}) {
    auto r = env_->kubectl(cluster, {"-n", *ns_, "create", "configmap", "twin",
                                     "--from-literal=k=v"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = env_->kubectl(cluster,
                      {"-n", *ns_, "label", "configmap", "twin", "fan=twin"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto sidecar = sidecar_process::start(routes(""));
  auto r = kubectl_via(
      *env_, sidecar,
      {"-n", *ns_, "get", "configmaps", "-l", "fan=twin", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json list = json::parse(r.out);
  json east_twin;
  for (const auto& item : list["items"]) {
    if (cluster_of(item) == "east") east_twin = item;
  }
  ASSERT_TRUE(east_twin.is_object()) << r.out;
  const std::string composite = east_twin["metadata"]["resourceVersion"];
  ASSERT_EQ(composite.rfind("mca1.", 0), 0U);

  json edited = east_twin;
  edited["data"]["k"] = "changed";
  r = kubectl_via(*env_, sidecar, {"-n", *ns_, "replace", "-f", "-"},
                  edited.dump());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto east = env_->kubectl(
      "east", {"-n", *ns_, "get", "configmap", "twin", "-o", "json"});
  const json on_east = json::parse(east.out);
  EXPECT_EQ(on_east["data"]["k"], "changed");
  // Stored without the sidecar's annotation.
  EXPECT_FALSE(
      on_east["metadata"].contains("annotations") &&
      on_east["metadata"]["annotations"].contains("mca.k8s.io/cluster"))
      << east.out;
  auto home = env_->kubectl("home", {"-n", *ns_, "get", "configmap", "twin",
                                     "-o", "jsonpath={.data.k}"});
  EXPECT_EQ(home.out, "v");

  // The same stale copy again: east's own version is out of date now.
  edited["data"]["k"] = "stale";
  r = kubectl_via(*env_, sidecar, {"-n", *ns_, "replace", "-f", "-"},
                  edited.dump());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("the object has been modified"));
  east = env_->kubectl("east", {"-n", *ns_, "get", "configmap", "twin", "-o",
                                "jsonpath={.data.k}"});
  EXPECT_EQ(east.out, "changed");

  // A version of east's object written to home is refused, not forwarded.
  json misplaced = east_twin;
  misplaced["metadata"]["annotations"]["mca.k8s.io/cluster"] = "home";
  r = kubectl_via(*env_, sidecar, {"-n", *ns_, "replace", "-f", "-"},
                  misplaced.dump());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("another cluster"));
}

// A CRD installed on east only: discovery through the sidecar is merged
// across the targets, so kubectl finds the resource, and a fan-out rule
// lists it from east while home and west (which lack it) are left out.
TEST_F(FanOut, ACrdOnlyOnEastIsDiscoverableAndListed) {
  const std::string group = "fanout.mca-e2e.example.com";
  const json crd = {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", "widgets." + group}}},
      {"spec",
       {{"group", group},
        {"scope", "Namespaced"},
        {"names",
         {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}}},
        {"versions",
         json::array(
             {{{"name", "v1"},
               {"served", true},
               {"storage", true},
               {"schema",
                {{"openAPIV3Schema",
                  {{"type", "object"},
                   {"x-kubernetes-preserve-unknown-fields", true}}}}}}})}}}};
  auto r = env_->kubectl("east", {"apply", "-f", "-"}, crd.dump());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env_->kubectl("east", {"wait", "--for", "condition=Established",
                             "--timeout=30s", "crd/widgets." + group});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // East's own discovery has it before the sidecar (which caches) asks.
  for (int i = 0; i < 50; ++i) {
    r = env_->kubectl("east", {"get", "--raw", "/apis/" + group + "/v1"});
    if (r.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json widget = {{"apiVersion", group + "/v1"},
                       {"kind", "Widget"},
                       {"metadata", {{"name", "only-east"}}},
                       {"spec", {{"size", 3}}}};
  r = env_->kubectl("east", {"-n", *ns_, "apply", "-f", "-"}, widget.dump());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto sidecar = sidecar_process::start(
      standard_routes(*env_) +
      "  - name: widgets-everywhere\n"
      "    match: {resources: [{group: " +
      group + ", resource: widgets}]}\n    targets: [home, east, west]\n");
  r = kubectl_via(*env_, sidecar, {"get", "--raw", "/apis"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"" + group + "\""));
  r = kubectl_via(*env_, sidecar, {"api-resources", "--api-group=" + group});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("widgets"));
  r = kubectl_via(*env_, sidecar, {"-n", *ns_, "get", "widgets"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("CLUSTER"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("only-east +east"));
  r = kubectl_via(*env_, sidecar,
                  {"-n", *ns_, "get", "widget", "only-east", "-o",
                   "jsonpath={.spec.size}"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "3");

  env_->kubectl("east", {"delete", "crd", "widgets." + group, "--wait=false"});
}

// Merged answers are JSON, YAML or metadata only, as asked; a client that
// takes only protobuf is told why it cannot have it.
TEST_F(FanOut, ContentTypesAreAnsweredAsAsked) {
  auto sidecar = sidecar_process::start(routes(""));
  auto res = get(sidecar, "/api/v1/namespaces/" + *ns_ + "/configmaps",
                 "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(res.status, 406) << res.body;
  const json status = json::parse(res.body);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_THAT(status["message"].get<std::string>(),
              HasSubstr("accept application/json"));
  // client-go's default for core types offers both, and gets JSON.
  res = get(sidecar, "/api/v1/namespaces/" + *ns_ + "/configmaps",
            "application/vnd.kubernetes.protobuf,application/json");
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_THAT(res.header("Content-Type"), HasSubstr("application/json"));
  EXPECT_EQ(json::parse(res.body)["items"].size() >= 6U, true);
  // YAML as asked.
  res =
      get(sidecar,
          "/api/v1/namespaces/" + *ns_ + "/configmaps?labelSelector=fan%3Dyes",
          "application/yaml");
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.header("Content-Type"), "application/yaml");
  EXPECT_THAT(res.body, HasSubstr("kind: ConfigMapList"));
  EXPECT_THAT(res.body, HasSubstr("mca.k8s.io/cluster: west"));
  // Metadata only, as controller-runtime's metadata informers ask.
  res =
      get(sidecar,
          "/api/v1/namespaces/" + *ns_ + "/configmaps?labelSelector=fan%3Dyes",
          "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1");
  ASSERT_EQ(res.status, 200) << res.body;
  const json partial = json::parse(res.body);
  EXPECT_EQ(partial["kind"], "PartialObjectMetadataList");
  ASSERT_EQ(partial["items"].size(), 6U);
  for (const auto& item : partial["items"]) {
    EXPECT_FALSE(item.contains("data"));
    EXPECT_EQ(item["metadata"]["name"].get<std::string>().substr(
                  0, cluster_of(item).size()),
              cluster_of(item));
  }
}

// A fourth target on a port nothing listens on.
std::string with_dead_target(const std::string& routes, const testenv& env) {
  const std::string dead =
      "  - name: gone\n    server: https://127.0.0.1:1\n"
      "    caFile: " +
      env.at("home").ca_file.string() + "\n    credentials: {token: {file: " +
      env.at("home").token_file.string() + "}}\n";
  std::string out = routes;
  out.insert(out.find("defaultTarget:"), dead);
  return out;
}

TEST_F(FanOut, AFailingClusterFailsTheListUnlessPartialIsAllowed) {
  const auto rule = [&](const std::string& partial) {
    return with_dead_target(standard_routes(*env_), *env_) +
           "  - name: with-gone\n"
           "    match: {resources: [{resource: configmaps}], namespaces: [" +
           *ns_ + "]}\n    targets: [home, east, gone]\n" + partial;
  };
  {
    auto sidecar = sidecar_process::start(rule(""));
    auto r = kubectl_via(*env_, sidecar,
                         {"-n", *ns_, "get", "configmaps", "-l", "fan=yes"});
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_THAT(r.err, HasSubstr("gone"));
    // Unpaged too (client-go's informers list without a limit at first).
    auto res = get(sidecar, "/api/v1/namespaces/" + *ns_ +
                                "/configmaps?labelSelector=fan%3Dyes");
    EXPECT_EQ(res.status, 503) << res.body;
    EXPECT_THAT(res.body, HasSubstr("gone"));
  }
  {
    auto sidecar = sidecar_process::start(rule("    partial: allow\n"));
    auto r = kubectl_via(
        *env_, sidecar,
        {"-n", *ns_, "get", "configmaps", "-l", "fan=yes", "-o", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("gone"));  // kubectl prints the Warning
    std::set<std::string> names;
    const json list = json::parse(r.out);
    for (const auto& item : list["items"]) {
      names.insert(item["metadata"]["name"].get<std::string>());
    }
    EXPECT_EQ(names, (std::set<std::string>{"home-0", "home-1", "east-0",
                                            "east-1", "east-2"}));
    auto res = get(sidecar, "/api/v1/namespaces/" + *ns_ +
                                "/configmaps?labelSelector=fan%3Dyes");
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_THAT(res.header("Warning"), HasSubstr("gone"));
    EXPECT_FALSE(
        json::parse(res.body)["metadata"].contains("remainingItemCount"));
    // A watch cannot be partial: it would silently lack a cluster.
    raw_request watch;
    watch.target = "/api/v1/namespaces/" + *ns_ + "/configmaps?watch=1";
    res = sidecar.request(watch);
    EXPECT_EQ(res.status, 503) << res.body;
    EXPECT_THAT(res.body, HasSubstr("gone"));
  }
}

}  // namespace
}  // namespace mca::test
