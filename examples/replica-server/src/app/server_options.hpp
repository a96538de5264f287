#pragma once

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/common.h>

#include "log/logging.hpp"

namespace replica_server {

// Everything the command line says.
struct server_options {
  std::string listen_address = "127.0.0.1";
  unsigned short listen_port = 8443;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::vector<std::string> client_ca_files;  // at least one
  std::string kubeconfig;                    // empty: see kube_config_source
  std::string context;
  std::string service_account_dir =
      "/var/run/secrets/kubernetes.io/serviceaccount";
  log_format log = log_format::text;
  spdlog::level::level_enum log_level = spdlog::level::info;
  std::size_t max_body_bytes = 4096;
  std::size_t max_connections = 128;
  // Per Kubernetes request (list page, watch set-up, scale); /health's
  // check uses at most health_timeout.
  std::chrono::seconds kube_timeout{10};
  std::chrono::seconds health_timeout{3};
};

// Parses argv (pure but for what it prints). Returns the exit code when the
// program should stop now: 0 after --help or --version, 2 after one line
// naming a bad or missing argument. nullopt: run with `options`.
std::optional<int> parse_server_options(int argc, const char* const* argv,
                                        server_options& options,
                                        std::ostream& out, std::ostream& err);

// Where the Kubernetes configuration comes from, as client-go's
// BuildConfigFromFlags decides: --kubeconfig when given; else in-cluster
// when KUBERNETES_SERVICE_HOST is set (in a pod, and behind MCA's sidecar,
// which sets it); else $KUBECONFIG or ~/.kube/config.
enum class kube_config_source {
  kubeconfig_flag,
  in_cluster,
  default_kubeconfig
};

kube_config_source choose_kube_config(const server_options& options,
                                      bool service_host_set);

}  // namespace replica_server
