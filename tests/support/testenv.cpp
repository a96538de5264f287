#include "support/testenv.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace mca::test {
namespace {

std::filesystem::path testenv_dir() {
  if (const char* dir = std::getenv("MCA_TESTENV_DIR"); dir && *dir) {
    return dir;
  }
  return std::filesystem::path(MCA_SOURCE_DIR) / ".testenv";
}

}  // namespace

testenv testenv::load(std::string& error) {
  const auto dir = testenv_dir();
  const auto file = dir / "clusters.json";
  const std::string fix =
      "start them with `make testenv-up` (or hack/testenv up --dir " +
      dir.string() + ") and rerun";
  std::ifstream in(file);
  if (!in) {
    error = "the test clusters are not running (" + file.string() +
            " not found); " + fix;
    return {};
  }
  testenv env;
  env.dir_ = dir;
  try {
    auto j = nlohmann::json::parse(in);
    env.kubectl_ = j.at("kubectl").get<std::string>();
    for (const auto& c : j.at("clusters")) {
      env.clusters_.push_back(cluster{c.at("name").get<std::string>(),
                                      c.at("server").get<std::string>(),
                                      c.at("caFile").get<std::string>(),
                                      c.at("kubeconfig").get<std::string>(),
                                      c.at("clientCertFile").get<std::string>(),
                                      c.at("clientKeyFile").get<std::string>(),
                                      c.at("tokenFile").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    error = file.string() + " is unreadable (" + e.what() + "); " + fix;
    return {};
  }
  for (const auto& c : env.clusters_) {
    auto r = env.kubectl(c.name, {"get", "--raw", "/readyz"});
    if (!r.ok() || r.out != "ok") {
      error = "cluster " + c.name + " at " + c.server + " is not ready (" +
              r.err + "); " + fix;
      return {};
    }
  }
  return env;
}

const cluster& testenv::at(const std::string& name) const {
  for (const auto& c : clusters_) {
    if (c.name == name) return c;
  }
  throw std::out_of_range("no test cluster named " + name);
}

process::process_result testenv::kubectl(const std::string& cluster_name,
                                         std::vector<std::string> args,
                                         const std::string& stdin_data) const {
  return kubectl_with(at(cluster_name).kubeconfig, std::move(args), stdin_data);
}

process::process_result testenv::kubectl_with(
    const std::filesystem::path& kubeconfig, std::vector<std::string> args,
    const std::string& stdin_data) const {
  process::process_spec spec;
  spec.argv = {kubectl_.string(), "--kubeconfig", kubeconfig.string(),
               "--request-timeout=30s"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.stdin_data = stdin_data;
  spec.timeout = std::chrono::seconds(60);
  auto r = process::run_process(spec);
  if (!r) {
    process::process_result failed;
    failed.err = "cannot run " + kubectl_.string() + ": " + r.error().message();
    return failed;
  }
  return *r;
}

process::process_result testenv::hack_testenv(
    std::vector<std::string> args) const {
  process::process_spec spec;
  spec.argv = {std::string(MCA_SOURCE_DIR) + "/hack/testenv"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.argv.emplace_back("--dir");
  spec.argv.push_back(dir_.string());
  spec.timeout = std::chrono::seconds(180);
  auto r = process::run_process(spec);
  if (!r) {
    process::process_result failed;
    failed.err = "cannot run hack/testenv: " + r.error().message();
    return failed;
  }
  return *r;
}

std::string unique_name(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s = prefix + "-";
  for (int i = 0; i < 8; ++i) s += alphabet[rng() % 36];
  return s;
}

}  // namespace mca::test
