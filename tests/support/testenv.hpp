#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/process/run_process.hpp"

namespace mca::test {

// One API server of hack/testenv, as DIR/clusters.json describes it.
struct cluster {
  std::string name;
  std::string server;
  std::filesystem::path ca_file;
  std::filesystem::path kubeconfig;
  std::filesystem::path client_cert_file;
  std::filesystem::path client_key_file;
  std::filesystem::path token_file;
};

// The running test clusters. Loading fails the calling test (ADD_FAILURE via
// the returned error text) with the command that starts them; tests never
// skip because the clusters are missing.
class testenv {
 public:
  // Reads $MCA_TESTENV_DIR/clusters.json (default .testenv in the source
  // tree) and checks every cluster answers /readyz. On failure returns an
  // empty testenv and sets `error` to a message naming `make testenv-up`.
  static testenv load(std::string& error);

  const std::vector<cluster>& clusters() const { return clusters_; }
  const cluster& at(const std::string& name) const;
  const std::filesystem::path& kubectl() const { return kubectl_; }

  // The testenv directory (for hack/testenv stop-cluster and friends).
  const std::filesystem::path& dir() const { return dir_; }

  // Runs hack/testenv with these arguments and --dir of this testenv.
  process::process_result hack_testenv(std::vector<std::string> args) const;

  // Runs the testenv's kubectl against one cluster's admin kubeconfig.
  process::process_result kubectl(const std::string& cluster_name,
                                  std::vector<std::string> args,
                                  const std::string& stdin_data = {}) const;
  // The same with any kubeconfig (e.g. one that talks to a sidecar).
  process::process_result kubectl_with(
      const std::filesystem::path& kubeconfig, std::vector<std::string> args,
      const std::string& stdin_data = {}) const;

 private:
  std::vector<cluster> clusters_;
  std::filesystem::path kubectl_;
  std::filesystem::path dir_;
};

// A name unique to this test run, valid as a Kubernetes object name.
std::string unique_name(const std::string& prefix);

}  // namespace mca::test
