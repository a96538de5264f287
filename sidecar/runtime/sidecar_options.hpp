#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sidecar/proxy/proxy_context.hpp"

namespace mca::sidecar {

// Everything `mca-sidecar` (run mode) is told on its command line and
// environment.
struct sidecar_options {
  std::filesystem::path routes_file;  // --routes; empty: wait for the operator
  std::chrono::milliseconds routes_poll{std::chrono::seconds(1)};
  std::vector<std::string> listen_addresses{"127.0.0.1", "::1"};
  unsigned short port = 6443;        // --port, else MCA_LISTEN_PORT
  std::filesystem::path pod_sa_dir;  // --pod-sa-dir: where the app's files go
  std::string namespace_name;        // --namespace, POD_NAMESPACE, local file
  routing::local_identity local;     // --local-sa-dir
  std::string admin_address = "0.0.0.0";
  unsigned short admin_port = 9090;
  unsigned workers = 1;
  std::chrono::seconds drain{5};
  std::size_t placement_capacity = 100000;
  std::size_t max_connections = 0;  // 0: from the descriptor limit
  proxy_limits limits;
  std::string log_level = "info";
};

}  // namespace mca::sidecar
