#include "operator/inject/pod_injector.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/util/text_file.hpp"
#include "common/util/yaml_json.hpp"

namespace mca::op {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using json = nlohmann::json;

constexpr const char* sa_path = "/var/run/secrets/kubernetes.io/serviceaccount";

json load(const std::string& name) {
  const std::string path = std::string(MCA_SOURCE_DIR) +
                           "/tests/unit/operator/inject/testdata/" + name;
  auto text = util::read_text_file(path);
  if (!text) throw std::runtime_error(text.error().message);
  auto docs = util::parse_yaml_documents(*text, path);
  if (!docs || docs->size() != 1) throw std::runtime_error("bad " + path);
  return docs->front();
}

json yaml(std::string_view text) {
  auto docs = util::parse_yaml_documents(text, "test");
  if (!docs || docs->size() != 1) throw std::runtime_error("bad test YAML");
  return docs->front();
}

// The container named `name` in spec.<list>, or null.
json container(const json& pod, const std::string& list,
               const std::string& name) {
  for (const auto& c : pod["spec"].value(list, json::array())) {
    if (c.value("name", "") == name) return c;
  }
  return nullptr;
}

std::vector<std::string> names(const json& list) {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item.value("name", ""));
  return out;
}

// What a container sees for an env variable: the last entry wins.
std::string env_value(const json& c, const std::string& name) {
  std::string out = "(unset)";
  for (const auto& e : c.value("env", json::array())) {
    if (e.value("name", "") == name) {
      out = e.contains("value") ? e["value"].get<std::string>() : "(valueFrom)";
    }
  }
  return out;
}

std::vector<json> mounts_at(const json& c, const std::string& path) {
  std::vector<json> out;
  for (const auto& m : c.value("volumeMounts", json::array())) {
    std::string p = m.value("mountPath", "");
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p == path) out.push_back(m);
  }
  return out;
}

json status_of(const json& pod) {
  return json::parse(
      pod["metadata"]["annotations"]["mca.k8s.io/status"].get<std::string>());
}

class PodInjector : public ::testing::Test {
 protected:
  PodInjector() {
    config_.image = "example.com/mca-sidecar:test";
    config_.operator_address = "mca-operator.mca-system.svc:9443";
  }

  injection_context context(injection_mode mode = injection_mode::webhook,
                            std::string ns = "team-a") const {
    return injection_context{config_,
                             std::move(ns),
                             {"kube-system", "mca-system"},
                             "0.1.0-test",
                             mode};
  }

  injection_result inject(const json& pod,
                          injection_mode mode = injection_mode::webhook,
                          std::string ns = "team-a") const {
    return inject_pod(pod, context(mode, std::move(ns)));
  }

  // Injects, applies the patch the way the API server does, checks the
  // result is a well-formed injected pod, and checks that a second run has
  // nothing left to do.
  json inject_and_apply(const json& pod,
                        injection_mode mode = injection_mode::webhook) {
    const auto r = inject(pod, mode);
    EXPECT_EQ(r.outcome, injection_outcome::injected) << r.reason;
    EXPECT_FALSE(r.patch.empty());
    expect_small_operations(pod, r.patch);
    json out = pod.patch(r.patch);
    expect_injected(out);
    const auto again = inject(out, mode);
    EXPECT_EQ(again.outcome, injection_outcome::unchanged)
        << again.patch.dump(2);
    EXPECT_EQ(again.patch, json::array());
    return out;
  }

  // Operations against what is there: nothing replaces the spec or a whole
  // container list, and a list is only added when the pod had none.
  static void expect_small_operations(const json& pod, const json& patch) {
    for (const auto& op : patch) {
      const std::string path = op["path"];
      EXPECT_NE(path, "") << op.dump();
      EXPECT_NE(path, "/spec") << op.dump();
      for (const char* list : {"containers", "initContainers", "volumes"}) {
        if (path != "/spec/" + std::string(list)) continue;
        EXPECT_EQ(op["op"], "add") << op.dump();
        EXPECT_FALSE(pod["spec"].contains(list)) << op.dump();
      }
    }
  }

