// mca-operator: the control plane (ARCHITECTURE.md §5). main() stays thin;
// everything it wires up lives in libraries the tests link.
#include <iostream>
#include <string>
#include <string_view>

#include "common/cli/standard_options.hpp"
#include "operator/compile/compile_command.hpp"
#include "operator/inject/inject_command.hpp"
#include "operator/runtime/operator_options.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "compile") {
    return mca::op::run_compile_command(argc - 1, argv + 1, std::cout,
                                        std::cerr);
  }
  if (argc > 1 && std::string_view(argv[1]) == "inject") {
    return mca::op::run_inject_command(argc - 1, argv + 1, std::cin, std::cout,
                                       std::cerr);
  }
  const mca::cli::program prog{
      "mca-operator",
      "MCA operator: compiles RoutingPolicies and ClusterTargets into routing "
      "tables and streams them to sidecars.",
      "mca-operator [options]\n       mca-operator compile --pod POD.yaml "
      "--policies DIR --targets DIR [--secrets DIR]   (a pod's table)\n"
      "       mca-operator inject [--config FILE] [-f FILE]   (manifests with "
      "the sidecar injected, like the webhook)"};
  mca::op::operator_options o;
  std::string grpc = "0.0.0.0:9443", admin = "0.0.0.0:8080",
              webhook = "0.0.0.0:8443";
  std::string kubeconfig, cert, key, config;
  bool no_leader_election = false;
  po::options_description options("Operator");
  // clang-format off
  options.add_options()
      ("kubeconfig", po::value(&kubeconfig)->value_name("FILE"),
       "home cluster kubeconfig (default: in-cluster, else $KUBECONFIG)")
      ("context", po::value(&o.context)->value_name("NAME"), "kubeconfig context")
      ("namespace", po::value(&o.namespace_name)->value_name("NS"),
       "the operator's namespace: its Secrets, Lease and default allowed "
       "namespace (default: $POD_NAMESPACE, else its service account's)")
      ("grpc-address", po::value(&grpc)->value_name("HOST:PORT"),
       "routing stream listener (TLS 1.3), default 0.0.0.0:9443")
      ("config", po::value(&config)->value_name("FILE"),
       "operator configuration (YAML): injection, webhook, certificates")
      ("webhook-address", po::value(&webhook)->value_name("HOST:PORT"),
       "mutating webhook listener (TLS, /mutate), default 0.0.0.0:8443")
      ("grpc-cert", po::value(&cert)->value_name("FILE"),
       "serve the routing stream with this certificate (PEM chain, reloaded "
       "when it changes) instead of the operator's own CA's")
      ("grpc-key", po::value(&key)->value_name("FILE"),
       "the key of --grpc-cert (PEM)")
      ("admin-address", po::value(&admin)->value_name("HOST:PORT"),
       "health, readiness and metrics, default 0.0.0.0:8080")
      ("identity", po::value(&o.identity)->value_name("NAME"),
       "Lease holder identity (default: host name and pid)")
      ("max-stream-connections",
       po::value(&o.max_stream_connections)->value_name("N"),
       "routing-stream connections served at once (default: from the "
       "descriptor limit, a third of it less a reserve)")
      ("no-leader-election", po::bool_switch(&no_leader_election),
       "write status without holding the Lease (one replica only)")
      ("log-format", po::value(&o.log_format)->value_name("json|text"),
       "log format, default text")
      ("log-level", po::value(&o.log_level)->value_name("LEVEL"),
       "trace, debug, info (default), warn, error");
  // clang-format on
  po::variables_map vars;
  if (auto code = mca::cli::parse(prog, options, vars, argc, argv, std::cout,
                                  std::cerr)) {
    return *code;
  }
  if (!mca::cli::split_host_port(grpc, o.grpc_address, o.grpc_port)) {
    std::cerr << "mca-operator: --grpc-address must be HOST:PORT, got \""
              << grpc << "\"\n";
    return 2;
  }
  if (!mca::cli::split_host_port(webhook, o.webhook_address, o.webhook_port)) {
    std::cerr << "mca-operator: --webhook-address must be HOST:PORT, got \""
              << webhook << "\"\n";
    return 2;
  }
  if (cert.empty() != key.empty()) {
    std::cerr << "mca-operator: --grpc-cert and --grpc-key go together\n";
    return 2;
  }
  if (!mca::cli::split_host_port(admin, o.admin_address, o.admin_port)) {
    std::cerr << "mca-operator: --admin-address must be HOST:PORT, got \""
              << admin << "\"\n";
    return 2;
  }
  if (o.log_format != "json" && o.log_format != "text") {
    std::cerr << "mca-operator: --log-format must be json or text\n";
    return 2;
  }
  o.kubeconfig = kubeconfig;
  o.config_file = config;
  o.grpc_cert = cert;
  o.grpc_key = key;
  o.leader_election = !no_leader_election;
  return mca::op::run_operator(o, std::cerr);
}
