#include "operator/inject/inject_command.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/util/text_file.hpp"
#include "common/util/yaml_json.hpp"

namespace mca::op {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using json = nlohmann::json;

const std::string testdata =
    std::string(MCA_SOURCE_DIR) + "/tests/unit/operator/inject/testdata/";

struct run_result {
  int code = 0;
  std::string out;
  std::string err;
};

run_result run(std::vector<std::string> args, const std::string& input) {
  args.insert(args.begin(), "inject");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::istringstream in(input);
  std::ostringstream out, err;
  run_result r;
  r.code = run_inject_command(static_cast<int>(args.size()), argv.data(), in,
                              out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string read(const std::string& name) {
  auto text = util::read_text_file(testdata + name);
  if (!text) throw std::runtime_error(text.error().message);
  return *text;
}

std::vector<json> documents(const std::string& text) {
  auto docs = util::parse_yaml_documents(text, "output");
  EXPECT_TRUE(docs) << docs.error().message << "\n" << text;
  return docs ? *docs : std::vector<json>{};
}

// The pod at `pointer` is injected and labelled for the operator.
void expect_injected(const json& object, const std::string& pointer) {
  const json& pod = object.at(json::json_pointer(pointer));
  ASSERT_TRUE(pod["spec"].contains("initContainers")) << pod.dump(2);
  EXPECT_EQ(pod["spec"]["initContainers"][0]["name"], "mca-sidecar");
  EXPECT_EQ(pod["spec"]["initContainers"][0]["args"][0],
            "--operator=mca-operator.mca-system.svc:9443");
  EXPECT_EQ(pod["metadata"]["labels"]["mca.k8s.io/inject"], "true");
  EXPECT_TRUE(pod["metadata"]["annotations"].contains("mca.k8s.io/status"));
  for (const auto& c : pod["spec"]["containers"]) {
    bool overridden = false;
    for (const auto& e : c["env"]) {
      if (e["name"] == "KUBERNETES_SERVICE_HOST") {
        overridden = e["value"] == "127.0.0.1";
      }
    }
    EXPECT_TRUE(overridden) << c.dump(2);
  }
}

TEST(InjectCommand, InjectsEveryTemplateOfAMultiDocumentFile) {
  const std::string input = read("manifests.yaml");
  const auto r = run({}, input);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto in = documents(input);
  const auto out = documents(r.out);
  ASSERT_EQ(out.size(), 4U);
  EXPECT_EQ(out[0]["kind"], "Deployment");
  expect_injected(out[0], "/spec/template");
  // The selector still matches: labels were only added.
  EXPECT_EQ(out[0]["spec"]["template"]["metadata"]["labels"]["app"], "web");
  EXPECT_EQ(out[0]["spec"]["replicas"], 2);
  expect_injected(out[1], "/spec/jobTemplate/spec/template");
  EXPECT_EQ(out[1]["spec"]["schedule"], "*/5 * * * *");
  // Strings that look like other things stay strings.
  EXPECT_EQ(out[2], in[2]);
  EXPECT_EQ(out[2]["data"]["enabled"], "true");
  expect_injected(out[3], "");
  EXPECT_EQ(out[3]["spec"]["containers"][0]["command"],
            json::array({"sleep", "infinity"}));
  // YAML documents separated by ---, not JSON.
  EXPECT_THAT(r.out, HasSubstr("\n---\napiVersion: batch/v1\nkind: CronJob\n"));
  EXPECT_THAT(r.out, HasSubstr("\n---\napiVersion: v1\ndata:\n"));
  EXPECT_EQ(r.out.rfind("apiVersion: apps/v1\n", 0), 0U);

  // Injecting the output again changes nothing.
  const auto again = run({}, r.out);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
}

TEST(InjectCommand, JsonInJsonOut) {
  const json pod{{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", {{"name", "p"}, {"namespace", "team-a"}}},
                 {"spec", {{"containers", {{{"name", "app"}}}}}}};
  const auto r = run({}, pod.dump(2));
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.front(), '{');
  const json out = json::parse(r.out);
  expect_injected(out, "");
}

TEST(InjectCommand, RefusedPodFailsTheWholeRunAndWritesNothing) {
  const std::string input = read("manifests.yaml") + R"(---
apiVersion: v1
kind: Pod
metadata:
  name: node-agent
  namespace: team-a
spec:
  hostNetwork: true
  containers:
  - name: agent
    image: example/agent:1
)";
  const auto r = run({}, input);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("mca-operator inject: document 5 (Pod "
                               "team-a/node-agent): spec.hostNetwork:"));
  EXPECT_THAT(r.err, HasSubstr("127.0.0.1:6443"));
}

TEST(InjectCommand, TemplateRefusalsNameTheTemplate) {
  const auto r = run({}, R"(apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      hostNetwork: true
      containers: [{name: agent}]
)");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err,
              HasSubstr("document 1 (DaemonSet agent): the pod template at "
                        "spec.template: spec.hostNetwork"));
}

