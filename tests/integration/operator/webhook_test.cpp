// The sidecar-injection webhook and the CA manager against a real API
// server: `home` calls a real mca-operator process at
// https://127.0.0.1:PORT/mutate, trusting only the caBundle the operator
// applied to the MutatingWebhookConfiguration itself.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/tls/certificate_authority.hpp"
#include "common/util/base64.hpp"
#include "support/operator_process.hpp"
#include "support/testenv.hpp"

namespace mca::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::chrono_literals;

template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return condition();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// One operator (its own namespace, Lease and Secret) and one webhook
// configuration that sends it pod creations from the given app namespaces
// only, so nothing else on `home` depends on this operator being up.
class injector_setup {
 public:
  injector_setup(testenv& env, const std::string& prefix,
                 const std::string& certificates_yaml,
                 std::vector<std::string> app_namespaces)
      : env_(env),
        ns_(unique_name(prefix)),
        webhook_name_(ns_ + "-injector"),
        app_namespaces_(std::move(app_namespaces)),
        dir_(fs::temp_directory_path() / ns_) {
    fs::create_directories(dir_);
    // The operator's informers need the CRDs to be served.
    kubectl_ok({"apply", "--server-side", "--force-conflicts", "-f",
                std::string(MCA_SOURCE_DIR) + "/crds/"});
    kubectl_ok({"wait", "--for=condition=Established", "--timeout=60s",
                "crd/clustertargets.mca.x-k8s.io",
                "crd/routingpolicies.mca.x-k8s.io"});
    kubectl_ok({"create", "namespace", ns_});
    for (const auto& app : app_namespaces_) {
      kubectl_ok({"create", "namespace", app});
    }
    std::ofstream(dir_ / "config.yaml")
        << "injection:\n  image: registry.example/mca-sidecar:test\n"
           "webhook:\n  configurationName: "
        << webhook_name_ << "\ncertificates:\n  extraIPAddresses: [127.0.0.1]\n"
        << certificates_yaml;
    operator_process::options o;
    o.kubeconfig = env_.at("home").kubeconfig;
    o.namespace_name = ns_;
    o.config_file = dir_ / "config.yaml";
    o.log_file = dir_ / "operator.log";
    o.identity = ns_ + "-0";
    operator_ = operator_process::start(o);

    json app_list = json::array();
    for (const auto& app : app_namespaces_) app_list.push_back(app);
    const json configuration{
        {"apiVersion", "admissionregistration.k8s.io/v1"},
        {"kind", "MutatingWebhookConfiguration"},
        {"metadata", {{"name", webhook_name_}}},
        {"webhooks",
         {{{"name", "inject.mca.k8s.io"},
           {"admissionReviewVersions", {"v1"}},
           {"sideEffects", "NoneOnDryRun"},
           {"failurePolicy", "Fail"},
           {"reinvocationPolicy", "IfNeeded"},
           {"timeoutSeconds", 10},
           {"clientConfig",
            {{"url",
              "https://127.0.0.1:" + std::to_string(operator_.webhook_port()) +
                  "/mutate"}}},
           {"rules",
            {{{"apiGroups", {""}},
              {"apiVersions", {"v1"}},
              {"operations", {"CREATE"}},
              {"resources", {"pods"}},
              {"scope", "Namespaced"}}}},
           {"namespaceSelector",
            {{"matchExpressions",
              {{{"key", "kubernetes.io/metadata.name"},
                {"operator", "In"},
                {"values", app_list}}}}}},
           {"objectSelector",
            {{"matchLabels", {{"mca.k8s.io/inject", "true"}}}}}}}}};
    kubectl_ok({"create", "-f", "-"}, configuration.dump());
    // The operator sees the configuration and applies its caBundle.
    EXPECT_TRUE(eventually([&] { return !webhook_ca_bundle().empty(); }, 20s))
        << operator_.process().output();
  }

  ~injector_setup() {
    env_.kubectl("home", {"delete", "mutatingwebhookconfiguration",
                          webhook_name_, "--ignore-not-found"});
    for (const auto& app : app_namespaces_) {
      env_.kubectl("home", {"-n", app, "delete", "pods,configmaps", "--all",
                            "--wait=false"});
    }
    env_.kubectl("home", {"-n", ns_, "delete", "secrets,leases", "--all",
                          "--wait=false"});
  }

  process::process_result kubectl(std::vector<std::string> args,
                                  const std::string& in = {}) {
    return env_.kubectl("home", std::move(args), in);
  }
  process::process_result kubectl_ok(std::vector<std::string> args,
                                     const std::string& in = {}) {
    auto r = env_.kubectl("home", args, in);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r;
  }

