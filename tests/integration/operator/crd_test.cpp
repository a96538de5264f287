// The CRDs in crds/ as the real API server enforces them: every sample in
// config/samples is admitted, invalid objects are refused with the exact
// message kubectl prints, and kubectl shows the printer columns, short names
// and category. Everything runs against the home test cluster.
//
// Suite names carry a lowercase "crd" so that `ctest -R crd` (case-sensitive)
// selects them.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testenv.hpp"

namespace mca::test {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::filesystem::path source_dir() { return MCA_SOURCE_DIR; }
constexpr const char* cluster = "home";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

json object(const std::string& kind, const std::string& name, json spec) {
  return {{"apiVersion", "mca.x-k8s.io/v1alpha1"},
          {"kind", kind},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

// What `kubectl apply` prints when the API server refuses a new object as
// invalid: one error on the header line, several as a list below it.
std::string invalid_message(const std::string& kind, const std::string& name,
                            const std::vector<std::string>& errors) {
  std::string out = "The " + kind + " \"" + name + "\" is invalid: ";
  if (errors.size() == 1) return out + errors.front() + "\n";
  for (const auto& e : errors) out += "\n* " + e;
  return out + "\n";
}

// The line the API server adds when schema errors kept CEL rules from running.
constexpr const char* rules_not_checked =
    "<nil>: Invalid value: null: some validation rules were not checked "
    "because the object was invalid; correct the existing errors to complete "
    "validation";

// What the suite sets up once and every test uses.
struct suite_state {
  std::unique_ptr<testenv> env;
  std::string ns;  // the suite's own namespace
  std::string setup_error;
};

suite_state& suite() {
  static suite_state state;
  return state;
}

class crd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite() = suite_state{};  // nothing left from a suite before this one
    std::string error;
    suite().env = std::make_unique<testenv>(testenv::load(error));
    if (!error.empty()) {
      suite().setup_error = error;
      return;
    }
    // Other tests apply the same files, possibly at the same moment.
    // Server-side apply creates or updates in one request, where client-side
    // apply (get, then create) can lose that race with AlreadyExists.
    auto applied = suite().env->kubectl(
        cluster, {"apply", "--server-side", "--force-conflicts",
                  "--field-manager=mca-crd-test", "-f",
                  (source_dir() / "crds").string()});
    if (!applied.ok()) {
      suite().setup_error = "applying crds/: " + applied.err;
      return;
    }
    auto established = suite().env->kubectl(
        cluster, {"wait", "--for=condition=Established", "--timeout=60s",
                  "crd/clustertargets.mca.x-k8s.io",
                  "crd/routingpolicies.mca.x-k8s.io"});
    if (!established.ok()) {
      suite().setup_error = "waiting for the CRDs: " + established.err;
      return;
    }
    suite().ns = unique_name("crd-test");
    auto ns =
        suite().env->kubectl(cluster, {"create", "namespace", suite().ns});
    if (!ns.ok()) suite().setup_error = "creating the namespace: " + ns.err;
  }

  static void TearDownTestSuite() {
    if (suite().env && !suite().ns.empty()) {
      suite().env->kubectl(cluster,
                           {"delete", "namespace", suite().ns, "--wait=false"});
      // The test clusters run no namespace controller, so the namespace
      // would stay Terminating; finalizing it removes it (each test has
      // already deleted the objects it made in it).
      const json finalized = {{"apiVersion", "v1"},
                              {"kind", "Namespace"},
                              {"metadata", {{"name", suite().ns}}},
                              {"spec", {{"finalizers", json::array()}}}};
      suite().env->kubectl(
          cluster,
          {"replace", "--raw", "/api/v1/namespaces/" + suite().ns + "/finalize",
           "-f", "-"},
          finalized.dump());
    }
    suite().env.reset();
  }

  void SetUp() override {
    ASSERT_TRUE(suite().setup_error.empty()) << suite().setup_error;
  }

  // Deletes what a test created when the test ends, however it ends.
  void TearDown() override {
    for (const auto& [resource, name] : created_) {
      suite().env->kubectl(cluster, {"delete", resource, name, "-n", suite().ns,
                                     "--ignore-not-found", "--wait=false"});
    }
  }

  // kubectl on the home cluster, in the suite's namespace.
  static process::process_result home(std::vector<std::string> args,
                                      const std::string& stdin_data = {}) {
    args.insert(args.end(), {"-n", suite().ns});
    return suite().env->kubectl(cluster, std::move(args), stdin_data);
  }

  // `kubectl apply` of one object, remembered for deletion when it was
  // admitted.
  process::process_result apply(const json& obj) {
    auto r = home({"apply", "-f", "-"}, obj.dump());
    if (r.ok()) remember(obj);
    return r;
  }

  void remember(const json& obj) {
    remember(obj.at("kind"), obj.at("metadata").at("name"));
  }
  void remember(const std::string& kind, const std::string& name) {
    created_.emplace_back(kind == "ClusterTarget"
                              ? "clustertargets.mca.x-k8s.io"
                              : "routingpolicies.mca.x-k8s.io",
                          name);
  }

  static json get(const std::string& resource, const std::string& name) {
    auto r = home({"get", resource, name, "-o", "json"});
    EXPECT_TRUE(r.ok()) << resource << " " << name << ": " << r.err;
    return r.ok() ? json::parse(r.out) : json::object();
  }

  // The objects of YAML files, turned into JSON by kubectl itself (which
  // prints one JSON document per object).
  static std::vector<json> as_json(std::vector<std::string> args) {
    args.insert(args.begin(), {"create", "--dry-run=client", "-o", "json"});
    auto r = home(std::move(args));
    EXPECT_TRUE(r.ok()) << r.err;
    std::vector<json> out;
    std::istringstream in(r.out);
    while ((in >> std::ws).peek() != std::char_traits<char>::eof()) {
      in >> out.emplace_back();  // reads one document, leaves the rest
    }
    return out;
  }

  static const testenv& env() { return *suite().env; }

 private:
  // {resource, name} of what this test created
  std::vector<std::pair<std::string, std::string>> created_;
};

TEST_F(crd, BothAreEstablishedInGroupWithScopeNamesAndStatusSubresource) {
  struct expected {
    std::string crd, kind, scope, short_name;
  };
  for (const auto& e : {expected{"clustertargets.mca.x-k8s.io", "ClusterTarget",
                                 "Cluster", "ct"},
                        expected{"routingpolicies.mca.x-k8s.io",
                                 "RoutingPolicy", "Namespaced", "rp"}}) {
    SCOPED_TRACE(e.crd);
    auto r = env().kubectl(cluster, {"get", "crd", e.crd, "-o", "json"});
    ASSERT_TRUE(r.ok()) << r.err;
    const auto definition = json::parse(r.out);
    const auto& spec = definition["spec"];
    EXPECT_EQ(spec["group"], "mca.x-k8s.io");
    EXPECT_EQ(spec["scope"], e.scope);
    EXPECT_EQ(spec["names"]["kind"], e.kind);
    EXPECT_EQ(spec["names"]["shortNames"], json::array({e.short_name}));
    EXPECT_EQ(spec["names"]["categories"], json::array({"mca"}));
    ASSERT_EQ(spec["versions"].size(), 1U);
    const auto& version = spec["versions"][0];
    EXPECT_EQ(version["name"], "v1alpha1");
    EXPECT_EQ(version["served"], true);
    EXPECT_EQ(version["storage"], true);
    EXPECT_EQ(version["subresources"], json({{"status", json::object()}}));
    // The spec is fully described: nothing is kept unchecked.
    EXPECT_THAT(version["schema"].dump(),
                ::testing::Not(HasSubstr("x-kubernetes-preserve-unknown")));
    bool established = false;
    for (const auto& c : definition["status"]["conditions"]) {
      if (c["type"] == "Established") established = c["status"] == "True";
    }
    EXPECT_TRUE(established) << definition["status"].dump();
  }
}

// The objects the kustomization renders, as {kind, name}.
std::set<std::pair<std::string, std::string>> kinds_and_names(
    const std::vector<json>& objects) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& o : objects) {
    out.emplace(o.at("kind").get<std::string>(),
                o.at("metadata").at("name").get<std::string>());
  }
  return out;
}

