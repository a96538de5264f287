// The control plane end to end: CRDs and objects applied with kubectl on
// `home`, a real mca-operator process, and a real mca-sidecar subscribed to
// it with a TokenRequest token bound to a Pod object, routing kubectl's
// requests to east, west and home as the RoutingPolicy says.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <mca/routing/v1alpha1/routing.grpc.pb.h>
#include <nlohmann/json.hpp>

#include "common/tls/self_signed.hpp"
#include "common/util/base64.hpp"
#include "common/util/text_file.hpp"
#include "support/operator_process.hpp"
#include "support/sidecar_process.hpp"
#include "support/testenv.hpp"

namespace mca::test {
namespace {

namespace fs = std::filesystem;
namespace pb = mca::routing::v1alpha1;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
using namespace std::chrono_literals;

std::string read(const fs::path& p) {
  auto text = util::read_text_file(p);
  return text ? *text : std::string();
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

// Shared by every test: one namespace on home (also the operator's), the
// CRDs, a ServiceAccount and an injected Pod, Secrets and ClusterTargets
// for the three clusters, and the operator's serving certificate.
class OperatorStream : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    env_ = new testenv(testenv::load(error));
    ASSERT_TRUE(error.empty()) << error;
    ns_ = new std::string(unique_name("mca-op"));
    suffix_ = new std::string(ns_->substr(ns_->rfind('-') + 1));
    dir_ = new fs::path(fs::temp_directory_path() / *ns_);
    fs::create_directories(*dir_);

    kubectl_ok({"apply", "--server-side", "--force-conflicts", "-f",
                std::string(MCA_SOURCE_DIR) + "/crds/"});
    kubectl_ok({"wait", "--for=condition=Established", "--timeout=60s",
                "crd/clustertargets.mca.x-k8s.io",
                "crd/routingpolicies.mca.x-k8s.io"});
    kubectl_ok({"create", "namespace", *ns_});
    kubectl_ok({"-n", *ns_, "create", "serviceaccount", "app-sa"});
    apply(json{{"apiVersion", "v1"},
               {"kind", "Pod"},
               {"metadata",
                {{"name", "app-0"},
                 {"namespace", *ns_},
                 {"labels", {{"app", "demo"}, {"mca.k8s.io/inject", "true"}}}}},
               {"spec",
                {{"serviceAccountName", "app-sa"},
                 {"containers", {{{"name", "app"}, {"image", "app:1"}}}}}}});
    // A pod the operator does not manage (no inject label).
    apply(json{{"apiVersion", "v1"},
               {"kind", "Pod"},
               {"metadata", {{"name", "plain-0"}, {"namespace", *ns_}}},
               {"spec",
                {{"serviceAccountName", "app-sa"},
                 {"containers", {{{"name", "app"}, {"image", "app:1"}}}}}}});

    for (const auto& c : env_->clusters()) {
      const std::string kubeconfig =
          "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
          "    server: " +
          c.server + "\n    certificate-authority-data: " +
          util::base64_encode(read(c.ca_file)) +
          "\nusers:\n- name: u\n  user:\n    token: " +
          trim(read(c.token_file)) +
          "\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n"
          "current-context: c\n";
      apply(json{
          {"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", c.name + "-kubeconfig"}, {"namespace", *ns_}}},
          {"stringData", {{"kubeconfig", kubeconfig}}}});
      apply(json{{"apiVersion", "mca.x-k8s.io/v1alpha1"},
                 {"kind", "ClusterTarget"},
                 {"metadata", {{"name", target(c.name)}}},
                 {"spec",
                  {{"server", c.server},
                   {"credentials",
                    {{"secretRef", {{"name", c.name + "-kubeconfig"}}}}},
                   {"allowedNamespaces", {{"names", {*ns_}}}}}}});
    }
    // A target this namespace may not use.
    apply(
        json{{"apiVersion", "mca.x-k8s.io/v1alpha1"},
             {"kind", "ClusterTarget"},
             {"metadata", {{"name", target("walled")}}},
             {"spec",
              {{"server", env_->at("east").server},
               {"credentials", {{"secretRef", {{"name", "east-kubeconfig"}}}}},
               {"allowedNamespaces", {{"names", {"somebody-else"}}}}}}});

