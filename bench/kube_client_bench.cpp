// Measures MCA's Kubernetes client against a real local API server:
// listing 1,000 ConfigMaps and decoding a watch of 1,000 events.
//
//   make testenv-up && build/bench/kube_client_bench [--cluster east]
//
// Reports wall time per phase and the process's peak resident memory.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/kube/connect.hpp"
#include "common/kube/kubeconfig.hpp"
#include "common/kube/rest_client.hpp"
#include "support/async.hpp"
#include "support/testenv.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using mca::kube::json;

long peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t)
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string cluster = "east";
  int objects = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--cluster") cluster = argv[i + 1];
    if (flag == "--objects") objects = std::stoi(argv[i + 1]);
  }
  std::string error;
  auto env = mca::test::testenv::load(error);
  if (!error.empty()) {
    std::cerr << "kube_client_bench: " << error << "\n";
    return 1;
  }
  mca::kube::kubeconfig_options opts;
  opts.files = {env.at(cluster).kubeconfig};
  auto config = mca::kube::load_kubeconfig(opts);
  if (!config) {
    std::cerr << "kube_client_bench: " << config.error().message << "\n";
    return 1;
  }
  boost::asio::io_context io;
  auto transport = mca::kube::make_transport(io.get_executor(), *config);
  if (!transport) {
    std::cerr << "kube_client_bench: " << transport.error().message << "\n";
    return 1;
  }
  mca::kube::rest_client client(*transport);
  auto run = [&](auto aw) {
    return mca::test::run_sync(io, std::move(aw), std::chrono::minutes(5));
  };
  const auto cms = mca::kube::resources::config_maps();
  const auto ns = mca::test::unique_name("bench");
  if (!run(client.create(mca::kube::resources::namespaces(), "",
                         {{"apiVersion", "v1"},
                          {"kind", "Namespace"},
                          {"metadata", {{"name", ns}}}}))) {
    std::cerr << "kube_client_bench: cannot create namespace\n";
    return 1;
  }
  auto empty = run(client.list(cms, ns));
  const std::string start_version = (*empty)["metadata"]["resourceVersion"];

  auto t = clock_type::now();
  for (int i = 0; i < objects; ++i) {
    json cm = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", "cm-" + std::to_string(i)}, {"labels", {{"app", "bench"}}}}},
        {"data", {{"payload", std::string(256, 'x')}}}};
    auto r = run(client.create(cms, ns, cm));
    if (!r) {
      std::cerr << "kube_client_bench: " << r.error().message << "\n";
      return 1;
    }
  }
  const double create_ms = ms_since(t);
  const long rss_before = peak_rss_kib();

  t = clock_type::now();
  auto all = run(client.list(cms, ns));
  const double list_ms = ms_since(t);
  if (!all || (*all)["items"].size() != static_cast<std::size_t>(objects)) {
    std::cerr << "kube_client_bench: list returned the wrong count\n";
    return 1;
  }

  mca::kube::watch_options wopts;
  wopts.resource_version = start_version;  // replays every creation
  wopts.allow_bookmarks = false;
  t = clock_type::now();
  auto w = run(client.watch(cms, ns, wopts));
  int events = 0;
  while (w && events < objects) {
    auto ev = run((*w)->next());
    if (!ev || !*ev) break;
    ++events;
  }
  const double watch_ms = ms_since(t);
  if (events != objects) {
    std::cerr << "kube_client_bench: watch delivered " << events << " events\n";
    return 1;
  }
  const long rss_after = peak_rss_kib();
  run(client.remove(mca::kube::resources::namespaces(), "", ns));

  std::printf("cluster %s, %d ConfigMaps of ~256 bytes\n", cluster.c_str(),
              objects);
  std::printf("create %d (sequential, one connection): %8.1f ms\n", objects,
              create_ms);
  std::printf("list %d in one request:                 %8.1f ms\n", objects,
              list_ms);
  std::printf("watch of %d events (replayed):          %8.1f ms\n", objects,
              watch_ms);
  std::printf("peak RSS: %ld KiB before list+watch, %ld KiB after\n",
              rss_before, rss_after);
  return 0;
}
