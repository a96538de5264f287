#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/raw_http.hpp"

namespace mca::test {

// A real mca-operator process (the binary the build produced) against one
// testenv cluster, on free ports, serving the routing stream with the
// certificate and key it is given, or (none given) with its own CA's.
class operator_process {
 public:
  struct options {
    std::filesystem::path kubeconfig;  // the home cluster's admin kubeconfig
    std::string namespace_name;
    std::filesystem::path cert_file;  // empty: the operator's own CA
    std::filesystem::path key_file;
    std::filesystem::path config_file;  // --config, when set
    std::filesystem::path log_file;
    std::string identity;          // Lease holder name
    unsigned short grpc_port = 0;  // 0: any free port
    std::vector<std::string> extra_args;
  };

  // Starts it and waits for its start-up line (ports) and /readyz 200.
  // Throws std::runtime_error with its output when it does not get there.
  static operator_process start(const options& o);

  operator_process() = default;
  operator_process(operator_process&&) noexcept = default;
  operator_process& operator=(operator_process&&) noexcept = default;
  operator_process(const operator_process&) = delete;
  operator_process& operator=(const operator_process&) = delete;
  // Stops it as Kubernetes would (SIGTERM), so that it releases its Lease
  // and the next test's operator need not wait for it to expire.
  ~operator_process();

  unsigned short grpc_port() const { return grpc_port_; }
  unsigned short webhook_port() const { return webhook_port_; }
  unsigned short admin_port() const { return admin_port_; }
  child_process& process() { return process_; }
  raw_response admin_get(const std::string& path) const;

 private:
  child_process process_;
  unsigned short grpc_port_ = 0, webhook_port_ = 0, admin_port_ = 0;
};

}  // namespace mca::test