TEST(InjectCommand, BadYamlNamesTheLine) {
  const auto r = run({}, "apiVersion: v1\nkind: Pod\nmetadata: {name: [x\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("mca-operator inject: <stdin>: line "));
}

TEST(InjectCommand, ReadsAFileAndAConfiguration) {
  std::random_device random;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mca-inject-command-test-" + std::to_string(random()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.yaml")
      << "injection:\n  image: registry.example/sidecar:9\n"
         "  operatorAddress: mca.example:443\n";
  const auto r = run({"--config", (dir / "config.yaml").string(), "-f",
                      testdata + "plain-pod.yaml"},
                     "this is not read");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = documents(r.out);
  ASSERT_EQ(out.size(), 1U);
  const json& sidecar = out[0]["spec"]["initContainers"][0];
  EXPECT_EQ(sidecar["image"], "registry.example/sidecar:9");
  EXPECT_EQ(sidecar["args"][0], "--operator=mca.example:443");

  std::ofstream(dir / "bad.yaml") << "injection:\n  imagePullPolicy: Maybe\n";
  const auto bad = run({"--config", (dir / "bad.yaml").string()}, "");
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("injection.imagePullPolicy: must be one of"));

  const auto missing = run({"-f", (dir / "missing.yaml").string()}, "");
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("cannot read"));
  std::filesystem::remove_all(dir);
}

TEST(InjectCommand, OperatorNamespaceIsNeverInjected) {
  const std::string pod = R"(apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ops}
spec: {containers: [{name: app}]}
)";
  const auto r = run({"--operator-namespace", "ops"}, pod);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(documents(r.out), documents(pod));
  EXPECT_THAT(r.err, HasSubstr("skipped: namespace ops is excluded"));
  // And sidecars elsewhere find the operator in that namespace.
  const auto elsewhere =
      run({"--operator-namespace", "ops", "--namespace", "team-a"},
          "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}\n");
  ASSERT_EQ(elsewhere.code, 0) << elsewhere.err;
  EXPECT_EQ(documents(elsewhere.out)[0]["spec"]["initContainers"][0]["args"][0],
            "--operator=mca-operator.ops.svc:9443");
}

TEST(InjectCommand, NamespaceFlagAppliesToObjectsWithoutOne) {
  const std::string pod =
      "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}\n";
  const auto excluded = run({"--namespace", "kube-system"}, pod);
  ASSERT_EQ(excluded.code, 0);
  EXPECT_FALSE(documents(excluded.out)[0]["spec"].contains("initContainers"));
  const auto injected = run({"--namespace", "team-a"}, pod);
  ASSERT_EQ(injected.code, 0);
  expect_injected(documents(injected.out)[0], "");
}

TEST(InjectCommand, InjectsTheItemsOfAList) {
  const auto r = run({}, R"(apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: a, namespace: team-a}
  spec: {template: {spec: {containers: [{name: a}]}}}
- apiVersion: v1
  kind: Service
  metadata: {name: a, namespace: team-a}
  spec: {ports: [{port: 80}]}
)");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = documents(r.out);
  ASSERT_EQ(out.size(), 1U);
  expect_injected(out[0]["items"][0], "/spec/template");
  EXPECT_EQ(out[0]["items"][1]["spec"]["ports"][0]["port"], 80);
}

TEST(InjectCommand, ObjectsThatAreNotMapsAreErrors) {
  const auto r = run({}, "kind: ConfigMap\n---\n- just\n- a list\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("document 2: not a Kubernetes object"));
}

TEST(InjectCommand, WorkloadWithoutATemplateIsAnError) {
  const auto r = run({}, "kind: Deployment\nmetadata: {name: d}\nspec: {}\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("document 1 (Deployment d): no pod template "
                               "at spec.template"));
}

TEST(InjectCommand, EmptyInputIsEmptyOutput) {
  const auto r = run({}, "");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
}

TEST(InjectCommand, BadFlagsAreUsageErrors) {
  const auto r = run({"--no-such-flag"}, "");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("mca-operator inject: unrecognised option"));
  const auto help = run({"--help"}, "");
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("Usage: mca-operator inject"));
  EXPECT_THAT(help.out, HasSubstr("--operator-namespace"));
}

}  // namespace
}  // namespace mca::op
