#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/raw_http.hpp"
#include "support/testenv.hpp"

namespace mca::test {

// The routing table the end-to-end tests use: ConfigMaps (and anything
// else) labelled cluster=east go to east, cluster=west to west, everything
// else to home; deletecollection is refused. Each target authenticates
// differently, so every credential kind is exercised: home with its token
// file, east with its admin client certificate, west through its
// kubeconfig.
std::string standard_routes(const testenv& env);

// A real mca-sidecar process (the binary the build produced) on free
// ports, with its own temp directory holding the routes file, the pod
// files it writes and a kubeconfig for clients that talk to it.
class sidecar_process {
 public:
  // Starts the sidecar and waits until /readyz answers 200. The ports are
  // read from its start-up line, logged at info: a `--log-level` in
  // extra_args must not be above info. Throws
  // std::runtime_error with the sidecar's output when it does not.
  static sidecar_process start(const std::string& routes_yaml,
                               std::vector<std::string> extra_args = {});

  unsigned short port() const { return port_; }
  unsigned short admin_port() const { return admin_port_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& routes_file() const { return routes_; }
  // A kubeconfig whose only context talks to the sidecar with its CA and
  // the placeholder token it wrote (as an in-cluster app would).
  const std::filesystem::path& kubeconfig() const { return kubeconfig_; }
  std::string ca_pem() const;
  child_process& process() { return process_; }

  raw_response admin_get(const std::string& path) const;
  raw_response request(const raw_request& req) const;

 private:
  child_process process_;
  std::filesystem::path dir_, routes_, kubeconfig_;
  unsigned short port_ = 0, admin_port_ = 0;
};

// Runs the testenv's kubectl against the sidecar.
process::process_result kubectl_via(const testenv& env,
                                    const sidecar_process& sidecar,
                                    std::vector<std::string> args,
                                    const std::string& stdin_data = {});

}  // namespace mca::test