  // caBundle of the first webhook entry, decoded ("" when unset).
  std::string webhook_ca_bundle() {
    auto r = kubectl({"get", "mutatingwebhookconfiguration", webhook_name_,
                      "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"});
    auto decoded = util::base64_decode(trim(r.out));
    return decoded ? *decoded : std::string();
  }

  // A key of the operator's certificate Secret, decoded.
  std::string secret_data(const std::string& key) {
    std::string escaped;
    for (char c : key) {
      if (c == '.') escaped += '\\';
      escaped += c;
    }
    auto r = kubectl({"-n", ns_, "get", "secret", "mca-operator-certs", "-o",
                      "jsonpath={.data." + escaped + "}"});
    auto decoded = util::base64_decode(trim(r.out));
    return decoded ? *decoded : std::string();
  }

  static json pod(const std::string& name, bool labelled) {
    json container{{"name", "app"}, {"image", "app:1"}};
    container["env"] = json::array(
        {json{{"name", "KUBERNETES_SERVICE_HOST"}, {"value", "10.0.0.1"}}});
    json p{{"apiVersion", "v1"}, {"kind", "Pod"}};
    p["metadata"]["name"] = name;
    p["spec"]["containers"] = json::array({container});
    if (labelled) p["metadata"]["labels"] = {{"mca.k8s.io/inject", "true"}};
    return p;
  }

  testenv& env_;
  std::string ns_;
  std::string webhook_name_;
  std::vector<std::string> app_namespaces_;
  fs::path dir_;
  operator_process operator_;
};

class Webhook : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    env_ = new testenv(testenv::load(error));
    ASSERT_TRUE(error.empty()) << error;
    app_ = new std::string(unique_name("mca-wh-app"));
    dry_ = new std::string(unique_name("mca-wh-dry"));
    setup_ = new injector_setup(*env_, "mca-wh", "", {*app_, *dry_});
  }
  static void TearDownTestSuite() {
    delete setup_;
    delete env_;
  }

  static json get_pod(const std::string& ns, const std::string& name) {
    auto r = setup_->kubectl_ok({"-n", ns, "get", "pod", name, "-o", "json"});
    return json::parse(r.out, nullptr, false);
  }

  static inline testenv* env_ = nullptr;
  static inline std::string* app_ = nullptr;
  static inline std::string* dry_ = nullptr;
  static inline injector_setup* setup_ = nullptr;
};

TEST_F(Webhook, TheOperatorAppliedItsCaBundleToTheConfiguration) {
  const std::string bundle = setup_->webhook_ca_bundle();
  EXPECT_EQ(bundle, setup_->secret_data("ca-bundle.crt"));
  EXPECT_THAT(bundle, HasSubstr("BEGIN CERTIFICATE"));
  // ... owned by the CA manager's own field manager.
  auto r = setup_->kubectl_ok({"get", "mutatingwebhookconfiguration",
                               setup_->webhook_name_, "--show-managed-fields",
                               "-o", "json"});
  EXPECT_THAT(r.out, HasSubstr("mca-operator-ca"));
}

