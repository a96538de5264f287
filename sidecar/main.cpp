// mca-sidecar: the data plane (ARCHITECTURE.md §3, §4). main() stays thin;
// everything it wires up lives in libraries the tests link.
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "common/cli/standard_options.hpp"
#include "sidecar/explain/explain.hpp"
#include "sidecar/runtime/sidecar_app.hpp"
#include "sidecar/subscription/passthrough_table.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "explain") {
    return mca::sidecar::run_explain(argc - 1, argv + 1, std::cout, std::cerr);
  }
  const mca::cli::program prog{
      "mca-sidecar",
      "MCA sidecar: serves the Kubernetes API on 127.0.0.1:6443 and routes "
      "each request to the cluster its routing table names.",
      "mca-sidecar [options]\n       mca-sidecar explain --routes FILE "
      "METHOD TARGET   (what a request would do; see explain --help)"};
  mca::sidecar::sidecar_options o;
  std::string routes, pod_sa_dir, local_sa_dir, admin = "0.0.0.0:9090";
  std::string operator_ca, token_file, state_dir, failure_mode;
  int port = -1;
  long request_timeout = 60, idle_timeout = 90, drain = 5;
  po::options_description options("Sidecar");
  // clang-format off
  options.add_options()
      ("routes", po::value(&routes)->value_name("FILE"),
       "routing table (YAML or JSON), reloaded when it changes")
      ("operator", po::value(&o.operator_address)->value_name("HOST:PORT"),
       "subscribe to the operator's routing stream (gRPC over TLS), e.g. "
       "mca-operator.mca-system.svc:9443; not with --routes")
      ("operator-ca", po::value(&operator_ca)->value_name("FILE"),
       "CA bundle (PEM) the operator's certificate must chain to; re-read "
       "at every connect")
      ("token-file", po::value(&token_file)->value_name("FILE"),
       "bearer token for the operator (projected service-account token, "
       "audience mca-operator); re-read at every connect")
      ("state-dir", po::value(&state_dir)->value_name("DIR"),
       "keep the operator's last good table in DIR/routes.json and serve it "
       "at once after a restart")
      ("failure-mode", po::value(&failure_mode)->value_name("MODE"),
       "until the operator's first table: FailClosed (503, not ready; the "
       "default) or LocalPassthrough (everything to the home cluster)")
      ("local-server", po::value(&o.local_server)->value_name("URL"),
       "the home cluster for LocalPassthrough (default: https:// and the "
       "sidecar's own $KUBERNETES_SERVICE_HOST and _PORT)")
      ("port", po::value(&port)->value_name("N"),
       "API listener port (default: $MCA_LISTEN_PORT, else 6443)")
      ("pod-sa-dir", po::value(&pod_sa_dir)->value_name("DIR"),
       "where to write ca.crt, namespace and token for the app")
      ("namespace", po::value(&o.namespace_name)->value_name("NS"),
       "the pod's namespace (default: $POD_NAMESPACE, else the local service "
       "account's)")
      ("local-sa-dir", po::value(&local_sa_dir)->value_name("DIR"),
       "the sidecar's own service-account directory, for `local` credentials "
       "(default /var/run/secrets/kubernetes.io/serviceaccount)")
      ("admin-address", po::value(&admin)->value_name("HOST:PORT"),
       "health, readiness, metrics and routes (default 0.0.0.0:9090)")
      ("workers", po::value(&o.workers)->value_name("N"),
       "proxy worker threads (default 1)")
      ("drain-seconds", po::value(&drain)->value_name("S"),
       "on SIGTERM, how long requests in flight may finish (default 5)")
      ("request-timeout", po::value(&request_timeout)->value_name("S"),
       "deadline of an ordinary request; watches and upgrades are exempt "
       "(default 60)")
      ("idle-timeout", po::value(&idle_timeout)->value_name("S"),
       "close a keep-alive client connection idle this long (default 90)")
      ("max-header-bytes", po::value(&o.limits.header_bytes)->value_name("N"),
       "request header limit, else 431 (default 65536)")
      ("max-body-bytes",
       po::value(&o.limits.inspected_body_bytes)->value_name("N"),
       "largest body read to route a request, else 413 (default 3 MiB)")
      ("max-connections", po::value(&o.max_connections)->value_name("N"),
       "client connections served at once (default: half the descriptor "
       "limit)")
      ("log-level", po::value(&o.log_level)->value_name("LEVEL"),
       "trace, debug, info, warn, error (default info)");
  // clang-format on
  po::variables_map vars;
  if (auto code = mca::cli::parse(prog, options, vars, argc, argv, std::cout,
                                  std::cerr)) {
    return *code;
  }
  const auto usage_error = [](const std::string& message) {
    std::cerr << "mca-sidecar: " << message << " (see mca-sidecar --help)\n";
    return 2;
  };
  if (port < 0) {
    if (const char* env = std::getenv("MCA_LISTEN_PORT"); env && *env) {
      try {
        port = std::stoi(env);
      } catch (const std::exception&) {
        return usage_error("MCA_LISTEN_PORT='" + std::string(env) +
                           "' is not a port number");
      }
    } else {
      port = 6443;
    }
  }
  if (port > 65535) {
    return usage_error("port " + std::to_string(port) + " is out of range");
  }
  o.port = static_cast<unsigned short>(port);
  if (!mca::cli::split_host_port(admin, o.admin_address, o.admin_port)) {
    return usage_error("--admin-address '" + admin + "' is not HOST:PORT");
  }
  if (request_timeout <= 0 || idle_timeout <= 0 || drain < 0) {
    return usage_error("timeouts must be positive");
  }
  if (!o.operator_address.empty()) {
    if (!routes.empty()) {
      return usage_error("--operator and --routes are mutually exclusive");
    }
    if (operator_ca.empty()) {
      return usage_error("--operator needs --operator-ca");
    }
    if (token_file.empty()) {
      return usage_error("--operator needs --token-file");
    }
  } else if (!operator_ca.empty() || !token_file.empty() ||
             !state_dir.empty() || !failure_mode.empty() ||
             !o.local_server.empty()) {
    return usage_error(
        "--operator-ca, --token-file, --state-dir, --failure-mode and "
        "--local-server apply only with --operator");
  }
  if (failure_mode == "LocalPassthrough") {
    o.failure = mca::sidecar::failure_mode::local_passthrough;
  } else if (!failure_mode.empty() && failure_mode != "FailClosed") {
    return usage_error(
        "--failure-mode must be FailClosed or LocalPassthrough"
        ", not '" +
        failure_mode + "'");
  }
  if (o.failure == mca::sidecar::failure_mode::local_passthrough &&
      o.local_server.empty()) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* service_port = std::getenv("KUBERNETES_SERVICE_PORT");
    auto server = mca::sidecar::local_server_from_environment(
        host ? host : "", service_port ? service_port : "");
    if (!server) return usage_error(server.error().message);
    o.local_server = *server;
  }
  o.operator_ca = operator_ca;
  o.token_file = token_file;
  o.state_dir = state_dir;
  o.routes_file = routes;
  o.pod_sa_dir = pod_sa_dir;
  if (!local_sa_dir.empty()) o.local.service_account_dir = local_sa_dir;
  o.limits.request_timeout = std::chrono::seconds(request_timeout);
  o.limits.idle_timeout = std::chrono::seconds(idle_timeout);
  o.drain = std::chrono::seconds(drain);
  return mca::sidecar::run_sidecar(o, std::cerr);
}