  void expect_injected(const json& pod) const {
    int sidecars = 0;
    for (const char* list : {"initContainers", "containers"}) {
      for (const auto& c : pod["spec"].value(list, json::array())) {
        if (c["name"] == "mca-sidecar") {
          ++sidecars;
          continue;
        }
        EXPECT_EQ(env_value(c, "KUBERNETES_SERVICE_HOST"), "127.0.0.1")
            << c["name"];
        EXPECT_EQ(env_value(c, "KUBERNETES_SERVICE_PORT"), "6443");
        EXPECT_EQ(env_value(c, "KUBERNETES_SERVICE_PORT_HTTPS"), "6443");
        const auto mounts = mounts_at(c, sa_path);
        ASSERT_EQ(mounts.size(), 1U) << c.dump(2);
        EXPECT_EQ(mounts[0], (json{{"name", "mca-api-access"},
                                   {"mountPath", sa_path},
                                   {"readOnly", true}}));
      }
    }
    EXPECT_EQ(sidecars, 1);
    ASSERT_TRUE(pod["spec"].contains("initContainers"));
    EXPECT_EQ(pod["spec"]["initContainers"][0]["name"], "mca-sidecar");
    EXPECT_EQ(pod["spec"]["initContainers"][0]["restartPolicy"], "Always");
    const auto volume_names = names(pod["spec"]["volumes"]);
    for (const char* v : {"mca-api-access", "mca-state", "mca-service-account",
                          "mca-operator-token", "mca-ca-bundle"}) {
      EXPECT_EQ(std::count(volume_names.begin(), volume_names.end(), v), 1)
          << v;
    }
    EXPECT_TRUE(pod["metadata"]["annotations"].contains("mca.k8s.io/status"));
  }

  injection_config config_;
};