    tls::serving_identity_options id;
    id.common_name = "mca-operator";
    id.ip_addresses = {"127.0.0.1"};
    id.not_before = std::chrono::system_clock::now() - 1h;
    auto identity = tls::make_serving_identity(id);
    ASSERT_TRUE(identity) << identity.error().message;
    write(*dir_ / "ca.crt", identity->ca.cert_pem);
    write(*dir_ / "tls.crt", identity->serving.cert_pem);
    write(*dir_ / "tls.key", identity->serving.key_pem);
  }

  static void TearDownTestSuite() {
    if (env_ == nullptr || ns_ == nullptr) return;
    for (const char* t : {"home", "east", "west", "walled", "minted"}) {
      env_->kubectl("home", {"delete", "clustertarget", target(t),
                             "--ignore-not-found", "--wait=false"});
    }
    // The test clusters run no namespace controller: the namespace's
    // content goes first, or later tests' operators see these pods.
    env_->kubectl("home", {"-n", *ns_, "delete", "pods,routingpolicies,secrets",
                           "--all", "--wait=false"});
    for (const auto& c : env_->clusters()) {
      env_->kubectl(c.name, {"delete", "namespace", *ns_, "--wait=false"});
    }
  }

  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  static std::string target(const std::string& cluster) {
    return cluster + "-" + *suffix_;
  }
  static process::process_result kubectl_ok(std::vector<std::string> args,
                                            const std::string& in = {}) {
    auto r = env_->kubectl("home", args, in);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r;
  }
  static void apply(const json& object) {
    kubectl_ok({"apply", "-f", "-"}, object.dump());
  }

  static json policy(const std::string& east_target,
                     const std::string& name = "by-region") {
    return json{
        {"apiVersion", "mca.x-k8s.io/v1alpha1"},
        {"kind", "RoutingPolicy"},
        {"metadata", {{"name", name}, {"namespace", *ns_}}},
        {"spec",
         {{"podSelector", {{"matchLabels", {{"app", "demo"}}}}},
          {"defaultTarget", target("home")},
          {"rules",
           {{{"name", "east"},
             {"match",
              {{"labelSelector", {{"matchLabels", {{"region", "east"}}}}}}},
             {"target", east_target}},
            {{"name", "west"},
             {"match",
              {{"labelSelector", {{"matchLabels", {{"region", "west"}}}}}}},
             {"target", target("west")}}}}}}};
  }

  // A token for app-sa bound to `pod` with `audience`, from TokenRequest.
  static std::string token(const std::string& pod,
                           const std::string& audience = "mca-operator") {
    auto r = kubectl_ok({"-n", *ns_, "create", "token", "app-sa", "--audience",
                         audience, "--bound-object-kind", "Pod",
                         "--bound-object-name", pod, "--duration", "1h"});
    return trim(r.out);
  }

  operator_process start_operator(const std::string& identity,
                                  unsigned short grpc_port = 0) {
    operator_process::options o;
    o.kubeconfig = env_->at("home").kubeconfig;
    o.namespace_name = *ns_;
    o.cert_file = *dir_ / "tls.crt";
    o.key_file = *dir_ / "tls.key";
    o.log_file = *dir_ / (identity + ".log");
    o.identity = identity;
    o.grpc_port = grpc_port;
    return operator_process::start(o);
  }

  sidecar_process start_sidecar(unsigned short operator_port) {
    const fs::path token_file = *dir_ / "sidecar-token";
    write(token_file, token("app-0"));
    // A state directory of its own: a table saved by an earlier test's
    // sidecar must not be this one's first table.
    const fs::path state = *dir_ / unique_name("state");
    return sidecar_process::start(
        "", {"--operator", "127.0.0.1:" + std::to_string(operator_port),
             "--operator-ca", (*dir_ / "ca.crt").string(), "--token-file",
             token_file.string(), "--state-dir", state.string(), "--namespace",
             *ns_});
  }

  static std::string version_of(const sidecar_process& s) {
    auto r = s.admin_get("/routes");
    if (r.status != 200) return {};
    return json::parse(r.body).value("version", "");
  }

  // Which cluster holds ConfigMap `name` in the namespace.
  static std::string where(const std::string& name) {
    std::string found;
    for (const auto& c : env_->clusters()) {
      auto r = env_->kubectl(c.name, {"-n", *ns_, "get", "configmap", name});
      if (r.exit_code == 0) found += (found.empty() ? "" : ",") + c.name;
    }
    return found;
  }
  void ensure_namespace_everywhere() {
    for (const char* c : {"east", "west"}) {
      env_->kubectl(c, {"create", "namespace", *ns_});
    }
  }

  static testenv* env_;
  static std::string* ns_;
  static std::string* suffix_;
  static fs::path* dir_;
};

testenv* OperatorStream::env_ = nullptr;
std::string* OperatorStream::ns_ = nullptr;
std::string* OperatorStream::suffix_ = nullptr;
fs::path* OperatorStream::dir_ = nullptr;

