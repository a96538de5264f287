#include "support/operator_process.hpp"

#include <chrono>
#include <csignal>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/process/run_process.hpp"

namespace mca::test {

namespace {

// What the operator process listens on, for a start-up failure's message:
// an admin port that refuses connections needs to be told apart from one
// that was never bound.
std::string listeners_of(int pid) {
  process::process_spec spec;
  spec.argv = {"ss", "-ltnpH"};
  spec.timeout = std::chrono::seconds(5);
  auto r = process::run_process(spec);
  if (!r) return "(ss could not run)";
  std::string out;
  std::istringstream lines(r->out);
  std::string line;
  const std::string needle = "pid=" + std::to_string(pid) + ",";
  while (std::getline(lines, line)) {
    if (line.find(needle) != std::string::npos) out += line + "\n";
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace

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
  // Up to the end of the line: the log may have been read while the
  // operator was still writing it ("admin on 127.0.0.1:4" of ":44217").
  static const std::regex line(
      R"(routing stream on [^ ]+:(\d+), webhook on [^ ]+:(\d+), admin on [^ ]+:(\d+)\n)");
  std::smatch m;
  std::string out = p.process_.output();
  const auto line_until =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!std::regex_search(out, m, line)) {
    if (std::chrono::steady_clock::now() > line_until) {
      throw std::runtime_error("cannot find the ports in:\n" + out);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    out = p.process_.output();
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
          "mca-operator never became ready (last /readyz on port " +
          std::to_string(p.admin_port_) + ": " + std::to_string(ready.status) +
          " " + ready.body + ready.error + "; running: " +
          (p.process_.running() ? "yes" : "no") + "; its listeners:\n" +
          listeners_of(p.process_.pid()) + "):\n" + p.process_.output());
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