TEST_F(crd, KustomizationListsEverySample) {
  const auto samples = source_dir() / "config" / "samples";
  std::set<std::pair<std::string, std::string>> from_files;
  for (const auto& entry : std::filesystem::directory_iterator(samples)) {
    const auto file = entry.path().filename().string();
    // routes.yaml is a routing table for `mca-sidecar --routes`, not an
    // object of the API.
    if (entry.path().extension() != ".yaml" || file == "kustomization.yaml" ||
        file == "routes.yaml") {
      continue;
    }
    auto objects = kinds_and_names(as_json({"-f", entry.path().string()}));
    ASSERT_EQ(objects.size(), 1U) << file;
    from_files.insert(*objects.begin());
  }
  const auto rendered = kinds_and_names(as_json({"-k", samples.string()}));
  EXPECT_EQ(rendered, from_files);
  // The ones the docs and routingpolicy_by_region.yaml refer to.
  for (const auto& required : std::vector<std::pair<std::string, std::string>>{
           {"ClusterTarget", "home"},
           {"ClusterTarget", "east"},
           {"ClusterTarget", "west"},
           {"RoutingPolicy", "by-region"}}) {
    EXPECT_TRUE(rendered.contains(required)) << required.second;
  }
}

TEST_F(crd, EverySampleIsAccepted) {
  json list = {
      {"apiVersion", "v1"},
      {"kind", "List"},
      {"items",
       as_json({"-k", (source_dir() / "config" / "samples").string()})}};
  ASSERT_FALSE(list["items"].empty());
  // Unique names for this run, with the policy's references following its
  // targets (admission does not check references; the operator does).
  const std::string suffix = unique_name("");  // "-" and 8 characters
  std::map<std::string, std::string> renamed;
  for (auto& item : list["items"]) {
    auto& name = item["metadata"]["name"];
    const std::string fresh = name.get<std::string>() + suffix;
    if (item["kind"] == "ClusterTarget") renamed[name] = fresh;
    name = fresh;
  }
  std::map<std::string, int> credentials;  // kind of credentials -> count
  int policies = 0;
  for (auto& item : list["items"]) {
    if (item["kind"] == "ClusterTarget") {
      for (const auto& c : item["spec"]["credentials"].items()) {
        ++credentials[c.key()];
      }
    }
    if (item["kind"] != "RoutingPolicy") continue;
    ++policies;
    auto& spec = item["spec"];
    if (spec.contains("defaultTarget")) {
      spec["defaultTarget"] = renamed.at(spec["defaultTarget"]);
    }
    for (auto& rule : spec["rules"]) {
      if (rule.contains("target")) rule["target"] = renamed.at(rule["target"]);
    }
  }
  for (const auto& item : list["items"]) remember(item);
  // home (local), east and west (kubeconfig Secrets), one tokenRequest.
  EXPECT_EQ(credentials,
            (std::map<std::string, int>{
                {"local", 1}, {"secretRef", 2}, {"tokenRequest", 1}}));
  EXPECT_EQ(policies, 1);

  auto r = home({"apply", "-f", "-"}, list.dump());
  ASSERT_TRUE(r.ok()) << r.err;
  for (const auto& item : list["items"]) {
    const std::string name = item["metadata"]["name"];
    const auto stored =
        get(item["kind"] == "ClusterTarget" ? "clustertargets.mca.x-k8s.io"
                                            : "routingpolicies.mca.x-k8s.io",
            name);
    EXPECT_EQ(stored["metadata"]["name"], name);
    // Stored as written (defaults aside): nothing was pruned.
    for (const auto& [field, value] : item["spec"].items()) {
      if (field == "credentials" || field == "caSecretRef") {
        continue;  // defaults added; see DefaultsAreFilledIn
      }
      EXPECT_EQ(stored["spec"][field], value) << name << " spec." << field;
    }
  }
}

