#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sidecar/proxy/proxy_context.hpp"

namespace mca::sidecar {

// What serves requests until the operator's first table (ARCHITECTURE §4):
// nothing (503, not ready) or the home cluster as if there were no sidecar.
enum class failure_mode { fail_closed, local_passthrough };

// Everything `mca-sidecar` (run mode) is told on its command line and
// environment.
struct sidecar_options {
  std::filesystem::path routes_file;  // --routes; empty: wait for the operator
  std::chrono::milliseconds routes_poll{std::chrono::seconds(1)};
  // --operator HOST:PORT (exclusive with --routes) and how to reach it.
  std::string operator_address;
  std::filesystem::path operator_ca;  // --operator-ca
  std::filesystem::path token_file;   // --token-file
  std::filesystem::path state_dir;    // --state-dir; empty: nothing saved
  failure_mode failure = failure_mode::fail_closed;  // --failure-mode
  // --local-server, else https://$KUBERNETES_SERVICE_HOST:$..._PORT: the
  // `local` target of LocalPassthrough.
  std::string local_server;
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
