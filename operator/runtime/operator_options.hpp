#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace mca::op {

// Everything `mca-operator` (run mode) is told on its command line.
struct operator_options {
  std::filesystem::path kubeconfig;  // empty: in-cluster, else $KUBECONFIG
  std::string context;
  std::string namespace_name;  // --namespace, else POD_NAMESPACE, else the SA's
  std::string grpc_address = "0.0.0.0";
  std::uint16_t grpc_port = 9443;
  // Both empty: the routing stream serves the operator's own CA-signed
  // certificate (ca_manager), like the webhook.
  std::filesystem::path grpc_cert;
  std::filesystem::path grpc_key;
  std::filesystem::path config_file;  // empty: every default
  std::string webhook_address = "0.0.0.0";
  std::uint16_t webhook_port = 8443;
  std::string admin_address = "0.0.0.0";
  std::uint16_t admin_port = 8080;
  std::string identity;  // Lease holder; default: the host name
  bool leader_election = true;
  // Routing-stream connections served at once; 0: from the descriptor
  // limit (each stream holds three: TLS, the relay to gRPC, gRPC's end).
  std::size_t max_stream_connections = 0;
  std::string log_format = "text";
  std::string log_level = "info";
};

// Runs until SIGTERM or SIGINT. Returns the exit code; startup errors are
// one line on `err`.
int run_operator(const operator_options& options, std::ostream& err);

}  // namespace mca::op