TEST_F(crd, DefaultsAreFilledIn) {
  const auto kubeconfig_target = unique_name("kubeconfig");
  const auto token_target = unique_name("token");
  const auto minted_target = unique_name("minted");
  const auto policy = unique_name("defaults");
  const std::string server = "https://east.example.com:6443";
  ASSERT_TRUE(apply(object("ClusterTarget", kubeconfig_target,
                           {{"server", server},
                            {"caSecretRef", {{"name", "east-ca"}}},
                            {"credentials",
                             {{"secretRef", {{"name", "east-kubeconfig"}}}}}}))
                  .ok());
  ASSERT_TRUE(apply(object("ClusterTarget", token_target,
                           {{"server", server},
                            {"credentials",
                             {{"tokenSecretRef", {{"name", "east-token"}}}}}}))
                  .ok());
  ASSERT_TRUE(apply(object("ClusterTarget", minted_target,
                           {{"server", server},
                            {"credentials",
                             {{"tokenRequest",
                               {{"serviceAccount", "mca-workload"},
                                {"namespace", "mca"},
                                {"secretRef", {{"name", "minter"}}}}}}}}))
                  .ok());
  ASSERT_TRUE(apply(object("RoutingPolicy", policy,
                           {{"podSelector", json::object()},
                            {"rules",
                             {{{"name", "refuse"},
                               {"reject", {{"message", "not here"}}}}}}}))
                  .ok());

  const auto kubeconfig = get("clustertargets.mca.x-k8s.io", kubeconfig_target);
  EXPECT_EQ(kubeconfig["spec"]["caSecretRef"],
            json({{"name", "east-ca"}, {"key", "ca.crt"}}));
  EXPECT_EQ(kubeconfig["spec"]["credentials"]["secretRef"],
            json({{"name", "east-kubeconfig"}, {"key", "kubeconfig"}}));
  const auto token = get("clustertargets.mca.x-k8s.io", token_target);
  EXPECT_EQ(token["spec"]["credentials"]["tokenSecretRef"],
            json({{"name", "east-token"}, {"key", "token"}}));
  const auto minted = get("clustertargets.mca.x-k8s.io", minted_target);
  EXPECT_EQ(minted["spec"]["credentials"]["tokenRequest"],
            json({{"serviceAccount", "mca-workload"},
                  {"namespace", "mca"},
                  {"expirationSeconds", 3600},
                  {"secretRef", {{"name", "minter"}, {"key", "kubeconfig"}}}}));
  const auto stored = get("routingpolicies.mca.x-k8s.io", policy);
  EXPECT_EQ(stored["spec"]["priority"], 0);
  EXPECT_EQ(stored["spec"]["failureMode"], "FailClosed");
  EXPECT_EQ(stored["spec"]["rules"][0]["reject"],
            json({{"code", 403}, {"message", "not here"}}));
}

TEST_F(crd, GetShowsPrinterColumnsUnderNamesShortNamesAndCategory) {
  const auto target = unique_name("columns");
  const auto policy = unique_name("columns");
  const std::string server = "https://west.example.com:6443";
  ASSERT_TRUE(apply(object("ClusterTarget", target,
                           {{"server", server},
                            {"credentials", {{"local", json::object()}}}}))
                  .ok());
  ASSERT_TRUE(apply(object("RoutingPolicy", policy,
                           {{"podSelector", json::object()},
                            {"defaultTarget", target}}))
                  .ok());

  for (const char* resource : {"clustertargets", "ct"}) {
    SCOPED_TRACE(resource);
    auto r = home({"get", resource, target});
    ASSERT_TRUE(r.ok()) << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2U) << r.out;
    EXPECT_THAT(words_of(lines[0]),
                ElementsAre("NAME", "SERVER", "READY", "VERSION", "AGE"));
    // No status yet: Ready and Version are blank.
    const auto row = words_of(lines[1]);
    ASSERT_EQ(row.size(), 3U) << lines[1];
    EXPECT_EQ(row[0], target);
    EXPECT_EQ(row[1], server);
  }
  for (const char* resource : {"routingpolicies", "rp"}) {
    SCOPED_TRACE(resource);
    auto r = home({"get", resource, policy});
    ASSERT_TRUE(r.ok()) << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2U) << r.out;
    EXPECT_THAT(words_of(lines[0]),
                ElementsAre("NAME", "ACCEPTED", "TARGETS", "PODS", "AGE"));
    EXPECT_EQ(words_of(lines[1]).at(0), policy);
  }
  // The category lists both kinds.
  auto all = home({"get", "mca", "-o", "name"});
  ASSERT_TRUE(all.ok()) << all.err;
  const auto names = lines_of(all.out);
  EXPECT_THAT(names,
              ::testing::Contains("clustertarget.mca.x-k8s.io/" + target));
  EXPECT_THAT(names,
              ::testing::Contains("routingpolicy.mca.x-k8s.io/" + policy));
}

