#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "support/sidecar_process.hpp"
#include "support/testenv.hpp"

namespace mca::test {

// One real sidecar (the built binary) for a whole test suite, routing by
// the standard table over the three test clusters, and a namespace of the
// suite's own in every cluster.
class SidecarTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    env_ = std::make_unique<testenv>(testenv::load(error));
    if (!error.empty()) {
      setup_error_ = error;
      return;
    }
    namespace_ = unique_name("e2e");
    for (const auto& c : env_->clusters()) {
      auto r = env_->kubectl(c.name, {"create", "namespace", namespace_});
      if (!r.ok())
        setup_error_ = "creating the namespace in " + c.name + ": " + r.err;
    }
    try {
      sidecar_ = std::make_unique<sidecar_process>(
          sidecar_process::start(standard_routes(*env_)));
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }

  static void TearDownTestSuite() {
    if (env_ && !namespace_.empty()) {
      for (const auto& c : env_->clusters()) {
        env_->kubectl(c.name,
                      {"delete", "namespace", namespace_, "--wait=false"});
      }
    }
    sidecar_.reset();
    env_.reset();
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  // kubectl through the sidecar, in the suite's namespace.
  static process::process_result via(std::vector<std::string> args,
                                     const std::string& stdin_data = {}) {
    args.insert(args.begin(), {"-n", namespace_});
    return kubectl_via(*env_, *sidecar_, std::move(args), stdin_data);
  }
  // kubectl straight to one cluster, in the suite's namespace.
  static process::process_result direct(const std::string& cluster,
                                        std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", namespace_});
    return env_->kubectl(cluster, std::move(args));
  }
  // Where a ConfigMap exists, asking each cluster directly.
  static std::vector<std::string> clusters_holding(const std::string& name) {
    std::vector<std::string> out;
    for (const auto& c : env_->clusters()) {
      if (direct(c.name, {"get", "configmap", name, "-o", "name"}).ok()) {
        out.push_back(c.name);
      }
    }
    return out;
  }

  static inline std::unique_ptr<testenv> env_;
  static inline std::unique_ptr<sidecar_process> sidecar_;
  static inline std::string namespace_;
  static inline std::string setup_error_;
};

}  // namespace mca::test
