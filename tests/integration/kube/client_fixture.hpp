#pragma once

#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "common/kube/connect.hpp"
#include "common/kube/kubeconfig.hpp"
#include "common/kube/rest_client.hpp"
#include "support/async.hpp"
#include "support/testenv.hpp"

namespace mca::test {

// A test against the real testenv clusters through MCA's own client.
// Members are public so helpers shared between tests can use them.
class KubeClientTest : public ::testing::Test {
 public:
  void SetUp() override {
    std::string error;
    env_ = testenv::load(error);
    ASSERT_TRUE(error.empty()) << error;
  }

  kube::client_config config_for(const std::string& cluster) {
    kube::kubeconfig_options opts;
    opts.files = {env_.at(cluster).kubeconfig};
    auto config = kube::load_kubeconfig(opts);
    EXPECT_TRUE(config.has_value()) << config.error().message;
    return config.has_value() ? *config : kube::client_config{};
  }

  kube::rest_client client_for(const kube::client_config& config) {
    auto t = kube::make_transport(io_.get_executor(), config);
    EXPECT_TRUE(t.has_value()) << t.error().message;
    return kube::rest_client(t.has_value() ? *t : nullptr);
  }

  kube::rest_client client_for(const std::string& cluster) {
    return client_for(config_for(cluster));
  }

  // Lets the io_context run (background coroutines progress) for a while.
  void pause(std::chrono::milliseconds d) {
    run_until(
        io_, [] { return false; }, d);
  }

  template <class T>
  T run(boost::asio::awaitable<T> work) {
    return run_sync(io_, std::move(work));
  }

  // A fresh namespace for one test, so tests never see each other's objects.
  std::string make_namespace(kube::rest_client& client,
                             const std::string& prefix) {
    auto ns = unique_name(prefix);
    auto r = run(client.create(kube::resources::namespaces(), "",
                               {{"apiVersion", "v1"},
                                {"kind", "Namespace"},
                                {"metadata", {{"name", ns}}}}));
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return ns;
  }

  // Creates ConfigMaps with these names (and no data) in `ns`.
  void create_config_maps(kube::rest_client& client, const std::string& ns,
                          std::initializer_list<const char*> names) {
    for (const char* name : names) {
      auto r = run(
          client.create(kube::resources::config_maps(), ns, config_map(name)));
      ASSERT_TRUE(r) << r.error().message;
    }
  }

  static kube::json config_map(const std::string& name,
                               kube::json data = kube::json::object()) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}}},
            {"data", std::move(data)}};
  }

  boost::asio::io_context io_;
  testenv env_;
};

}  // namespace mca::test