TEST_F(crd, StatusIsWrittenOnlyThroughItsSubresourceAndShownInColumns) {
  const auto target = unique_name("status");
  const auto policy = unique_name("status");
  // A status in the main resource's body is dropped.
  auto with_status = object("ClusterTarget", target,
                            {{"server", "https://east.example.com"},
                             {"credentials", {{"local", json::object()}}}});
  with_status["status"] = {{"version", "v0.0.1"}};
  ASSERT_TRUE(apply(with_status).ok());
  EXPECT_FALSE(get("clustertargets.mca.x-k8s.io", target).contains("status"));
  ASSERT_TRUE(
      apply(object("RoutingPolicy", policy, {{"podSelector", json::object()}}))
          .ok());

  const auto condition = [](const char* type) {
    return json{{"type", type},
                {"status", "True"},
                {"reason", "Probed"},
                {"message", "ok"},
                {"lastTransitionTime", "2026-01-01T00:00:00Z"},
                {"observedGeneration", 1}};
  };
  const json target_status = {
      {"status",
       {{"conditions", {condition("Ready"), condition("CredentialsResolved")}},
        {"version", "v1.37.2"},
        {"lastProbeTime", "2026-01-01T00:00:00Z"},
        {"observedGeneration", 1}}}};
  auto r = home({"patch", "clustertarget.mca.x-k8s.io", target,
                 "--subresource=status", "--type=merge", "-p",
                 target_status.dump()});
  ASSERT_TRUE(r.ok()) << r.err;
  const json policy_status = {{"status",
                               {{"conditions", {condition("Accepted")}},
                                {"selectedPods", 3},
                                {"targets", "east,west,home"},
                                {"observedGeneration", 1}}}};
  r = home({"patch", "routingpolicy.mca.x-k8s.io", policy,
            "--subresource=status", "--type=merge", "-p",
            policy_status.dump()});
  ASSERT_TRUE(r.ok()) << r.err;

  r = home({"get", "ct", target, "--no-headers"});
  ASSERT_TRUE(r.ok()) << r.err;
  auto row = words_of(r.out);
  ASSERT_EQ(row.size(), 5U) << r.out;
  EXPECT_EQ(row[2], "True");
  EXPECT_EQ(row[3], "v1.37.2");
  r = home({"get", "rp", policy, "--no-headers"});
  ASSERT_TRUE(r.ok()) << r.err;
  row = words_of(r.out);
  ASSERT_EQ(row.size(), 5U) << r.out;
  EXPECT_EQ(row[1], "True");
  EXPECT_EQ(row[2], "east,west,home");
  EXPECT_EQ(row[3], "3");

  // The status is validated too: condition status is True, False or Unknown.
  const json bad = {{"status",
                     {{"conditions",
                       {{{"type", "Ready"},
                         {"status", "Yes"},
                         {"reason", "Probed"},
                         {"message", "ok"},
                         {"lastTransitionTime", "2026-01-01T00:00:00Z"}}}}}}};
  r = home({"patch", "clustertarget.mca.x-k8s.io", target,
            "--subresource=status", "--type=merge", "-p", bad.dump()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, invalid_message("ClusterTarget", target,
                                   {"status.conditions[0].status: Unsupported "
                                    "value: \"Yes\": supported values: "
                                    "\"True\", \"False\", \"Unknown\"",
                                    rules_not_checked}));
}

TEST_F(crd, InvalidUpdateIsRefusedAndTheStoredSpecKept) {
  const auto policy = unique_name("update");
  const json spec = {{"podSelector", json::object()},
                     {"rules", {{{"name", "to-east"}, {"target", "east"}}}}};
  ASSERT_TRUE(apply(object("RoutingPolicy", policy, spec)).ok());

  json changed = spec;
  changed["rules"][0]["reject"] = {{"message", "no"}};
  auto r = home({"apply", "-f", "-"},
                object("RoutingPolicy", policy, changed).dump());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, invalid_message("RoutingPolicy", policy,
                                   {"spec.rules[0]: Invalid value: exactly "
                                    "one of target, targets, reject must be "
                                    "set"}));
  const auto stored = get("routingpolicies.mca.x-k8s.io", policy);
  EXPECT_EQ(stored["spec"]["rules"],
            json::array({{{"name", "to-east"}, {"target", "east"}}}));
}

TEST_F(crd, FanOutRulesAreStoredAsWritten) {
  const auto policy = unique_name("fanout");
  const json rules = {{{"name", "spread"},
                       {"match", {{"verbs", {"list", "watch", "create"}}}},
                       {"targets", {"east", "west"}},
                       {"partial", "allow"},
                       {"writeTarget", "west"}},
                      // partial has no default: it would be refused on
                      // target and reject rules.
                      {{"name", "strict"}, {"targets", {"west", "east"}}},
                      {{"name", "one"}, {"target", "home"}}};
  // Strict: kubectl fails on any field the schema does not know.
  auto r = home({"apply", "--validate=strict", "-f", "-"},
                object("RoutingPolicy", policy,
                       {{"podSelector", json::object()}, {"rules", rules}})
                    .dump());
  ASSERT_TRUE(r.ok()) << r.err;
  remember("RoutingPolicy", policy);
  EXPECT_EQ(get("routingpolicies.mca.x-k8s.io", policy)["spec"]["rules"],
            rules);
}

TEST_F(crd, UnknownCredentialKindIsRefused) {
  const auto target = unique_name("kubeconfig");
  auto r = home({"apply", "--validate=strict", "-f", "-"},
                object("ClusterTarget", target,
                       {{"server", "https://east.example.com"},
                        {"credentials", {{"kubeconfig", {{"name", "x"}}}}}})
                    .dump());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err,
            "Error from server (BadRequest): error when creating \"STDIN\": "
            "ClusterTarget in version \"v1alpha1\" cannot be handled as a "
            "ClusterTarget: strict decoding error: unknown field "
            "\"spec.credentials.kubeconfig\"\n");
}