TEST_F(Webhook, ALabelledPodIsStoredInjected) {
  setup_->kubectl_ok({"-n", *app_, "create", "-f", "-"},
                     injector_setup::pod("labelled", true).dump());
  const json p = get_pod(*app_, "labelled");
  ASSERT_TRUE(p.is_object());
  const json& init = p["spec"]["initContainers"];
  ASSERT_TRUE(init.is_array());
  ASSERT_EQ(init.size(), 1u) << p.dump(2);
  EXPECT_EQ(init[0]["name"], "mca-sidecar");
  EXPECT_EQ(init[0]["restartPolicy"], "Always");
  EXPECT_EQ(init[0]["image"], "registry.example/mca-sidecar:test");
  EXPECT_EQ(init[0]["securityContext"]["runAsNonRoot"], true);
  // The app's own KUBERNETES_SERVICE_HOST was overridden in place.
  const json& app = p["spec"]["containers"][0];
  std::set<std::string> env;
  for (const auto& e : app["env"]) {
    env.insert(e["name"].get<std::string>() + "=" +
               e.value("value", std::string()));
  }
  EXPECT_EQ(env, (std::set<std::string>{"KUBERNETES_SERVICE_HOST=127.0.0.1",
                                        "KUBERNETES_SERVICE_PORT=6443",
                                        "KUBERNETES_SERVICE_PORT_HTTPS=6443"}));
  bool mounted = false;
  for (const auto& m : app["volumeMounts"]) {
    if (m["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount") {
      mounted = m["name"] == "mca-api-access" && m.value("readOnly", false);
    }
  }
  EXPECT_TRUE(mounted) << app.dump(2);
  EXPECT_THAT(p["metadata"]["annotations"].value("mca.k8s.io/status", ""),
              HasSubstr("\"containers\":[\"app\"]"));
  // The sidecar's CA bundle is there before the pod could start.
  auto cm =
      setup_->kubectl_ok({"-n", *app_, "get", "configmap", "mca-ca-bundle",
                          "-o", "jsonpath={.data.ca\\.crt}"});
  EXPECT_EQ(cm.out, setup_->secret_data("ca-bundle.crt"));
}

// A pod re-created from its own stored (injected, defaulted) YAML passes
// through the webhook unchanged: still exactly one sidecar.
TEST_F(Webhook, APodReappliedFromItsOwnYamlKeepsOneSidecar) {
  setup_->kubectl_ok({"-n", *app_, "create", "-f", "-"},
                     injector_setup::pod("original", true).dump());
  json p = get_pod(*app_, "original");
  ASSERT_TRUE(p.is_object());
  json& meta = p["metadata"];
  for (const char* field :
       {"uid", "resourceVersion", "creationTimestamp", "managedFields"}) {
    meta.erase(field);
  }
  meta["name"] = "copy";
  p.erase("status");
  const std::string before = meta["annotations"]["mca.k8s.io/status"];
  setup_->kubectl_ok({"-n", *app_, "create", "-f", "-"}, p.dump());
  const json copy = get_pod(*app_, "copy");
  int sidecars = 0;
  for (const char* list : {"initContainers", "containers"}) {
    for (const auto& c : copy["spec"][list]) {
      if (c["name"] == "mca-sidecar") ++sidecars;
    }
  }
  EXPECT_EQ(sidecars, 1) << copy.dump(2);
  EXPECT_EQ(copy["metadata"]["annotations"]["mca.k8s.io/status"], before);
  EXPECT_EQ(copy["spec"]["initContainers"], p["spec"]["initContainers"]);
  EXPECT_EQ(copy["spec"]["volumes"], p["spec"]["volumes"]);
  // The webhook saw it and found nothing to do.
  EXPECT_THAT(setup_->operator_.admin_get("/metrics").body,
              HasSubstr("mca_webhook_admission_duration_seconds_count{result="
                        "\"unchanged\"} 1"));
}

TEST_F(Webhook, ADryRunReturnsTheMutationAndStoresNothing) {
  auto r = setup_->kubectl_ok(
      {"-n", *dry_, "create", "--dry-run=server", "-o", "json", "-f", "-"},
      injector_setup::pod("dry", true).dump());
  const json p = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(p.is_object()) << r.out;
  EXPECT_EQ(p["spec"]["initContainers"][0]["name"], "mca-sidecar");
  auto get = setup_->kubectl({"-n", *dry_, "get", "pod", "dry"});
  EXPECT_NE(get.exit_code, 0);
  EXPECT_THAT(get.err, HasSubstr("not found"));
  // Nor the ConfigMap: a dry run has no side effects.
  auto cm = setup_->kubectl({"-n", *dry_, "get", "configmap", "mca-ca-bundle"});
  EXPECT_NE(cm.exit_code, 0);
  EXPECT_THAT(cm.err, HasSubstr("not found"));
}

TEST_F(Webhook, AnUnlabelledPodIsLeftAlone) {
  setup_->kubectl_ok({"-n", *app_, "create", "-f", "-"},
                     injector_setup::pod("unlabelled", false).dump());
  const json p = get_pod(*app_, "unlabelled");
  EXPECT_FALSE(p["spec"].contains("initContainers")) << p.dump(2);
  EXPECT_EQ(p["spec"]["containers"][0]["env"][0]["value"], "10.0.0.1");
  EXPECT_FALSE(p["metadata"].contains("annotations"));
}

TEST_F(Webhook, AHostNetworkPodIsRefusedWithTheReason) {
  json p = injector_setup::pod("host-network", true);
  p["spec"]["hostNetwork"] = true;
  auto r = setup_->kubectl({"-n", *app_, "create", "-f", "-"}, p.dump());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("denied the request"));
  EXPECT_THAT(r.err, HasSubstr("hostNetwork"));
  EXPECT_THAT(r.err, HasSubstr("127.0.0.1:6443"));
}

