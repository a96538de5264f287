#include "support/sidecar_process.hpp"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/util/text_file.hpp"

namespace mca::test {

std::string standard_routes(const testenv& env) {
  const auto& home = env.at("home");
  const auto& east = env.at("east");
  const auto& west = env.at("west");
  std::ostringstream y;
  y << "apiVersion: mca.x-k8s.io/v1alpha1\n"
       "kind: RoutingTable\n"
       "policy: e2e/route-by-cluster-label\n"
       "targets:\n"
       "  - name: home\n"
       "    server: "
    << home.server
    << "\n"
       "    caFile: "
    << home.ca_file.string()
    << "\n"
       "    credentials: {token: {file: "
    << home.token_file.string()
    << "}}\n"
       "  - name: east\n"
       "    server: "
    << east.server
    << "\n"
       "    caFile: "
    << east.ca_file.string()
    << "\n"
       "    credentials:\n"
       "      clientCertificate: {certFile: "
    << east.client_cert_file.string()
    << ", keyFile: " << east.client_key_file.string()
    << "}\n"
       "  - name: west\n"
       "    server: "
    << west.server
    << "\n"
       "    credentials: {kubeconfig: {file: "
    << west.kubeconfig.string()
    << "}}\n"
       "defaultTarget: home\n"
       "rules:\n"
       "  - name: no-deletecollection\n"
       "    match: {verbs: [deletecollection]}\n"
       "    reject: {code: 403, message: \"deleting whole collections is not "
       "allowed by the e2e policy\"}\n"
       "  - name: east-by-label\n"
       "    match: {labelSelector: {matchLabels: {cluster: east}}}\n"
       "    target: east\n"
       "  - name: west-by-label\n"
       "    match: {labelSelector: {matchLabels: {cluster: west}}}\n"
       "    target: west\n";
  return y.str();
}

sidecar_process sidecar_process::start(const std::string& routes_yaml,
                                       std::vector<std::string> extra_args) {
  sidecar_process s;
  s.dir_ =
      std::filesystem::temp_directory_path() / unique_name("mca-sidecar-test");
  std::filesystem::create_directories(s.dir_);
  std::vector<std::string> argv = {MCA_SIDECAR_BINARY};
  // Without a table the sidecar is fed by the operator (extra_args say
  // where).
  if (!routes_yaml.empty()) {
    s.routes_ = s.dir_ / "routes.yaml";
    std::ofstream(s.routes_) << routes_yaml;
    argv.insert(argv.end(), {"--routes", s.routes_.string()});
  }
  argv.insert(argv.end(), {"--port", "0", "--admin-address", "127.0.0.1:0",
                           "--pod-sa-dir", (s.dir_ / "pod-sa").string()});
  std::string ns = "e2e";
  if (auto it = std::find(extra_args.begin(), extra_args.end(), "--namespace");
      it != extra_args.end() && it + 1 != extra_args.end()) {
    ns = *(it + 1);
  } else {
    argv.insert(argv.end(), {"--namespace", ns});
  }
  // Debug logs help when a test fails, unless the test asks otherwise.
  if (std::find(extra_args.begin(), extra_args.end(), "--log-level") ==
      extra_args.end()) {
    argv.insert(argv.end(), {"--log-level", "debug"});
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  s.process_ = child_process::start(argv, s.dir_ / "sidecar.log");
  if (!s.process_.wait_for_output("mca-sidecar listening on port",
                                  std::chrono::seconds(20))) {
    throw std::runtime_error("mca-sidecar did not start:\n" +
                             s.process_.output());
  }
  static const std::regex line(
      R"(listening on port (\d+) \(.*admin on [^ ]+:(\d+),)");
  std::smatch m;
  // The line may still be being written when the wait above sees its start.
  std::string out = s.process_.output();
  const auto line_until =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!std::regex_search(out, m, line)) {
    if (std::chrono::steady_clock::now() > line_until) {
      throw std::runtime_error("cannot find the ports in:\n" + out);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    out = s.process_.output();
  }
  s.port_ = static_cast<unsigned short>(std::stoi(m[1]));
  s.admin_port_ = static_cast<unsigned short>(std::stoi(m[2]));
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (s.admin_get("/readyz").status != 200) {
    if (std::chrono::steady_clock::now() > until) {
      throw std::runtime_error("mca-sidecar never became ready:\n" +
                               s.process_.output());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  s.kubeconfig_ = s.dir_ / "kubeconfig";
  std::ofstream(s.kubeconfig_)
      << "apiVersion: v1\nkind: Config\n"
         "clusters:\n- name: sidecar\n  cluster:\n    server: "
         "https://127.0.0.1:"
      << s.port_ << "\n    certificate-authority: "
      << (s.dir_ / "pod-sa" / "ca.crt").string()
      << "\nusers:\n- name: app\n  user:\n    tokenFile: "
      << (s.dir_ / "pod-sa" / "token").string()
      << "\ncontexts:\n- name: sidecar\n  context: {cluster: sidecar, user: "
         "app, "
         "namespace: "
      << ns << "}\ncurrent-context: sidecar\n";
  return s;
}

std::string sidecar_process::ca_pem() const {
  auto pem = util::read_text_file(dir_ / "pod-sa" / "ca.crt");
  return pem ? *pem : std::string();
}

raw_response sidecar_process::admin_get(const std::string& path) const {
  raw_request req;
  req.target = path;
  req.timeout = std::chrono::seconds(5);
  return http_request("127.0.0.1", admin_port_, req);
}

raw_response sidecar_process::request(const raw_request& req) const {
  return https_request("127.0.0.1", port_, ca_pem(), req);
}

process::process_result kubectl_via(const testenv& env,
                                    const sidecar_process& sidecar,
                                    std::vector<std::string> args,
                                    const std::string& stdin_data) {
  return env.kubectl_with(sidecar.kubeconfig(), std::move(args), stdin_data);
}

}  // namespace mca::test