TEST_F(OperatorStream, SidecarRoutesByItsStreamedTableAndFollowsPolicyEdits) {
  ensure_namespace_everywhere();
  apply(policy(target("east")));
  auto op = start_operator("replica-a");
  auto sidecar = start_sidecar(op.grpc_port());
  const std::string first = version_of(sidecar);
  ASSERT_FALSE(first.empty());
  const json routes = json::parse(sidecar.admin_get("/routes").body);
  EXPECT_EQ(routes["policy"], *ns_ + "/by-region");

  auto r = kubectl_via(*env_, sidecar,
                       {"create", "configmap", "east-1", "--from-literal=a=b"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = kubectl_via(*env_, sidecar,
                  {"label", "configmap", "east-1", "region=east"});
  // Moving it by label is refused: the sidecar enforces the streamed table.
  EXPECT_NE(r.exit_code, 0);
  const std::string cm =
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME","labels":{"region":"REGION"}}})";
  auto configmap = [&](const std::string& name, const std::string& region) {
    std::string s = cm;
    s.replace(s.find("NAME"), 4, name);
    s.replace(s.find("REGION"), 6, region);
    return s;
  };
  r = kubectl_via(*env_, sidecar, {"create", "-f", "-"},
                  configmap("e-1", "east"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = kubectl_via(*env_, sidecar, {"create", "-f", "-"},
                  configmap("w-1", "west"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(where("e-1"), "east");
  EXPECT_EQ(where("w-1"), "west");
  EXPECT_EQ(where("east-1"), "home");

  // Edit: region=east now goes to west. The sidecar follows without a
  // restart.
  apply(policy(target("west")));
  ASSERT_TRUE(eventually([&] { return version_of(sidecar) != first; }, 10s))
      << sidecar.process().output();
  r = kubectl_via(*env_, sidecar, {"create", "-f", "-"},
                  configmap("e-2", "east"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(where("e-2"), "west");

  auto status = kubectl_ok(
      {"-n", *ns_, "get", "routingpolicy", "by-region", "-o",
       "jsonpath={.status.conditions[?(@.type==\"Accepted\")].status} "
       "{.status.selectedPods} {.status.observedGeneration} "
       "{.metadata.generation}"});
  EXPECT_EQ(status.out, "True 1 2 2");
  // The leader probed each target with the credentials sidecars get.
  std::string ready;
  EXPECT_TRUE(eventually(
      [&] {
        ready =
            env_->kubectl("home", {"get", "clustertarget", target("east"), "-o",
                                   "jsonpath={.status.conditions[?(@.type=="
                                   "\"Ready\")].status} "
                                   "{.status.version}"})
                .out;
        return ready.rfind("True v", 0) == 0;
      },
      15s))
      << ready;
  auto metrics = op.admin_get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("mca_connected_sidecars 1"));
  EXPECT_THAT(metrics, HasSubstr("mca_push_duration_seconds_count"));
  EXPECT_THAT(
      metrics,
      HasSubstr(
          "mca_reconcile_total{controller=\"routing\",result=\"success\"}"));
  EXPECT_THAT(metrics, HasSubstr("mca_clustertarget_ready{target=\"" +
                                 target("east") + "\"} 1"));
}

TEST_F(OperatorStream, TokenRequestTargetRoutesWithATokenTheOperatorMinted) {
  ensure_namespace_everywhere();
  // On east: the identity sidecars get there, allowed to edit the namespace.
  ASSERT_EQ(env_->kubectl("east", {"-n", *ns_, "create", "serviceaccount",
                                   "mca-remote"})
                .exit_code,
            0);
  // A Role of its own: testenv runs no controller manager, so the
  // aggregated ClusterRoles (edit, view) are empty there.
  ASSERT_EQ(
      env_->kubectl("east", {"-n", *ns_, "create", "role", "configmap-writer",
                             "--verb=create,get,list", "--resource=configmaps"})
          .exit_code,
      0);
  ASSERT_EQ(
      env_->kubectl("east", {"-n", *ns_, "create", "rolebinding",
                             "mca-remote-writer", "--role=configmap-writer",
                             "--serviceaccount=" + *ns_ + ":mca-remote"})
          .exit_code,
      0);
  json spec = json::object();
  spec["server"] = env_->at("east").server;
  spec["caBundle"] = util::base64_encode(read(env_->at("east").ca_file));
  spec["credentials"]["tokenRequest"] = {
      {"serviceAccount", "mca-remote"},
      {"namespace", *ns_},
      {"expirationSeconds", 3600},
      {"secretRef", {{"name", "east-kubeconfig"}}}};
  spec["allowedNamespaces"]["names"] = json::array({*ns_});
  apply(json{{"apiVersion", "mca.x-k8s.io/v1alpha1"},
             {"kind", "ClusterTarget"},
             {"metadata", {{"name", target("minted")}}},
             {"spec", spec}});
  apply(policy(target("minted")));
  auto op = start_operator("replica-t");
  // The sidecar has no table until the token is minted; a failed attempt
  // is retried after 10 s, so wait for it here, where a failure shows the
  // operator's log.
  ASSERT_TRUE(eventually(
      [&] {
        return op.process().output().find("minted a token for " + *ns_ +
                                          "/mca-remote") != std::string::npos;
      },
      40s))
      << op.process().output();
  auto sidecar = start_sidecar(op.grpc_port());
  ASSERT_FALSE(version_of(sidecar).empty());

  auto r = kubectl_via(*env_, sidecar, {"create", "-f", "-"},
                       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":)"
                       R"({"name":"minted-1","labels":{"region":"east"}}})");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << sidecar.process().output();
  EXPECT_EQ(where("minted-1"), "east");
  // The minted identity is all the sidecar has on east: what its Role does
  // not allow is refused there, by east's RBAC.
  r = kubectl_via(*env_, sidecar, {"delete", "configmap", "minted-1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err,
              HasSubstr("system:serviceaccount:" + *ns_ + ":mca-remote"));
}

TEST_F(OperatorStream, PolicyUsingADisallowedTargetIsNotAcceptedAndTablesStay) {
  apply(policy(target("east")));
  auto op = start_operator("replica-b");
  auto sidecar = start_sidecar(op.grpc_port());
  const std::string before = version_of(sidecar);
  ASSERT_FALSE(before.empty());

  apply(policy(target("walled")));
  std::string reason;
  ASSERT_TRUE(eventually(
      [&] {
        reason =
            env_->kubectl("home", {"-n", *ns_, "get", "routingpolicy",
                                   "by-region", "-o",
                                   "jsonpath={.status.conditions[0].reason}: "
                                   "{.status.conditions[0].message}"})
                .out;
        return reason.rfind("TargetNotAllowed", 0) == 0;
      },
      10s))
      << reason;
  EXPECT_THAT(reason,
              HasSubstr("does not allow RoutingPolicies in namespace \"" +
                        *ns_ + "\""));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(version_of(sidecar), before);

  // Fixed again: accepted, and the sidecar's table is the one it had.
  apply(policy(target("east")));
  ASSERT_TRUE(eventually(
      [&] {
        return env_->kubectl("home",
                             {"-n", *ns_, "get", "routingpolicy", "by-region",
                              "-o", "jsonpath={.status.conditions[0].reason}"})
                   .out == "Accepted";
      },
      10s));
  EXPECT_EQ(version_of(sidecar), before);
}

// A gRPC client with a chosen token: what a forged or misused token gets.
grpc::Status call_with(unsigned short port, const fs::path& ca,
                       const std::string& bearer) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = read(ca);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::SslCredentials(tls));
  auto stub = pb::RoutingDiscovery::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  if (!bearer.empty()) context.AddMetadata("authorization", "Bearer " + bearer);
  auto stream = stub->StreamRoutes(&context);
  pb::RoutesRequest hello;
  stream->Write(hello);
  pb::RoutesResponse response;
  while (stream->Read(&response)) {
    if (!response.heartbeat()) {
      stream->WritesDone();
      context.TryCancel();
    }
  }
  return stream->Finish();
}

TEST_F(OperatorStream, RefusesTokensOfOtherAudiencesPodsOrNone) {
  apply(policy(target("east")));
  auto op = start_operator("replica-c");
  const fs::path ca = *dir_ / "ca.crt";

  auto none = call_with(op.grpc_port(), ca, "");
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("no bearer token"));

  auto audience =
      call_with(op.grpc_port(), ca, token("app-0", "other-audience"));
  EXPECT_EQ(audience.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(audience.error_message(), HasSubstr("authenticate"));

  auto other_pod = call_with(op.grpc_port(), ca, token("plain-0"));
  EXPECT_EQ(other_pod.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(other_pod.error_message(),
              HasSubstr("pod " + *ns_ + "/plain-0 is not an injected pod"));

  // The right token gets its table (the call is cancelled after it).
  auto good = call_with(op.grpc_port(), ca, token("app-0"));
  EXPECT_EQ(good.error_code(), grpc::StatusCode::CANCELLED)
      << good.error_message();
}

TEST_F(OperatorStream, SidecarKeepsServingWhileTheOperatorRestarts) {
  ensure_namespace_everywhere();
  apply(policy(target("east")));
  auto op = start_operator("replica-d");
  auto sidecar = start_sidecar(op.grpc_port());
  const std::string version = version_of(sidecar);
  ASSERT_FALSE(version.empty());
  const unsigned short port = op.grpc_port();

  op.process().signal(SIGKILL);
  ASSERT_TRUE(op.process().wait(5s));
  auto r = kubectl_via(*env_, sidecar,
                       {"create", "configmap", "during-outage", "-o", "name"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(where("during-outage"), "home");
  EXPECT_EQ(sidecar.admin_get("/readyz").status, 200);
  EXPECT_EQ(version_of(sidecar), version);

  // Back on the same address: the sidecar reconnects on its own and the
  // next policy change reaches it.
  auto again = start_operator("replica-d", port);
  apply(policy(target("west")));
  ASSERT_TRUE(eventually([&] { return version_of(sidecar) != version; }, 30s))
      << sidecar.process().output();
}

// Without --grpc-cert the routing stream serves the operator's own CA's
// certificate, and a sidecar that trusts only the operator's trust bundle
// (ca-bundle.crt of its Secret: what the mca-ca-bundle ConfigMaps carry, as
// tests/integration/operator/webhook_test.cpp shows) subscribes and routes.
// Read from the Secret here: this pod was not admitted by a webhook, so
// any operator on `home` may have written its ConfigMap.
TEST_F(OperatorStream, SidecarsTrustTheOperatorsOwnCa) {
  apply(policy(target("east")));
  write(*dir_ / "own-ca.yaml",
        "certificates:\n  extraIPAddresses: [127.0.0.1]\n");
  operator_process::options o;
  o.kubeconfig = env_->at("home").kubeconfig;
  o.namespace_name = *ns_;
  o.config_file = *dir_ / "own-ca.yaml";
  o.log_file = *dir_ / "own-ca.log";
  o.identity = "own-ca";
  auto op = operator_process::start(o);
  std::string bundle;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = env_->kubectl(
            "home", {"-n", *ns_, "get", "secret", "mca-operator-certs", "-o",
                     "jsonpath={.data.ca-bundle\\.crt}"});
        auto decoded = util::base64_decode(trim(r.out));
        bundle = decoded ? *decoded : std::string();
        return r.exit_code == 0 &&
               bundle.find("BEGIN CERTIFICATE") != std::string::npos;
      },
      20s))
      << op.process().output();
  // Not the test's own CA: the one the operator made.
  EXPECT_NE(bundle, read(*dir_ / "ca.crt"));
  write(*dir_ / "bundle.crt", bundle);
  const fs::path token_file = *dir_ / "own-ca-token";
  write(token_file, token("app-0"));
  auto sidecar = sidecar_process::start(
      "", {"--operator", "127.0.0.1:" + std::to_string(op.grpc_port()),
           "--operator-ca", (*dir_ / "bundle.crt").string(), "--token-file",
           token_file.string(), "--namespace", *ns_});
  EXPECT_TRUE(eventually([&] { return !version_of(sidecar).empty(); }, 30s))
      << op.process().output() << sidecar.process().output();
}

TEST_F(OperatorStream, TwoReplicasOnlyTheLeaderWritesStatus) {
  apply(policy(target("east")));
  auto a = start_operator("replica-e1");
  auto b = start_operator("replica-e2");
  const auto leader_gauge = [](operator_process& p) {
    const std::string m = p.admin_get("/metrics").body;
    return m.find("\nmca_operator_leader 1\n") != std::string::npos;
  };
  ASSERT_TRUE(
      eventually([&] { return leader_gauge(a) != leader_gauge(b); }, 20s))
      << a.process().output() << b.process().output();
  operator_process& leader = leader_gauge(a) ? a : b;
  operator_process& follower = leader_gauge(a) ? b : a;
  auto holder = kubectl_ok({"-n", *ns_, "get", "lease", "mca-operator", "-o",
                            "jsonpath={.spec.holderIdentity}"});
  EXPECT_EQ(holder.out, &leader == &a ? "replica-e1" : "replica-e2");
  EXPECT_THAT(leader.process().output(),
              HasSubstr("this replica writes status"));
  EXPECT_THAT(follower.process().output(),
              Not(HasSubstr("this replica writes status")));
  // Both serve streams from their own caches.
  EXPECT_EQ(leader.admin_get("/readyz").status, 200);
  EXPECT_EQ(follower.admin_get("/readyz").status, 200);
}

}  // namespace
}  // namespace mca::test