TEST_F(Webhook, AnOptedOutPodIsLeftAlone) {
  json p = injector_setup::pod("opted-out", true);
  p["metadata"]["annotations"] = {{"mca.k8s.io/inject", "false"}};
  setup_->kubectl_ok({"-n", *app_, "create", "-f", "-"}, p.dump());
  EXPECT_FALSE(get_pod(*app_, "opted-out")["spec"].contains("initContainers"));
}

TEST_F(Webhook, AResetCaBundleIsRestored) {
  const std::string good = setup_->webhook_ca_bundle();
  ASSERT_FALSE(good.empty());
  const json reset = json::array(
      {{{"op", "replace"},
        {"path", "/webhooks/0/clientConfig/caBundle"},
        {"value", util::base64_encode("-----BEGIN CERTIFICATE-----\nAA==\n"
                                      "-----END CERTIFICATE-----\n")}}});
  setup_->kubectl_ok({"patch", "mutatingwebhookconfiguration",
                      setup_->webhook_name_, "--type=json", "-p",
                      reset.dump()});
  EXPECT_TRUE(
      eventually([&] { return setup_->webhook_ca_bundle() == good; }, 10s))
      << setup_->operator_.process().output();
  // And admission works again with it.
  EXPECT_TRUE(eventually(
      [&] {
        return setup_
                   ->kubectl({"-n", *app_, "create", "-f", "-"},
                             injector_setup::pod("after-reset", true).dump())
                   .exit_code == 0;
      },
      10s));
}

TEST_F(Webhook, MetricsCountAdmissions) {
  setup_->kubectl_ok({"-n", *app_, "create", "-f", "-"},
                     injector_setup::pod("counted", true).dump());
  auto metrics = setup_->operator_.admin_get("/metrics");
  EXPECT_THAT(metrics.body,
              HasSubstr("mca_webhook_admission_duration_seconds_count{result="
                        "\"injected\"}"));
  EXPECT_THAT(metrics.body, HasSubstr("mca_webhook_injections_total "));
  EXPECT_THAT(metrics.body,
              HasSubstr("mca_ca_expiry_timestamp_seconds{certificate=\"ca\"}"));
}

// A CA that lives 30 s: within a minute the operator adds a next CA, serves
// a leaf it signed once every bundle has it, and drops the old CA, while
// pods are created back to back. Not one admission may fail.
TEST(WebhookRotation, AFullCaRotationFailsNoAdmission) {
  std::string error;
  testenv env = testenv::load(error);
  ASSERT_TRUE(error.empty()) << error;
  const std::string app = unique_name("mca-rot-app");
  injector_setup setup(env, "mca-rot",
                       "  caLifetime: 30s\n  leafLifetime: 12s\n"
                       "  renewFraction: 0.5\n  caGracePeriod: 4s\n"
                       "  bundlePropagation: 2s\n",
                       {app});
  auto fingerprint = [](const std::string& pem) {
    auto facts = tls::inspect_certificate(pem);
    return facts ? facts->fingerprint : std::string();
  };
  const std::string first_ca = fingerprint(setup.secret_data("ca.crt"));
  ASSERT_FALSE(first_ca.empty());

  int created = 0;
  std::vector<std::string> failures;
  std::set<std::string> leaves;
  bool saw_two_cas = false, rotated = false, retired = false;
  const auto until = std::chrono::steady_clock::now() + 90s;
  int after_retire = 0;
  while (std::chrono::steady_clock::now() < until && after_retire < 10) {
    const std::string name = "p" + std::to_string(created);
    auto r = setup.kubectl({"-n", app, "create", "-f", "-"},
                           injector_setup::pod(name, true).dump());
    ++created;
    if (r.exit_code != 0) failures.push_back(name + ": " + r.err);
    const std::string bundle = setup.webhook_ca_bundle();
    auto certs = tls::split_certificates(bundle);
    const std::size_t in_bundle = certs ? certs->size() : 0;
    if (in_bundle >= 2) saw_two_cas = true;
    leaves.insert(fingerprint(setup.secret_data("tls.crt")));
    if (fingerprint(setup.secret_data("ca.crt")) != first_ca) rotated = true;
    if (rotated && saw_two_cas && in_bundle == 1) retired = true;
    if (retired) ++after_retire;
  }
  EXPECT_TRUE(failures.empty())
      << failures.size() << " of " << created
      << " admissions failed; first: " << failures.front();
  EXPECT_TRUE(saw_two_cas) << "the bundle never held old and new CA";
  EXPECT_TRUE(rotated) << "the signing CA never changed";
  EXPECT_TRUE(retired) << "the old CA was never dropped";
  EXPECT_GE(leaves.size(), 3u) << "leaf renewals seen: " << leaves.size();
  EXPECT_GE(after_retire, 10);
  // Sidecars' ConfigMap follows the bundle.
  EXPECT_TRUE(eventually(
      [&] {
        auto cm = setup.kubectl({"-n", app, "get", "configmap", "mca-ca-bundle",
                                 "-o", "jsonpath={.data.ca\\.crt}"});
        return cm.out == setup.secret_data("ca-bundle.crt");
      },
      10s));
  auto metrics = setup.operator_.admin_get("/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("mca_ca_rotation_steps_total{step="
                                      "\"promote_next_ca\"}"));
  EXPECT_THAT(metrics.body, HasSubstr("mca_ca_rotation_steps_total{step="
                                      "\"retire_previous_cas\"}"));
  std::cout << "rotation: " << created << " pods created, " << failures.size()
            << " admission failures, " << leaves.size()
            << " serving certificates\n";
}

}  // namespace
}  // namespace mca::test

