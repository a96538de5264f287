// A client-go SharedInformer on ConfigMaps through a real mca-sidecar whose
// fan-out rule (`targets: [home, east, west]`) merges the test namespace's
// lists and watches across the three clusters (issue 7): it sees every
// object of every cluster, receives each cluster's add/update/delete, and
// converges again after east's API server restarts and after etcd is
// compacted past east's watch position (410, so the informer relists). The
// checks live in tests/e2e/clientgo (--fanout); this test gives them the
// sidecar and the commands that disturb east. SERIAL: it stops a cluster.
#include <chrono>
#include <cstddef>
#include <iostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/sidecar_process.hpp"
#include "support/testenv.hpp"

namespace mca::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The cluster the commands disturb.
constexpr const char* kDisturbed = "east";

// Built (and cached) by hack/e2e-tools; the e2e_tools ctest fixture builds
// it first so this only looks the path up.
std::string clientgo_binary() {
  process::process_spec spec;
  spec.argv = {std::string(MCA_SOURCE_DIR) + "/hack/e2e-tools", "clientgo"};
  spec.timeout = std::chrono::minutes(30);
  auto r = process::run_process(spec);
  if (!r || !r->ok()) {
    ADD_FAILURE() << "hack/e2e-tools clientgo failed: "
                  << (r ? r->err : r.error().message());
    return {};
  }
  auto path = r->out;
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) {
    path.pop_back();
  }
  return path;
}

// One word for sh, whatever it holds.
std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

class FanOutInformer : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    env_ = testenv::load(error);
    ASSERT_TRUE(error.empty()) << error;
    ns_ = unique_name("mca-fan-inf");
    for (const auto& c : env_.clusters()) {
      auto r = env_.kubectl(c.name, {"create", "namespace", ns_});
      ASSERT_TRUE(r.ok()) << "creating namespace " << ns_ << " in " << c.name
                          << ": " << r.err;
    }
  }

  void TearDown() override {
    if (ns_.empty()) return;
    // Whatever failed or was killed on the way, east runs again.
    ensure_started(kDisturbed);
    for (const auto& c : env_.clusters()) {
      env_.kubectl(
          c.name, {"-n", ns_, "delete", "configmaps", "--all", "--wait=false"});
      env_.kubectl(c.name, {"delete", "namespace", ns_, "--wait=false"});
    }
  }

  // Starts a cluster the commands may have left stopped; one already
  // running is left alone.
  void ensure_started(const std::string& cluster) {
    auto r = env_.hack_testenv({"start-cluster", "--cluster", cluster});
    if (!r.ok() && r.err.find("already running") == std::string::npos) {
      ADD_FAILURE() << "could not start " << cluster << " again: " << r.err
                    << r.out;
    }
  }

  std::string routes() const {
    return standard_routes(env_) +
           "  - name: everywhere\n"
           "    match: {resources: [{resource: configmaps}], namespaces: [" +
           ns_ + "]}\n    targets: [home, east, west]\n";
  }

  // `hack/testenv ARGS --dir DIR` as one shell command.
  std::string testenv_cmd(const std::string& args) const {
    return sh_quote(std::string(MCA_SOURCE_DIR) + "/hack/testenv") + " " +
           args + " --dir " + sh_quote(env_.dir().string());
  }

  // Stops east, waits so the client sees it down and writes elsewhere,
  // starts it again whatever the stop said.
  std::string restart_cmd() const {
    const std::string c = kDisturbed;
    return testenv_cmd("stop-cluster --cluster " + c) + "; rc=$?; sleep 2; " +
           testenv_cmd("start-cluster --cluster " + c) + " || exit 1; exit $rc";
  }

  // Stops east, writes in home so etcd's (shared) revision passes every
  // version east has given out, compacts etcd at that revision, starts
  // east again (always): resuming east's watch from the informer's
  // version gets 410.
  std::string expire_cmd() const {
    const std::string c = kDisturbed;
    const std::string write =
        sh_quote(env_.kubectl().string()) + " --kubeconfig " +
        sh_quote(env_.at("home").kubeconfig.string()) + " -n " + sh_quote(ns_) +
        " create configmap " + unique_name("expire-write") +
        " --from-literal=step=expire";
    return "{ " + testenv_cmd("stop-cluster --cluster " + c) + " && " + write +
           " && " + testenv_cmd("compact") + "; }; rc=$?; " +
           testenv_cmd("start-cluster --cluster " + c) + " || exit 1; exit $rc";
  }

  testenv env_;
  std::string ns_;
};

TEST_F(FanOutInformer, SyncsRelaysEveryClusterAndConvergesAfterRestartAnd410) {
  const auto bin = clientgo_binary();
  ASSERT_FALSE(bin.empty());
  auto sidecar = sidecar_process::start(routes());

  std::vector<std::string> argv = {bin,
                                   "--fanout",
                                   "--kubeconfig",
                                   sidecar.kubeconfig().string(),
                                   "--namespace",
                                   ns_,
                                   "--timeout",
                                   "420s",
                                   "--restart-cluster",
                                   kDisturbed,
                                   "--restart-cmd",
                                   restart_cmd(),
                                   "--expire-cmd",
                                   expire_cmd(),
                                   "-v"};
  for (const auto& c : env_.clusters()) {
    argv.push_back("--direct");
    argv.push_back(c.name + "=" + c.kubeconfig.string());
  }
  process::process_spec spec;
  spec.argv = std::move(argv);
  // Past --timeout plus the program's cleanup, so it reports rather than
  // being killed.
  spec.timeout = std::chrono::seconds(480);
  auto run = process::run_process(spec);
  ASSERT_TRUE(run) << "cannot run " << bin << ": " << run.error().message();
  const auto& r = *run;

  // The check lines say what the informer did (relists, 410s seen).
  std::cout << r.out << std::flush;
  EXPECT_FALSE(r.timed_out)
      << "clientgo-e2e killed after " << spec.timeout.count() << " ms";
  EXPECT_EQ(r.exit_code, 0) << r.out;
  for (const char* check :
       {"setup", "fanout-informer-sync", "fanout-informer-events",
        "fanout-informer-restart", "fanout-informer-410"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string("ok ") + check));
  }
  EXPECT_THAT(r.out, Not(HasSubstr("FAIL")));
  if (HasFailure()) {
    std::string log = sidecar.process().output();
    constexpr std::size_t keep = 256 * 1024;
    if (log.size() > keep) log = "..." + log.substr(log.size() - keep);
    std::cerr << "clientgo-e2e stderr:\n"
              << r.err << "\nsidecar log:\n"
              << log << std::endl;
  }
}

}  // namespace
}  // namespace mca::test
