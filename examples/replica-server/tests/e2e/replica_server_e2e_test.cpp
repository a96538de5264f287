// The replica server end to end, as issue #8 asks: RFD 156's functional
// test plan (scripts/functional-test.sh, curl) against one test cluster
// directly; then the same binary, unchanged and configured as an app in a
// pod is (in-cluster config from the directory the sidecar writes), behind
// a real mca-sidecar whose routing table (scripts/fanout-routes.sh) fans
// Deployments out over home, east and west: its one informer lists every
// cluster's Deployments and each PUT lands in the cluster that owns the
// Deployment (scripts/multicluster-test.sh, checked against each cluster
// directly), and the functional test passes there unchanged.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/process/run_process.hpp"
#include "support/child_process.hpp"
#include "support/sidecar_process.hpp"
#include "support/testenv.hpp"

namespace mca::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* scripts = REPLICA_SERVER_SCRIPTS;

// A running replica-server and the port it chose.
struct server_process {
  child_process process;
  unsigned short port = 0;
  std::string url() const {
    return "https://127.0.0.1:" + std::to_string(port);
  }
};

class ReplicaServerE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    env_ = testenv::load(error);
    ASSERT_TRUE(error.empty()) << error;
    dir_ = fs::temp_directory_path() / unique_name("replica-server-e2e");
    fs::create_directories(dir_);
    ns_ = unique_name("rs");
    auto certs =
        run({"bash", std::string(scripts) + "/gen-certs.sh", certs_dir()});
    ASSERT_EQ(certs.exit_code, 0) << certs.out << certs.err;
  }

  void TearDown() override {
    // Bare API servers run no namespace controller, which is what empties
    // a deleted namespace and then removes it: the Deployments go first,
    // and the namespace's finalizer is cleared as the controller would.
    const std::string finalized =
        R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns_ +
        R"("},"spec":{"finalizers":[]}})";
    for (const auto& cluster : touched_) {
      env_.kubectl(cluster, {"-n", ns_, "delete", "deployments", "--all",
                             "--wait=false"});
      env_.kubectl(cluster, {"delete", "namespace", ns_, "--wait=false"});
      env_.kubectl(cluster,
                   {"replace", "--raw",
                    "/api/v1/namespaces/" + ns_ + "/finalize", "-f", "-"},
                   finalized);
    }
    if (!HasFailure()) {
      std::error_code ignored;
      fs::remove_all(dir_, ignored);
    } else {
      std::cout << "kept " << dir_ << " (certificates and logs)\n";
    }
  }

  std::string certs_dir() const { return (dir_ / "certs").string(); }
  std::string kubeconfig(const std::string& cluster) const {
    return env_.at(cluster).kubeconfig.string();
  }

  static process::process_result run(std::vector<std::string> argv) {
    process::process_spec spec;
    spec.argv = std::move(argv);
    spec.timeout = std::chrono::minutes(3);
    auto r = process::run_process(spec);
    if (!r) {
      process::process_result failed;
      failed.err = "cannot run " + spec.argv.front();
      return failed;
    }
    return *r;
  }

  // A Deployment made directly in `cluster` (the namespace too).
  void create_deployment(const std::string& cluster, const std::string& name,
                         int replicas) {
    if (std::find(touched_.begin(), touched_.end(), cluster) ==
        touched_.end()) {
      auto r = env_.kubectl(cluster, {"create", "namespace", ns_});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      touched_.push_back(cluster);
    }
    auto r = env_.kubectl(cluster, {"-n", ns_, "create", "deployment", name,
                                    "--image=registry.k8s.io/pause:3.9",
                                    "--replicas=" + std::to_string(replicas)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Starts the server on a free port with the test certificates and
  // `args`; waits for its start-up line.
  server_process start_server(
      std::vector<std::string> args,
      const std::vector<std::pair<std::string, std::string>>& env = {}) {
    std::vector<std::string> argv = {REPLICA_SERVER_BINARY,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--tls-cert",
                                     certs_dir() + "/server.crt",
                                     "--tls-key",
                                     certs_dir() + "/server.key",
                                     "--client-ca",
                                     certs_dir() + "/ca.crt"};
    argv.insert(argv.end(), args.begin(), args.end());
    server_process s;
    s.process = child_process::start(argv, dir_ / "server.log", env);
    // The port is complete once the text after it is there.
    static const std::regex line(
        R"(listening on https://127\.0\.0\.1:(\d+) \()");
    const auto until = std::chrono::steady_clock::now() + 20s;
    std::smatch m;
    std::string out = s.process.output();
    while (!std::regex_search(out, m, line)) {
      if (std::chrono::steady_clock::now() > until || !s.process.running()) {
        ADD_FAILURE() << "replica-server did not start:\n" << out;
        return s;
      }
      std::this_thread::sleep_for(20ms);
      out = s.process.output();
    }
    s.port = static_cast<unsigned short>(std::stoi(m[1]));
    return s;
  }

  // Runs one of the test scripts, echoing its report into the test's log.
  process::process_result run_script(const std::string& name,
                                     std::vector<std::string> args) {
    args.insert(args.begin(), {"bash", std::string(scripts) + "/" + name});
    auto r = run(std::move(args));
    std::cout << r.out << r.err;
    return r;
  }

  // SIGTERM ends the server cleanly.
  static void expect_clean_stop(server_process& s) {
    s.process.signal(SIGTERM);
    const auto code = s.process.wait(10s);
    ASSERT_TRUE(code.has_value()) << "still running 10 s after SIGTERM";
    EXPECT_EQ(*code, 0) << s.process.output();
    EXPECT_THAT(s.process.output(), HasSubstr("replica-server stopped"));
  }

  // The mTLS refusals and informer activity the RFD's log review looks for.
  void expect_logged_activity(const std::string& log,
                              const std::string& deployment) {
    EXPECT_THAT(log, HasSubstr("informer: synced"));
    EXPECT_THAT(log, HasSubstr("informer: deployment " + ns_ + "/" +
                               deployment + " added"));
    EXPECT_THAT(log, HasSubstr("informer: deployment " + ns_ + "/" +
                               deployment + " replicas "));
    EXPECT_THAT(log, HasSubstr("scale: " + ns_ + "/" + deployment + " set to"));
    EXPECT_THAT(log, HasSubstr("authenticated as"));
    EXPECT_THAT(log, HasSubstr("no client certificate presented"));
    EXPECT_THAT(log, HasSubstr("certificate has expired"));
    EXPECT_THAT(log, HasSubstr("unable to get local issuer certificate"));
    EXPECT_THAT(log, HasSubstr("the client does not offer TLS 1.3"));
  }

  testenv env_;
  fs::path dir_;
  std::string ns_;
  std::vector<std::string> touched_;
};

TEST_F(ReplicaServerE2E, FunctionalTestAgainstOneClusterDirectly) {
  create_deployment("home", "web", 2);
  auto server = start_server({"--kubeconfig", kubeconfig("home")});
  ASSERT_NE(server.port, 0);

  auto r =
      run_script("functional-test.sh",
                 {"--url", server.url(), "--certs", certs_dir(), "--namespace",
                  ns_, "--deployment", "web", "--kubeconfig",
                  kubeconfig("home"), "--kubectl", env_.kubectl().string()});
  EXPECT_EQ(r.exit_code, 0) << server.process.output();
  EXPECT_THAT(r.out, HasSubstr(", 0 failed"));

  const std::string log = server.process.output();
  expect_logged_activity(log, "web");
  EXPECT_THAT(log, HasSubstr("(kubeconfig " + kubeconfig("home")));
  expect_clean_stop(server);
}

TEST_F(ReplicaServerE2E,
       UnchangedBehindTheSidecarWithAFanOutOverThreeClusters) {
  // Distinct names, one per cluster, each with its own count.
  create_deployment("home", "home-web", 1);
  create_deployment("east", "east-web", 2);
  create_deployment("west", "west-web", 3);

  auto routes = run({"bash", std::string(scripts) + "/fanout-routes.sh",
                     env_.dir().string()});
  ASSERT_EQ(routes.exit_code, 0) << routes.err;
  ASSERT_THAT(routes.out, HasSubstr("targets: [home, east, west]"));
  auto sidecar = sidecar_process::start(routes.out);

  // What the injected pod gives the app: KUBERNETES_SERVICE_HOST/PORT at
  // the sidecar and a service-account directory written by it. No
  // kubeconfig, no flag about clusters.
  const std::string sa_dir = (sidecar.dir() / "pod-sa").string();
  auto server = start_server(
      {"--service-account-dir", sa_dir, "--log-format", "json"},
      {{"KUBERNETES_SERVICE_HOST", "127.0.0.1"},
       {"KUBERNETES_SERVICE_PORT", std::to_string(sidecar.port())}});
  ASSERT_NE(server.port, 0);

  auto multi =
      run_script("multicluster-test.sh",
                 {"--url", server.url(), "--certs", certs_dir(), "--namespace",
                  ns_, "--kubectl", env_.kubectl().string(), "--cluster",
                  "home:home-web:" + kubeconfig("home"), "--cluster",
                  "east:east-web:" + kubeconfig("east"), "--cluster",
                  "west:west-web:" + kubeconfig("west")});
  EXPECT_EQ(multi.exit_code, 0) << server.process.output();
  EXPECT_THAT(multi.out, HasSubstr(", 0 failed"));

  // The RFD's plan, unchanged, on the Deployment that lives in east.
  auto functional =
      run_script("functional-test.sh",
                 {"--url", server.url(), "--certs", certs_dir(), "--namespace",
                  ns_, "--deployment", "east-web", "--kubeconfig",
                  kubeconfig("east"), "--kubectl", env_.kubectl().string()});
  EXPECT_EQ(functional.exit_code, 0) << server.process.output();
  EXPECT_THAT(functional.out, HasSubstr(", 0 failed"));

  const std::string log = server.process.output();
  expect_logged_activity(log, "east-web");
  EXPECT_THAT(
      log, HasSubstr("Kubernetes API https://127.0.0.1:" +
                     std::to_string(sidecar.port()) + " (in-cluster config"));
  // --log-format json: every line one object.
  std::istringstream lines(log);
  std::string line;
  int objects = 0;
  while (std::getline(lines, line)) {
    const auto parsed = nlohmann::json::parse(line, nullptr, false);
    EXPECT_TRUE(parsed.is_object() && parsed.contains("msg")) << line;
    ++objects;
  }
  EXPECT_GT(objects, 50);

  // Every Deployment request went through the fan-out rule.
  const auto metrics = sidecar.admin_get("/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("rule=\"deployments-everywhere\""));
  expect_clean_stop(server);
}

}  // namespace
}  // namespace mca::test