TEST_F(PodInjector, InjectsAPlainPod) {
  const json pod = load("plain-pod.yaml");
  const auto r = inject(pod);
  ASSERT_EQ(r.outcome, injection_outcome::injected) << r.reason;
  EXPECT_THAT(r.containers, ElementsAre("app"));
  const json out = inject_and_apply(pod);

  const json sidecar = out["spec"]["initContainers"][0];
  EXPECT_EQ(sidecar["image"], "example.com/mca-sidecar:test");
  EXPECT_EQ(sidecar["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(sidecar["args"],
            json::array({"--operator=mca-operator.mca-system.svc:9443",
                         "--operator-ca=/var/run/mca/operator-ca/ca.crt",
                         "--token-file=/var/run/mca/operator-token/token",
                         "--pod-sa-dir=/var/run/mca/api-access",
                         "--state-dir=/var/run/mca/state",
                         "--admin-address=0.0.0.0:9090",
                         "--failure-mode=FailClosed"}));
  EXPECT_EQ(sidecar["env"], yaml(R"(
- name: POD_NAMESPACE
  valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}
- name: POD_NAME
  valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}
)"));
  EXPECT_EQ(sidecar["ports"], yaml("[{name: mca-admin, containerPort: 9090}]"));
  EXPECT_EQ(sidecar["startupProbe"],
            yaml("{httpGet: {path: /readyz, port: 9090}, periodSeconds: 1, "
                 "failureThreshold: 120}"));
  EXPECT_EQ(sidecar["readinessProbe"],
            yaml("{httpGet: {path: /readyz, port: 9090}, periodSeconds: 5}"));
  EXPECT_EQ(sidecar["securityContext"], yaml(R"(
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
)"));
  EXPECT_EQ(sidecar["resources"], config_.resources);
  EXPECT_EQ(sidecar["volumeMounts"], yaml(R"(
- {name: mca-api-access, mountPath: /var/run/mca/api-access}
- {name: mca-state, mountPath: /var/run/mca/state}
- {name: mca-service-account, mountPath: /var/run/secrets/kubernetes.io/serviceaccount, readOnly: true}
- {name: mca-operator-token, mountPath: /var/run/mca/operator-token, readOnly: true}
- {name: mca-ca-bundle, mountPath: /var/run/mca/operator-ca, readOnly: true}
)"));
  // The sidecar talks to the real API server.
  EXPECT_EQ(env_value(sidecar, "KUBERNETES_SERVICE_HOST"), "(unset)");

  EXPECT_EQ(out["spec"]["volumes"], yaml(R"(
- name: mca-api-access
  emptyDir: {medium: Memory, sizeLimit: 1Mi}
- name: mca-state
  emptyDir: {sizeLimit: 16Mi}
- name: mca-service-account
  projected:
    defaultMode: 292
    sources:
    - serviceAccountToken: {path: token, expirationSeconds: 3607}
    - configMap:
        name: kube-root-ca.crt
        items: [{key: ca.crt, path: ca.crt}]
    - downwardAPI:
        items:
        - path: namespace
          fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}
- name: mca-operator-token
  projected:
    sources:
    - serviceAccountToken: {audience: mca-operator, expirationSeconds: 600, path: token}
- name: mca-ca-bundle
  configMap:
    name: mca-ca-bundle
    items: [{key: ca.crt, path: ca.crt}]
)"));

  const json app = out["spec"]["containers"][0];
  EXPECT_EQ(app["env"], yaml(R"(
- {name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}
- {name: KUBERNETES_SERVICE_PORT, value: "6443"}
- {name: KUBERNETES_SERVICE_PORT_HTTPS, value: "6443"}
)"));
  EXPECT_EQ(app["volumeMounts"],
            yaml("[{name: mca-api-access, mountPath: "
                 "/var/run/secrets/kubernetes.io/serviceaccount, readOnly: "
                 "true}]"));

  const json status = status_of(out);
  EXPECT_EQ(status["version"], "0.1.0-test");
  EXPECT_EQ(status["sidecar"], "mca-sidecar");
  EXPECT_EQ(status["containers"], json::array({"app"}));
  const std::string config = status["config"];
  EXPECT_EQ(config.size(), 16U);
  EXPECT_EQ(config.find_first_not_of("0123456789abcdef"), std::string::npos);
  // The annotation is compact JSON in the documented order.
  EXPECT_EQ(
      out["metadata"]["annotations"]["mca.k8s.io/status"],
      R"({"version":"0.1.0-test","sidecar":"mca-sidecar","containers":["app"],"config":")" +
          config + "\"}");
  // Labels and everything else are as they were.
  EXPECT_EQ(out["metadata"]["labels"], pod["metadata"]["labels"]);
  EXPECT_EQ(app["image"], "example/web:1.0");
}

TEST_F(PodInjector, ConfigHashFollowsTheConfiguration) {
  const json pod = load("plain-pod.yaml");
  const json first = pod.patch(inject(pod).patch);
  config_.image = "example.com/mca-sidecar:other";
  const auto r = inject(first);
  ASSERT_EQ(r.outcome, injection_outcome::injected);
  // Just the image and the annotation change.
  ASSERT_EQ(r.patch.size(), 2U) << r.patch.dump(2);
  EXPECT_EQ(r.patch[0], (json{{"op", "replace"},
                              {"path", "/spec/initContainers/0/image"},
                              {"value", "example.com/mca-sidecar:other"}}));
  EXPECT_EQ(r.patch[1]["path"], "/metadata/annotations/mca.k8s.io~1status");
  const json second = first.patch(r.patch);
  EXPECT_NE(status_of(first)["config"], status_of(second)["config"]);
}

TEST_F(PodInjector, ConfigurationReachesTheSidecar) {
  config_.admin_port = 9191;
  config_.failure_mode = sidecar_failure_mode::local_passthrough;
  config_.extra_args = {"--log-level=debug"};
  config_.image_pull_policy = "Always";
  config_.token_expiration_seconds = 3600;
  config_.resources = json::object();
  const json out = inject_and_apply(load("plain-pod.yaml"));
  const json sidecar = out["spec"]["initContainers"][0];
  EXPECT_EQ(sidecar["imagePullPolicy"], "Always");
  EXPECT_EQ(sidecar["args"][5], "--admin-address=0.0.0.0:9191");
  EXPECT_EQ(sidecar["args"][6], "--failure-mode=LocalPassthrough");
  EXPECT_EQ(sidecar["args"].back(), "--log-level=debug");
  EXPECT_EQ(sidecar["ports"][0]["containerPort"], 9191);
  EXPECT_EQ(sidecar["startupProbe"]["httpGet"]["port"], 9191);
  EXPECT_EQ(sidecar["readinessProbe"]["httpGet"]["port"], 9191);
  EXPECT_FALSE(sidecar.contains("resources"));
  EXPECT_EQ(out["spec"]["volumes"][3]["projected"]["sources"][0]
               ["serviceAccountToken"]["expirationSeconds"],
            3600);
}

TEST_F(PodInjector, ReplacesTheServiceAccountMountInPlace) {
  const json pod = load("service-account-pod.yaml");
  const auto r = inject(pod);
  ASSERT_EQ(r.outcome, injection_outcome::injected) << r.reason;
  // One small operation for the mount, at its index.
  const json mount_op{{"op", "replace"},
                      {"path", "/spec/containers/0/volumeMounts/1"},
                      {"value",
                       {{"name", "mca-api-access"},
                        {"mountPath", sa_path},
                        {"readOnly", true}}}};
  EXPECT_NE(std::find(r.patch.begin(), r.patch.end(), mount_op), r.patch.end())
      << r.patch.dump(2);
  const json out = inject_and_apply(pod);
  const json app = out["spec"]["containers"][0];
  EXPECT_EQ(names(app["volumeMounts"]),
            (std::vector<std::string>{"data", "mca-api-access", "cache"}));
  // The plugin's volume is left (unused) and the others keep their order;
  // ours are appended.
  EXPECT_EQ(names(out["spec"]["volumes"]),
            (std::vector<std::string>{"data", "kube-api-access-abcde", "cache",
                                      "mca-api-access", "mca-state",
                                      "mca-service-account",
                                      "mca-operator-token", "mca-ca-bundle"}));
  EXPECT_EQ(out["metadata"]["annotations"]["example.com/owner"], "team-a");
  EXPECT_EQ(out["spec"]["serviceAccountName"], "builder");
}

TEST_F(PodInjector, WorksWithoutAutomountedToken) {
  json pod = load("plain-pod.yaml");
  pod["spec"]["automountServiceAccountToken"] = false;
  const json out = inject_and_apply(pod);
  EXPECT_EQ(out["spec"]["automountServiceAccountToken"], false);
  // The sidecar's own token comes from a projected volume, which is mounted
  // whatever automountServiceAccountToken says.
  const json volumes = out["spec"]["volumes"];
  const auto it = std::find_if(volumes.begin(), volumes.end(), [](auto& v) {
    return v["name"] == "mca-service-account";
  });
  ASSERT_NE(it, volumes.end());
  EXPECT_EQ((*it)["projected"]["sources"][0]["serviceAccountToken"]["path"],
            "token");
  EXPECT_EQ(mounts_at(out["spec"]["initContainers"][0], sa_path)[0]["name"],
            "mca-service-account");
  EXPECT_EQ(mounts_at(out["spec"]["containers"][0], sa_path)[0]["name"],
            "mca-api-access");
}

TEST_F(PodInjector, SidecarGoesBeforeInitContainersAndEachIsRouted) {
  const json pod = load("init-containers-pod.yaml");
  const auto r = inject(pod);
  EXPECT_THAT(r.containers, ElementsAre("migrate", "seed", "app", "worker"));
  const json out = inject_and_apply(pod);
  EXPECT_EQ(names(out["spec"]["initContainers"]),
            (std::vector<std::string>{"mca-sidecar", "migrate", "seed"}));
  EXPECT_EQ(names(out["spec"]["containers"]),
            (std::vector<std::string>{"app", "worker"}));
  // migrate's own KUBERNETES_SERVICE_HOST was replaced in place.
  const json migrate = container(out, "initContainers", "migrate");
  EXPECT_EQ(migrate["env"][0], (json{{"name", "KUBERNETES_SERVICE_HOST"},
                                     {"value", "127.0.0.1"}}));
  EXPECT_EQ(migrate["env"].size(), 3U);
  // worker's mount (written with a trailing slash) was replaced, not doubled.
  const json worker = container(out, "containers", "worker");
  EXPECT_EQ(worker["volumeMounts"].size(), 1U);
  EXPECT_EQ(status_of(out)["containers"],
            json::array({"migrate", "seed", "app", "worker"}));
}

TEST_F(PodInjector, OverridesEnvInPlaceAndKeepsTheRest) {
  const json pod = load("env-pod.yaml");
  const json out = inject_and_apply(pod);
  const json app = out["spec"]["containers"][0];
  EXPECT_EQ(app["env"], yaml(R"(
- {name: FIRST, value: "1"}
- {name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}
- {name: MIDDLE, value: middle}
- {name: KUBERNETES_SERVICE_PORT, value: "6443"}
- {name: LAST, value: last}
- {name: KUBERNETES_SERVICE_PORT_HTTPS, value: "6443"}
)"));
  // Explicit env wins over envFrom, so the ConfigMap import stays.
  EXPECT_EQ(app["envFrom"], pod["spec"]["containers"][0]["envFrom"]);
}

TEST_F(PodInjector, DuplicateEnvEntriesCannotOutvoteTheOverride) {
  const json pod = yaml(R"(
metadata: {labels: {mca.k8s.io/inject: "true"}}
spec:
  containers:
  - name: app
    env:
    - {name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}
    - {name: OTHER, value: x}
    - {name: KUBERNETES_SERVICE_HOST, value: 10.96.0.1}
)");
  const json out = inject_and_apply(pod);
  EXPECT_EQ(names(out["spec"]["containers"][0]["env"]),
            (std::vector<std::string>{"KUBERNETES_SERVICE_HOST", "OTHER",
                                      "KUBERNETES_SERVICE_PORT",
                                      "KUBERNETES_SERVICE_PORT_HTTPS"}));
}

TEST_F(PodInjector, RefusesHostNetworkPods) {
  json pod = load("plain-pod.yaml");
  pod["spec"]["hostNetwork"] = true;
  const auto r = inject(pod);
  EXPECT_EQ(r.outcome, injection_outcome::refused);
  EXPECT_THAT(r.reason, HasSubstr("spec.hostNetwork"));
  EXPECT_THAT(r.reason, HasSubstr("127.0.0.1:6443"));
  EXPECT_THAT(r.reason, HasSubstr("node"));
  EXPECT_THAT(r.reason, HasSubstr("shared by every hostNetwork pod"));
  EXPECT_EQ(r.patch, json::array());
  // Not labelled, it is none of our business: admitted untouched.
  pod["metadata"]["labels"].erase("mca.k8s.io/inject");
  EXPECT_EQ(inject(pod).outcome, injection_outcome::skipped);
  pod["spec"]["hostNetwork"] = false;
  EXPECT_EQ(inject(pod, injection_mode::cli).outcome,
            injection_outcome::injected);
}

TEST_F(PodInjector, OptOutAnnotationBeatsTheLabel) {
  json pod = load("plain-pod.yaml");
  pod["metadata"]["annotations"] = {{"mca.k8s.io/inject", "false"}};
  pod["spec"]["hostNetwork"] = true;  // and is not refused either
  for (auto mode : {injection_mode::webhook, injection_mode::cli}) {
    const auto r = inject(pod, mode);
    EXPECT_EQ(r.outcome, injection_outcome::skipped);
    EXPECT_THAT(r.reason, HasSubstr("annotation mca.k8s.io/inject"));
    EXPECT_EQ(r.patch, json::array());
  }
}

TEST_F(PodInjector, CliModeHonoursAFalseLabel) {
  json pod = load("plain-pod.yaml");
  pod["metadata"]["labels"]["mca.k8s.io/inject"] = "false";
  EXPECT_EQ(inject(pod, injection_mode::cli).outcome,
            injection_outcome::skipped);
  EXPECT_EQ(inject(pod, injection_mode::webhook).outcome,
            injection_outcome::skipped);
}

TEST_F(PodInjector, SkipsExcludedNamespaces) {
  const json pod = load("plain-pod.yaml");
  const auto r = inject(pod, injection_mode::webhook, "kube-system");
  EXPECT_EQ(r.outcome, injection_outcome::skipped);
  EXPECT_THAT(r.reason, HasSubstr("namespace kube-system is excluded"));
  // Without a request namespace, the pod's own is used.
  json in_operator_ns = pod;
  in_operator_ns["metadata"]["namespace"] = "mca-system";
  EXPECT_EQ(inject(in_operator_ns, injection_mode::cli, "").outcome,
            injection_outcome::skipped);
  EXPECT_EQ(inject(pod, injection_mode::webhook, "team-b").outcome,
            injection_outcome::injected);
}

TEST_F(PodInjector, UnlabelledPodsAreSkippedByTheWebhookAndLabelledByTheCli) {
  json pod = load("plain-pod.yaml");
  pod["metadata"]["labels"].erase("mca.k8s.io/inject");
  const auto webhook = inject(pod);
  EXPECT_EQ(webhook.outcome, injection_outcome::skipped);
  EXPECT_THAT(webhook.reason, HasSubstr("not labelled"));
  EXPECT_EQ(webhook.patch, json::array());

  const auto cli = inject(pod, injection_mode::cli);
  ASSERT_EQ(cli.outcome, injection_outcome::injected);
  const json label_op{{"op", "add"},
                      {"path", "/metadata/labels/mca.k8s.io~1inject"},
                      {"value", "true"}};
  EXPECT_NE(std::find(cli.patch.begin(), cli.patch.end(), label_op),
            cli.patch.end())
      << cli.patch.dump(2);
  const json out = inject_and_apply(pod, injection_mode::cli);
  EXPECT_EQ(out["metadata"]["labels"],
            (json{{"app", "web"}, {"mca.k8s.io/inject", "true"}}));
  // What the CLI wrote, the webhook takes as injected already.
  EXPECT_EQ(inject(out, injection_mode::webhook).outcome,
            injection_outcome::unchanged);
}

// What the API server makes of an injected pod: defaults filled in.
TEST_F(PodInjector, AlreadyInjectedIsUnchangedEvenWithApiServerDefaults) {
  json out = inject_and_apply(load("plain-pod.yaml"));
  out["spec"]["restartPolicy"] = "Always";
  out["spec"]["dnsPolicy"] = "ClusterFirst";
  for (const char* list : {"initContainers", "containers"}) {
    for (auto& c : out["spec"][list]) {
      c["terminationMessagePath"] = "/dev/termination-log";
      c["terminationMessagePolicy"] = "File";
    }
  }
  json& sidecar = out["spec"]["initContainers"][0];
  sidecar["ports"][0]["protocol"] = "TCP";
  for (const char* probe : {"startupProbe", "readinessProbe"}) {
    sidecar[probe]["httpGet"]["scheme"] = "HTTP";
    sidecar[probe]["timeoutSeconds"] = 1;
    sidecar[probe]["successThreshold"] = 1;
  }
  sidecar["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] = "v1";
  for (auto& v : out["spec"]["volumes"]) {
    if (v.contains("projected") && !v["projected"].contains("defaultMode")) {
      v["projected"]["defaultMode"] = 420;
    }
    if (v.contains("configMap")) v["configMap"]["defaultMode"] = 420;
  }
  const auto r = inject(out);
  EXPECT_EQ(r.outcome, injection_outcome::unchanged) << r.patch.dump(2);
  EXPECT_EQ(r.patch, json::array());
  EXPECT_THAT(r.containers, ElementsAre("app"));
}

TEST_F(PodInjector, RepairsAnEditedEnvEntryWithOneOperation) {
  json out = inject_and_apply(load("env-pod.yaml"));
  out["spec"]["containers"][0]["env"][1]["value"] = "10.96.0.1";
  const auto r = inject(out);
  ASSERT_EQ(r.outcome, injection_outcome::injected);
  EXPECT_EQ(r.patch, json::array({json{{"op", "replace"},
                                       {"path", "/spec/containers/0/env/1"},
                                       {"value",
                                        {{"name", "KUBERNETES_SERVICE_HOST"},
                                         {"value", "127.0.0.1"}}}}}));
  inject_and_apply(out);
}

TEST_F(PodInjector, RepairsARemovedMount) {
  json out = inject_and_apply(load("init-containers-pod.yaml"));
  out["spec"]["containers"][1].erase("volumeMounts");
  const auto r = inject(out);
  ASSERT_EQ(r.outcome, injection_outcome::injected);
  EXPECT_EQ(
      r.patch,
      json::array({json{{"op", "add"},
                        {"path", "/spec/containers/1/volumeMounts"},
                        {"value", json::array({json{{"name", "mca-api-access"},
                                                    {"mountPath", sa_path},
                                                    {"readOnly", true}}})}}}));
  inject_and_apply(out);
}

TEST_F(PodInjector, RepairsAnEditedSidecar) {
  json out = inject_and_apply(load("plain-pod.yaml"));
  json& sidecar = out["spec"]["initContainers"][0];
  sidecar["image"] = "evil.example/sidecar:latest";
  sidecar["securityContext"]["runAsNonRoot"] = false;
  sidecar.erase("restartPolicy");
  const auto r = inject(out);
  ASSERT_EQ(r.outcome, injection_outcome::injected);
  std::vector<std::string> paths;
  for (const auto& op : r.patch) paths.push_back(op["path"]);
  EXPECT_THAT(paths, ElementsAre("/spec/initContainers/0/image",
                                 "/spec/initContainers/0/restartPolicy",
                                 "/spec/initContainers/0/securityContext"));
  const json repaired = inject_and_apply(out);
  EXPECT_EQ(repaired["spec"]["initContainers"][0]["image"],
            "example.com/mca-sidecar:test");
}

TEST_F(PodInjector, MovesTheSidecarBackToTheFront) {
  // Another webhook put its own init container first, after us.
  json out = inject_and_apply(load("init-containers-pod.yaml"));
  out["spec"]["initContainers"].insert(
      out["spec"]["initContainers"].begin(),
      json{{"name", "vault-agent-init"}, {"image", "vault:1"}});
  const auto r = inject(out);
  ASSERT_EQ(r.outcome, injection_outcome::injected);
  const json fixed = inject_and_apply(out);
  EXPECT_EQ(names(fixed["spec"]["initContainers"]),
            (std::vector<std::string>{"mca-sidecar", "vault-agent-init",
                                      "migrate", "seed"}));
  EXPECT_EQ(
      status_of(fixed)["containers"],
      json::array({"vault-agent-init", "migrate", "seed", "app", "worker"}));
}

TEST_F(PodInjector, RemovesSecondSidecarsAndOnesInContainers) {
  json out = inject_and_apply(load("plain-pod.yaml"));
  const json sidecar = out["spec"]["initContainers"][0];
  out["spec"]["initContainers"].push_back(sidecar);
  out["spec"]["containers"].push_back(sidecar);
  out["spec"]["containers"].push_back(json{{"name", "tail"}});
  const json fixed = inject_and_apply(out);
  EXPECT_EQ(names(fixed["spec"]["initContainers"]),
            (std::vector<std::string>{"mca-sidecar"}));
  EXPECT_EQ(names(fixed["spec"]["containers"]),
            (std::vector<std::string>{"app", "tail"}));
}

TEST_F(PodInjector, AnMcaSidecarContainerMovesToInitContainers) {
  // Decision: the name is reserved; an mca-sidecar among the containers
  // (hand-written, or an older way of injecting) is replaced by ours.
  json pod = load("plain-pod.yaml");
  pod["spec"]["containers"].insert(
      pod["spec"]["containers"].begin(),
      json{{"name", "mca-sidecar"}, {"image", "old/sidecar:0.0.1"}});
  const json out = inject_and_apply(pod);
  EXPECT_EQ(names(out["spec"]["containers"]),
            (std::vector<std::string>{"app"}));
  EXPECT_EQ(out["spec"]["initContainers"][0]["image"],
            "example.com/mca-sidecar:test");

  json only = load("plain-pod.yaml");
  only["spec"]["containers"][0]["name"] = "mca-sidecar";
  const auto r = inject(only);
  EXPECT_EQ(r.outcome, injection_outcome::refused);
  EXPECT_THAT(r.reason, HasSubstr("spec.containers"));
  EXPECT_THAT(r.reason, HasSubstr("reserves"));
}

TEST_F(PodInjector, RepairsAnEditedVolume) {
  json out = inject_and_apply(load("service-account-pod.yaml"));
  auto& volumes = out["spec"]["volumes"];
  std::size_t state = 0;
  while (volumes[state]["name"] != "mca-state") ++state;
  volumes[state]["emptyDir"]["sizeLimit"] = "1Gi";
  volumes.erase(volumes.begin() + static_cast<std::ptrdiff_t>(state + 3));
  const auto r = inject(out);
  ASSERT_EQ(r.outcome, injection_outcome::injected);
  ASSERT_EQ(r.patch.size(), 2U) << r.patch.dump(2);
  EXPECT_EQ(r.patch[0]["op"], "replace");
  EXPECT_EQ(r.patch[0]["path"], "/spec/volumes/" + std::to_string(state));
  EXPECT_EQ(r.patch[1]["op"], "add");
  EXPECT_EQ(r.patch[1]["path"], "/spec/volumes/-");
  inject_and_apply(out);
}

TEST_F(PodInjector, RefusesWrongTypesNamingTheField) {
  const json good = load("plain-pod.yaml");
  struct wrong {
    const char* pointer;
    json value;
    const char* message;
  };
  const std::vector<wrong> cases{
      {"/spec/containers/0/env", "A=1",
       "spec.containers[0].env: must be an array"},
      {"/spec/containers/0/env", json::array({"A=1"}),
       "spec.containers[0].env[0]: must be an object"},
      {"/spec/containers/0/env", json::array({json{{"value", "x"}}}),
       "spec.containers[0].env[0].name: must be a string"},
      {"/spec/containers/0/volumeMounts", json::object(),
       "spec.containers[0].volumeMounts: must be an array"},
      {"/spec/containers/0/volumeMounts",
       json::array({json{{"name", "x"}, {"mountPath", 5}}}),
       "spec.containers[0].volumeMounts[0].mountPath: must be a string"},
      {"/spec/containers/0/name", 7,
       "spec.containers[0].name: must be a string"},
      {"/spec/containers", json::object(), "spec.containers: must be an array"},
      {"/spec/containers", json::array(), "spec.containers: must not be empty"},
      {"/spec/containers", nullptr, "spec.containers: is required"},
      {"/spec/containers/0", "app", "spec.containers[0]: must be an object"},
      {"/spec/initContainers", "none", "spec.initContainers: must be an array"},
      {"/spec/volumes", json::array({json{{"emptyDir", json::object()}}}),
       "spec.volumes[0].name: must be a string"},
      {"/spec/hostNetwork", "yes", "spec.hostNetwork: must be a boolean"},
      {"/spec", json::array(), "spec: must be an object"},
      {"/metadata/annotations", json::array(),
       "metadata.annotations: must be a map"},
      {"/metadata/labels/mca.k8s.io~1inject", true,
       "metadata.labels.mca.k8s.io/inject: must be a string"},
  };
  for (const auto& c : cases) {
    json pod = good;
    pod[json::json_pointer(c.pointer)] = c.value;
    const auto r = inject(pod);
    EXPECT_EQ(r.outcome, injection_outcome::refused) << c.pointer;
    EXPECT_THAT(r.reason, HasSubstr(c.message)) << c.pointer;
    EXPECT_EQ(r.patch, json::array());
  }
  // A second container's field is named with its index.
  json pod = good;
  pod["spec"]["containers"].push_back(json{{"name", "b"}, {"env", 1}});
  EXPECT_EQ(inject(pod).reason, "spec.containers[1].env: must be an array");
  // Not even an object.
  EXPECT_EQ(inject_pod(json("pod"), context()).outcome,
            injection_outcome::refused);
  EXPECT_EQ(inject_pod(json::array(), context(injection_mode::cli)).outcome,
            injection_outcome::refused);
}

TEST_F(PodInjector, AddsMetadataAndAnnotationsWhenAbsent) {
  const json bare = yaml("spec: {containers: [{name: app}]}");
  const auto r = inject(bare, injection_mode::cli);
  ASSERT_EQ(r.outcome, injection_outcome::injected) << r.reason;
  std::vector<json> metadata_ops;
  for (const auto& op : r.patch) {
    if (op["path"].get<std::string>().starts_with("/metadata")) {
      metadata_ops.push_back(op);
    }
  }
  ASSERT_EQ(metadata_ops.size(), 2U);
  EXPECT_EQ(metadata_ops[0],
            (json{{"op", "add"},
                  {"path", "/metadata"},
                  {"value", {{"labels", {{"mca.k8s.io/inject", "true"}}}}}}));
  EXPECT_EQ(metadata_ops[1]["path"], "/metadata/annotations");
  const json out = inject_and_apply(bare, injection_mode::cli);
  EXPECT_EQ(out["metadata"]["annotations"].size(), 1U);

  json with_labels = bare;
  with_labels["metadata"] = {{"labels", {{"mca.k8s.io/inject", "true"}}}};
  const auto labelled = inject(with_labels);
  EXPECT_EQ(labelled.patch.back()["op"], "add");
  EXPECT_EQ(labelled.patch.back()["path"], "/metadata/annotations");
}

TEST_F(PodInjector, AddsOrReplacesTheStatusKeyAmongOtherAnnotations) {
  json pod = load("service-account-pod.yaml");
  const auto r = inject(pod);
  EXPECT_EQ(r.patch.back()["op"], "add");
  EXPECT_EQ(r.patch.back()["path"], "/metadata/annotations/mca.k8s.io~1status");

  pod["metadata"]["annotations"]["mca.k8s.io/status"] = "stale";
  const auto again = inject(pod);
  EXPECT_EQ(again.patch.back()["op"], "replace");
  EXPECT_EQ(again.patch.back()["path"],
            "/metadata/annotations/mca.k8s.io~1status");
  const json out = inject_and_apply(pod);
  EXPECT_EQ(out["metadata"]["annotations"]["example.com/owner"], "team-a");
  EXPECT_NE(out["metadata"]["annotations"]["mca.k8s.io/status"], "stale");
}

TEST_F(PodInjector, EphemeralContainersAreLeftAlone) {
  json pod = load("plain-pod.yaml");
  pod["spec"]["ephemeralContainers"] =
      json::array({json{{"name", "debugger"}, {"image", "busybox"}}});
  const json out = inject_and_apply(pod);
  EXPECT_EQ(out["spec"]["ephemeralContainers"],
            pod["spec"]["ephemeralContainers"]);
}

TEST_F(PodInjector, OutcomesHaveNames) {
  EXPECT_STREQ(to_string(injection_outcome::injected), "injected");
  EXPECT_STREQ(to_string(injection_outcome::unchanged), "unchanged");
  EXPECT_STREQ(to_string(injection_outcome::skipped), "skipped");
  EXPECT_STREQ(to_string(injection_outcome::refused), "refused");
}

}  // namespace
}  // namespace mca::op

namespace mca::op {
namespace {

// The API server refuses projected service-account tokens in a pod that
// names no service account; the injected pod names "default", as the
// ServiceAccount admission plugin would, and keeps any name it had.
TEST(PodInjectorServiceAccount, APodWithoutOneGetsDefault) {
  injection_config config;
  config.operator_address = "mca-operator.mca-system.svc:9443";
  const injection_context ctx{
      config, "team-a", {}, "0.1.0-test", injection_mode::webhook};
  json pod = json::parse(R"({"metadata": {"name": "p",
      "labels": {"mca.k8s.io/inject": "true"}},
      "spec": {"containers": [{"name": "app", "image": "a"}]}})");
  auto r = inject_pod(pod, ctx);
  ASSERT_EQ(r.outcome, injection_outcome::injected) << r.reason;
  EXPECT_EQ(pod.patch(r.patch)["spec"]["serviceAccountName"], "default");
  pod["spec"]["serviceAccountName"] = "builder";
  r = inject_pod(pod, ctx);
  EXPECT_EQ(pod.patch(r.patch)["spec"]["serviceAccountName"], "builder");
}

}  // namespace
}  // namespace mca::op