// 256 rules with full matches: within the schema's bounds and the API
// server's CEL cost budget at run time.
TEST_F(crd, APolicyAtTheRuleLimitIsAccepted) {
  const auto policy = unique_name("limits");
  json rules = json::array();
  for (int i = 0; i < 256; ++i) {
    rules.push_back(
        {{"name", "rule-" + std::to_string(i)},
         {"match",
          {{"verbs",
            {"get", "list", "watch", "create", "update", "patch", "delete",
             "deletecollection"}},
           {"resources",
            {{{"group", ""}, {"resource", "configmaps"}},
             {{"group", "apps"},
              {"resource", "deployments"},
              {"subresource", "scale"}},
             {{"group", "*"}, {"resource", "*"}, {"subresource", ""}}}},
           {"namespaces",
            {"team-*", "team-?", "kube-system", "a.b.c", "*-prod", "x*y?z", "*",
             "ns-" + std::to_string(i)}},
           {"names", {"cm-*", "?", "name.with.dots", "*"}},
           {"labelSelector",
            {{"matchLabels",
              {{"region", "east"}, {"mca.x-k8s.io/tier", "gold_1.0-x"}}},
             {"matchExpressions",
              {{{"key", "app"}, {"operator", "In"}, {"values", {"a", "b"}}},
               {{"key", "legacy"}, {"operator", "DoesNotExist"}}}}}},
           {"annotations", {{"example.com/owner", "team a"}}},
           {"userAgent", "kubectl/*"}}},
         {"target", i % 2 == 0 ? "east" : "west"}});
  }
  // create, not apply: the last-applied annotation would pass its size limit.
  auto r = home({"create", "-f", "-"},
                object("RoutingPolicy", policy,
                       {{"podSelector", json::object()}, {"rules", rules}})
                    .dump());
  ASSERT_TRUE(r.ok()) << r.err;
  remember("RoutingPolicy", policy);
  EXPECT_EQ(get("routingpolicies.mca.x-k8s.io", policy)["spec"]["rules"].size(),
            256U);

  rules.push_back({{"name", "one-too-many"}, {"target", "east"}});
  const auto over = unique_name("limits");
  r = home({"create", "-f", "-"},
           object("RoutingPolicy", over,
                  {{"podSelector", json::object()}, {"rules", rules}})
               .dump());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, invalid_message("RoutingPolicy", over,
                                   {"spec.rules: Too many: 257: must have at "
                                    "most 256 items",
                                    rules_not_checked}));
}

// 256 fan-out rules of 16 long target names each: the per-name rules run
// 4096 times, still within the API server's CEL cost budget.
TEST_F(crd, AFanOutPolicyAtTheTargetLimitIsAccepted) {
  const auto policy = unique_name("limits");
  json rules = json::array();
  for (int i = 0; i < 256; ++i) {
    json targets = json::array();
    for (int t = 0; t < 16; ++t) {
      const std::string prefix = "target-" + std::to_string(t) + "-";
      targets.push_back(prefix + std::string(63 - prefix.size(), 'x'));
    }
    rules.push_back({{"name", "rule-" + std::to_string(i)},
                     {"targets", targets},
                     {"partial", i % 2 == 0 ? "allow" : "deny"},
                     {"writeTarget", targets.back()}});
  }
  ASSERT_EQ(rules[0]["targets"][0].get<std::string>().size(), 63U);
  auto r = home({"create", "-f", "-"},
                object("RoutingPolicy", policy,
                       {{"podSelector", json::object()}, {"rules", rules}})
                    .dump());
  ASSERT_TRUE(r.ok()) << r.err;
  remember("RoutingPolicy", policy);
  EXPECT_EQ(get("routingpolicies.mca.x-k8s.io", policy)["spec"]["rules"],
            rules);
}

// ---------------------------------------------------------------- refusals

struct refusal {
  std::string label;  // the test's name
  std::string kind;
  json spec;
  std::vector<std::string> errors;  // as kubectl lists them, in its order
  std::string name_suffix;          // appended to the object's unique name
};

// gtest's name for printing a parameter.
// NOLINTNEXTLINE(readability-identifier-naming)
void PrintTo(const refusal& r, std::ostream* os) { *os << r.label; }

constexpr const char* glob_message =
    "must be a glob of lowercase letters, digits, '.', '-', '*' and '?'";
constexpr const char* one_credential_message =
    "spec.credentials: Invalid value: exactly one of local, secretRef, "
    "tokenSecretRef, clientCertificateSecretRef, tokenRequest must be set";
constexpr const char* one_action_message =
    "spec.rules[0]: Invalid value: exactly one of target, targets, reject "
    "must be set";
constexpr const char* secret_name_message =
    "must be a Secret name: a DNS subdomain of lowercase letters, digits, '-' "
    "and '.'";

json local() { return {{"local", json::object()}}; }

json target_spec(const json& extra) {
  json spec = {{"server", "https://east.example.com"},
               {"credentials", local()}};
  if (!extra.is_null()) spec.update(extra);  // `{}` reaches here as null
  return spec;
}

json policy_spec(const json& rule) {
  return {{"podSelector", json::object()}, {"rules", json::array({rule})}};
}

json selector_with(json expression) {
  return {{"matchExpressions", json::array({std::move(expression)})}};
}

