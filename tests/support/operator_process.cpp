#include "support/operator_process.hpp"

#include <chrono>
#include <csignal>
#include <regex>
#include <stdexcept>
#include <thread>

namespace mca::test {

operator_process operator_process::start(const options& o) {
  operator_process p;
  std::vector<std::string> argv = {MCA_OPERATOR_BINARY,
                                   "--kubeconfig",
                                   o.kubeconfig.string(),
                                   "--namespace",
                                   o.namespace_name,
                                   "--grpc-address",
                                   "127.0.0.1:" + std::to_string(o.grpc_port),
                                   "--webhook-address",
                                   "127.0.0.1:0",
                                   "--admin-address",
                                   "127.0.0.1:0",
                                   "--log-level",
                                   "debug"};
  if (!o.cert_file.empty()) {
    argv.insert(argv.end(), {"--grpc-cert", o.cert_file.string(), "--grpc-key",
                             o.key_file.string()});
  }
  if (!o.config_file.empty()) {
    argv.insert(argv.end(), {"--config", o.config_file.string()});
  }
  if (!o.identity.empty()) argv.insert(argv.end(), {"--identity", o.identity});
  argv.insert(argv.end(), o.extra_args.begin(), o.extra_args.end());
  p.process_ = child_process::start(argv, o.log_file);
  if (!p.process_.wait_for_output("admin on", std::chrono::seconds(20))) {
    throw std::runtime_error("mca-operator did not start:\n" +
                             p.process_.output());
  }
  static const std::regex line(
      R"(routing stream on [^ ]+:(\d+), webhook on [^ ]+:(\d+), admin on [^ ]+:(\d+))");
  std::smatch m;
  const std::string out = p.process_.output();
  if (!std::regex_search(out, m, line)) {
    throw std::runtime_error("cannot find the ports in:\n" + out);
  }
  p.grpc_port_ = static_cast<unsigned short>(std::stoi(m[1]));
  p.webhook_port_ = static_cast<unsigned short>(std::stoi(m[2]));
  p.admin_port_ = static_cast<unsigned short>(std::stoi(m[3]));
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  raw_response ready;
  while ((ready = p.admin_get("/readyz")).status != 200) {
    if (std::chrono::steady_clock::now() > until) {
      throw std::runtime_error(
          "mca-operator never became ready (last /readyz: " +
          std::to_string(ready.status) + " " + ready.body + ready.error +
          "):\n" + p.process_.output());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return p;
}

operator_process::~operator_process() {
  if (process_.running()) {
    process_.signal(SIGTERM);
    process_.wait(std::chrono::seconds(5));
  }
}

raw_response operator_process::admin_get(const std::string& path) const {
  raw_request req;
  req.target = path;
  req.timeout = std::chrono::seconds(5);
  return http_request("127.0.0.1", admin_port_, req);
}

}  // namespace mca::test