namespace mca::test {
namespace {

// An operator whose identity may read everything but not create Secrets:
// it says so in /readyz (and its log), stays unready, and leaves no Secret
// or part of one behind.
TEST(WebhookBadInput, ASecretThatCannotBeCreatedIsReportedAndNothingIsWritten) {
  std::string error;
  testenv env = testenv::load(error);
  ASSERT_TRUE(error.empty()) << error;
  const std::string ns = unique_name("mca-nosecret");
  const fs::path dir = fs::temp_directory_path() / ns;
  fs::create_directories(dir);
  auto kubectl_ok = [&](std::vector<std::string> args,
                        const std::string& in = {}) {
    auto r = env.kubectl("home", std::move(args), in);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r;
  };
  kubectl_ok({"apply", "--server-side", "--force-conflicts", "-f",
              std::string(MCA_SOURCE_DIR) + "/crds/"});
  kubectl_ok({"create", "namespace", ns});
  kubectl_ok({"-n", ns, "create", "serviceaccount", "operator"});
  const json role{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                  {"kind", "ClusterRole"},
                  {"metadata", {{"name", ns}}},
                  {"rules",
                   {{{"apiGroups", {"*"}},
                     {"resources", {"*"}},
                     {"verbs", {"get", "list", "watch"}}},
                    {{"apiGroups", {"coordination.k8s.io"}},
                     {"resources", {"leases"}},
                     {"verbs", {"*"}}},
                    {{"apiGroups", {"authentication.k8s.io"}},
                     {"resources", {"tokenreviews"}},
                     {"verbs", {"create"}}}}}};
  kubectl_ok({"apply", "-f", "-"}, role.dump());
  kubectl_ok({"create", "clusterrolebinding", ns, "--clusterrole", ns,
              "--serviceaccount", ns + ":operator"});
  const std::string token =
      trim(kubectl_ok({"-n", ns, "create", "token", "operator"}).out);
  const cluster& home = env.at("home");
  std::ofstream(dir / "kubeconfig")
      << "apiVersion: v1\nkind: Config\nclusters:\n- name: home\n  cluster:\n"
      << "    server: " << home.server << "\n"
      << "    certificate-authority: " << home.ca_file.string() << "\n"
      << "users:\n- name: operator\n  user:\n    token: " << token << "\n"
      << "contexts:\n- name: home\n  context: {cluster: home, user: operator}\n"
      << "current-context: home\n";

  operator_process::options o;
  o.kubeconfig = dir / "kubeconfig";
  o.namespace_name = ns;
  o.log_file = dir / "operator.log";
  std::string why;
  try {
    operator_process p = operator_process::start(o);
  } catch (const std::exception& e) {
    why = e.what();
  }
  EXPECT_THAT(why, HasSubstr("never became ready"));
  EXPECT_THAT(why,
              HasSubstr("cannot create Secret " + ns + "/mca-operator-certs"));
  EXPECT_THAT(why, HasSubstr("forbidden"));
  EXPECT_THAT(why, ::testing::Not(HasSubstr(token)));
  auto secret = env.kubectl("home", {"-n", ns, "get", "secrets", "-o",
                                     "jsonpath={.items[*].metadata.name}"});
  EXPECT_EQ(secret.exit_code, 0) << secret.err;
  EXPECT_EQ(trim(secret.out), "");
  env.kubectl("home", {"delete", "clusterrolebinding,clusterrole", ns});
  env.kubectl("home", {"-n", ns, "delete", "leases,serviceaccounts", "--all"});
}

}  // namespace
}  // namespace mca::test