std::vector<refusal> refusals() {
  return {
      // ClusterTarget
      {"ServerIsNotHttps",
       "ClusterTarget",
       target_spec({{"server", "http://east.example.com"}}),
       {"spec.server: Invalid value: \"http://east.example.com\": must be an "
        "https:// URL with a host"},
       ""},
      {"ServerHasNoHost",
       "ClusterTarget",
       target_spec({{"server", "https://"}}),
       {"spec.server: Invalid value: \"https://\": must be an https:// URL "
        "with a host"},
       ""},
      {"ServerIsMissing",
       "ClusterTarget",
       {{"credentials", local()}},
       {"spec.server: Required value", rules_not_checked},
       ""},
      {"ServerIsTooLong",
       "ClusterTarget",
       target_spec({{"server", "https://" + std::string(2041, 'a')}}),
       {"spec.server: Too long: may not be more than 2048 bytes",
        rules_not_checked},
       ""},
      {"NameIsNotADnsLabel",
       "ClusterTarget",
       target_spec({}),
       {"metadata.name: Invalid value: must be a DNS label: at most 63 "
        "lowercase letters, digits and '-', starting and ending with a letter "
        "or digit"},
       ".east"},
      {"NoCredentials",
       "ClusterTarget",
       target_spec({{"credentials", json::object()}}),
       {one_credential_message},
       ""},
      {"TwoCredentials",
       "ClusterTarget",
       target_spec({{"credentials",
                     {{"local", json::object()},
                      {"tokenSecretRef", {{"name", "east-token"}}}}}}),
       {one_credential_message},
       ""},
      {"CaBundleWithCaSecretRefAndInsecure",
       "ClusterTarget",
       target_spec({{"caBundle", "aGVsbG8="},
                    {"caSecretRef", {{"name", "east-ca"}}},
                    {"insecureSkipTLSVerify", true}}),
       {"spec: Invalid value: at most one of caBundle, caSecretRef may be set",
        "spec: Invalid value: insecureSkipTLSVerify cannot be true together "
        "with caBundle or caSecretRef"},
       ""},
      {"InsecureWithCaSecretRef",
       "ClusterTarget",
       target_spec({{"caSecretRef", {{"name", "east-ca"}}},
                    {"insecureSkipTLSVerify", true}}),
       {"spec: Invalid value: insecureSkipTLSVerify cannot be true together "
        "with caBundle or caSecretRef"},
       ""},
      {"CaBundleIsNotBase64",
       "ClusterTarget",
       target_spec({{"caBundle", "not base64!"}}),
       {"spec.caBundle: Invalid value: \"not base64!\": spec.caBundle in body "
        "must be of type byte: \"not base64!\"",
        rules_not_checked},
       ""},
      {"KubeconfigSecretNameIsNotADnsSubdomain",
       "ClusterTarget",
       target_spec(
           {{"credentials", {{"secretRef", {{"name", "East_Kubeconfig"}}}}}}),
       {std::string("spec.credentials.secretRef.name: Invalid value: "
                    "\"East_Kubeconfig\": ") +
        secret_name_message},
       ""},
      {"ClientCertificateSecretNameIsNotADnsSubdomain",
       "ClusterTarget",
       target_spec({{"credentials",
                     {{"clientCertificateSecretRef", {{"name", "-tls"}}}}}}),
       {std::string("spec.credentials.clientCertificateSecretRef.name: "
                    "Invalid value: \"-tls\": ") +
        secret_name_message},
       ""},
      {"TokenRequestWithoutNamespace",
       "ClusterTarget",
       target_spec(
           {{"credentials", {{"tokenRequest", {{"serviceAccount", "mca"}}}}}}),
       {"spec.credentials.tokenRequest.namespace: Required value",
        rules_not_checked},
       ""},
      {"TokenRequestExpiresTooSoon",
       "ClusterTarget",
       target_spec({{"credentials",
                     {{"tokenRequest",
                       {{"serviceAccount", "mca"},
                        {"namespace", "mca"},
                        {"expirationSeconds", 599}}}}}}),
       {"spec.credentials.tokenRequest.expirationSeconds: Invalid value: 599: "
        "spec.credentials.tokenRequest.expirationSeconds in body should be "
        "greater than or equal to 600"},
       ""},
      {"TokenRequestExpiresTooLate",
       "ClusterTarget",
       target_spec({{"credentials",
                     {{"tokenRequest",
                       {{"serviceAccount", "mca"},
                        {"namespace", "mca"},
                        {"expirationSeconds", 86401}}}}}}),
       {"spec.credentials.tokenRequest.expirationSeconds: Invalid value: "
        "86401: spec.credentials.tokenRequest.expirationSeconds in body should "
        "be less than or equal to 86400"},
       ""},
      {"AllowedNamespacesEmpty",
       "ClusterTarget",
       target_spec({{"allowedNamespaces", json::object()}}),
       {"spec.allowedNamespaces: Invalid value: at least one of names, "
        "selector must be set"},
       ""},
      {"AllowedNamespaceNameIsNotADnsLabel",
       "ClusterTarget",
       target_spec({{"allowedNamespaces", {{"names", {"team-a", "Team_B"}}}}}),
       {"spec.allowedNamespaces.names[1]: Invalid value: \"Team_B\": must be a "
        "namespace name: a DNS label of lowercase letters, digits and '-'"},
       ""},
      {"SelectorInWithoutValues",
       "ClusterTarget",
       target_spec({{"allowedNamespaces",
                     {{"selector", selector_with({{"key", "team"},
                                                  {"operator", "In"}})}}}}),
       {"spec.allowedNamespaces.selector.matchExpressions[0]: Invalid value: "
        "values must be non-empty when operator is In or NotIn"},
       ""},
      {"SelectorExistsWithValues",
       "ClusterTarget",
       target_spec({{"allowedNamespaces",
                     {{"selector", selector_with({{"key", "team"},
                                                  {"operator", "Exists"},
                                                  {"values", {"a"}}})}}}}),
       {"spec.allowedNamespaces.selector.matchExpressions[0]: Invalid value: "
        "values must be empty when operator is Exists or DoesNotExist"},
       ""},
      // RoutingPolicy
      {"RuleWithTargetAndReject",
       "RoutingPolicy",
       policy_spec({{"name", "both"},
                    {"target", "east"},
                    {"reject", {{"message", "no"}}}}),
       {one_action_message},
       ""},
      {"RuleWithoutAction",
       "RoutingPolicy",
       policy_spec({{"name", "none"}, {"match", {{"verbs", {"get"}}}}}),
       {one_action_message},
       ""},
      {"RuleWithoutName",
       "RoutingPolicy",
       policy_spec({{"target", "east"}}),
       {"spec.rules[0].name: Required value", rules_not_checked},
       ""},
      {"RuleNamesRepeat",
       "RoutingPolicy",
       {{"podSelector", json::object()},
        {"rules",
         {{{"name", "same"}, {"target", "east"}},
          {{"name", "same"}, {"target", "west"}}}}},
       {R"(spec.rules[1]: Duplicate value: {"name":"same"})"},
       ""},
      {"RuleNameIsNotADnsLabel",
       "RoutingPolicy",
       policy_spec({{"name", "To_East"}, {"target", "east"}}),
       {"spec.rules[0].name: Invalid value: \"To_East\": must be a DNS label: "
        "lowercase letters, digits and '-', starting and ending with a letter "
        "or digit"},
       ""},
      {"NamespaceGlobHasUppercase",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"match", {{"namespaces", {"team-*", "Team-?"}}}},
                    {"target", "east"}}),
       {std::string("spec.rules[0].match.namespaces[1]: Invalid value: "
                    "\"Team-?\": ") +
        glob_message},
       ""},
      {"NameGlobHasSlash",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"match", {{"names", {"cm/*"}}}},
                    {"target", "east"}}),
       {std::string("spec.rules[0].match.names[0]: Invalid value: "
                    "\"cm/*\": ") +
        glob_message},
       ""},
      {"NameGlobIsTooLong",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"match", {{"names", {std::string(254, 'a')}}}},
                    {"target", "east"}}),
       {"spec.rules[0].match.names[0]: Too long: may not be more than 253 "
        "bytes",
        rules_not_checked},
       ""},
      {"NamespacesEmpty",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"match", {{"namespaces", json::array()}}},
                    {"target", "east"}}),
       {"spec.rules[0].match.namespaces: Invalid value: 0: "
        "spec.rules[0].match.namespaces in body should have at least 1 items"},
       ""},
      {"UnknownVerb",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"match", {{"verbs", {"get", "connect"}}}},
                    {"target", "east"}}),
       {"spec.rules[0].match.verbs[1]: Unsupported value: \"connect\": "
        "supported values: \"get\", \"list\", \"watch\", \"create\", "
        "\"update\", \"patch\", \"delete\", \"deletecollection\"",
        rules_not_checked},
       ""},
      {"VerbRepeated",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"match", {{"verbs", {"get", "get"}}}},
                    {"target", "east"}}),
       {"spec.rules[0].match.verbs[1]: Duplicate value: \"get\""},
       ""},
      {"ResourceGroupIsAVersion",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"match",
                     {{"resources",
                       {{{"group", "apps/v1"}, {"resource", "deployments"}}}}}},
                    {"target", "east"}}),
       {"spec.rules[0].match.resources[0].group: Invalid value: \"apps/v1\": "
        "spec.rules[0].match.resources[0].group in body should match "
        "'^([*]|[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?"
        ")*)?$'"},
       ""},
      {"ResourceIsAKind",
       "RoutingPolicy",
       policy_spec(
           {{"name", "r"},
            {"match",
             {{"resources", {{{"group", ""}, {"resource", "ConfigMap"}}}}}},
            {"target", "east"}}),
       {"spec.rules[0].match.resources[0].resource: Invalid value: "
        "\"ConfigMap\": must be \"*\" or a resource's plural name: lowercase "
        "letters, digits and '-'"},
       ""},
      {"ResourceWithoutName",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"match", {{"resources", {{{"group", "apps"}}}}}},
                    {"target", "east"}}),
       {"spec.rules[0].match.resources[0].resource: Required value",
        rules_not_checked},
       ""},
      {"RuleSelectorExistsWithValues",
       "RoutingPolicy",
       policy_spec(
           {{"name", "r"},
            {"match",
             {{"labelSelector", selector_with({{"key", "region"},
                                               {"operator", "DoesNotExist"},
                                               {"values", {"east"}}})}}},
            {"target", "east"}}),
       {"spec.rules[0].match.labelSelector.matchExpressions[0]: Invalid value: "
        "values must be empty when operator is Exists or DoesNotExist"},
       ""},
      {"RuleSelectorLabelKeyHasSpace",
       "RoutingPolicy",
       policy_spec(
           {{"name", "r"},
            {"match",
             {{"labelSelector", {{"matchLabels", {{"my region", "east"}}}}}}},
            {"target", "east"}}),
       {"spec.rules[0].match.labelSelector.matchLabels: Invalid value: keys "
        "must be label keys: an optional DNS subdomain and '/', then at most "
        "63 letters, digits, '-', '_' and '.', starting and ending with a "
        "letter or digit"},
       ""},
      {"UserAgentEmpty",
       "RoutingPolicy",
       policy_spec(
           {{"name", "r"}, {"match", {{"userAgent", ""}}}, {"target", "east"}}),
       {"spec.rules[0].match.userAgent: Invalid value: \"\": "
        "spec.rules[0].match.userAgent in body should be at least 1 chars "
        "long"},
       ""},
      {"TargetIsNotADnsLabel",
       "RoutingPolicy",
       policy_spec({{"name", "r"}, {"target", "East"}}),
       {"spec.rules[0].target: Invalid value: \"East\": must be a "
        "ClusterTarget name: a DNS label of lowercase letters, digits and '-'"},
       ""},
      {"RuleWithTargetAndTargets",
       "RoutingPolicy",
       policy_spec({{"name", "both"},
                    {"target", "east"},
                    {"targets", {"east", "west"}}}),
       {one_action_message},
       ""},
      {"RuleWithTargetsAndReject",
       "RoutingPolicy",
       policy_spec({{"name", "both"},
                    {"targets", {"east", "west"}},
                    {"reject", {{"message", "no"}}}}),
       {one_action_message},
       ""},
      {"FanOutToOneTarget",
       "RoutingPolicy",
       policy_spec({{"name", "r"}, {"targets", {"east"}}}),
       {"spec.rules[0].targets: Invalid value: 1: spec.rules[0].targets in "
        "body should have at least 2 items"},
       ""},
      {"FanOutToSeventeenTargets",
       "RoutingPolicy",
       policy_spec(
           {{"name", "r"},
            {"targets",
             {"t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10",
              "t11", "t12", "t13", "t14", "t15", "t16", "t17"}}}),
       {"spec.rules[0].targets: Too many: 17: must have at most 16 items",
        rules_not_checked},
       ""},
      {"FanOutTargetRepeated",
       "RoutingPolicy",
       policy_spec({{"name", "r"}, {"targets", {"east", "west", "east"}}}),
       {"spec.rules[0].targets[2]: Duplicate value: \"east\""},
       ""},
      {"FanOutTargetIsNotADnsLabel",
       "RoutingPolicy",
       policy_spec({{"name", "r"}, {"targets", {"east", "West"}}}),
       {"spec.rules[0].targets[1]: Invalid value: \"West\": must be a "
        "ClusterTarget name: a DNS label of lowercase letters, digits and '-'"},
       ""},
      {"WriteTargetNotAmongTargets",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"targets", {"east", "west"}},
                    {"writeTarget", "home"}}),
       {"spec.rules[0].writeTarget: Invalid value: must be one of targets"},
       ""},
      {"WriteTargetWithoutTargets",
       "RoutingPolicy",
       policy_spec(
           {{"name", "r"}, {"target", "east"}, {"writeTarget", "east"}}),
       {"spec.rules[0].writeTarget: Invalid value: is only allowed with "
        "targets"},
       ""},
      {"PartialWithoutTargets",
       "RoutingPolicy",
       policy_spec({{"name", "r"},
                    {"reject", {{"message", "no"}}},
                    {"partial", "deny"}}),
       {"spec.rules[0].partial: Invalid value: is only allowed with targets"},
       ""},
      {"PartialIsNeitherDenyNorAllow",
       "RoutingPolicy",
       policy_spec(
           {{"name", "r"}, {"targets", {"east", "west"}}, {"partial", "some"}}),
       {"spec.rules[0].partial: Unsupported value: \"some\": supported "
        "values: \"deny\", \"allow\"",
        rules_not_checked},
       ""},
      {"RejectCodeIsNotAnError",
       "RoutingPolicy",
       policy_spec(
           {{"name", "r"}, {"reject", {{"code", 302}, {"message", "moved"}}}}),
       {"spec.rules[0].reject.code: Invalid value: 302: "
        "spec.rules[0].reject.code in body should be greater than or equal to "
        "400"},
       ""},
      {"RejectCodeIsPast599",
       "RoutingPolicy",
       policy_spec(
           {{"name", "r"}, {"reject", {{"code", 600}, {"message", "no"}}}}),
       {"spec.rules[0].reject.code: Invalid value: 600: "
        "spec.rules[0].reject.code in body should be less than or equal to "
        "599"},
       ""},
      {"RejectWithoutMessage",
       "RoutingPolicy",
       policy_spec({{"name", "r"}, {"reject", {{"code", 404}}}}),
       {"spec.rules[0].reject.message: Required value", rules_not_checked},
       ""},
      {"PodSelectorMissing",
       "RoutingPolicy",
       {{"defaultTarget", "home"}},
       {"spec.podSelector: Required value", rules_not_checked},
       ""},
      {"PodSelectorNotInWithoutValues",
       "RoutingPolicy",
       {{"podSelector", selector_with({{"key", "app"},
                                       {"operator", "NotIn"},
                                       {"values", json::array()}})}},
       {"spec.podSelector.matchExpressions[0]: Invalid value: values must be "
        "non-empty when operator is In or NotIn"},
       ""},
      {"PodSelectorLabelValueTooLong",
       "RoutingPolicy",
       {{"podSelector", {{"matchLabels", {{"app", std::string(64, 'a')}}}}}},
       {"spec.podSelector.matchLabels.app: Too long: may not be more than 63 "
        "bytes",
        rules_not_checked},
       ""},
      {"DefaultTargetIsNotADnsLabel",
       "RoutingPolicy",
       {{"podSelector", json::object()}, {"defaultTarget", "home.cluster"}},
       {"spec.defaultTarget: Invalid value: \"home.cluster\": must be a "
        "ClusterTarget name: a DNS label of lowercase letters, digits and '-'"},
       ""},
      {"UnknownFailureMode",
       "RoutingPolicy",
       {{"podSelector", json::object()}, {"failureMode", "FailOpen"}},
       {"spec.failureMode: Unsupported value: \"FailOpen\": supported values: "
        "\"FailClosed\", \"LocalPassthrough\"",
        rules_not_checked},
       ""},
      {"PriorityPastInt32",
       "RoutingPolicy",
       {{"podSelector", json::object()}, {"priority", 2147483648}},
       // The API server's own wording for a number outside int32.
       {"<nil>: Invalid value: \"\": Checked value must be of type integer "
        "with format int32 in spec.priority"},
       ""},
  };
}

class InvalidObject : public crd,
                      public ::testing::WithParamInterface<refusal> {};

TEST_P(InvalidObject, IsRefusedWithItsMessage) {
  const auto& c = GetParam();
  const auto name = unique_name("invalid") + c.name_suffix;
  auto r = apply(object(c.kind, name, c.spec));
  EXPECT_NE(r.exit_code, 0) << "admitted: " << c.spec.dump();
  EXPECT_EQ(r.err, invalid_message(c.kind, name, c.errors));
}

INSTANTIATE_TEST_SUITE_P(crd, InvalidObject, ::testing::ValuesIn(refusals()),
                         [](const auto& test) { return test.param.label; });

}  // namespace
}  // namespace mca::test
