#include "app/replica_server_app.hpp"

#include <csignal>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "api/api_handler.hpp"
#include "common/kube/connect.hpp"
#include "common/kube/kubeconfig.hpp"
#include "common/kube/rest_client.hpp"
#include "common/util/strings.hpp"
#include "common/util/text_file.hpp"
#include "common/version/build_info.hpp"
#include "kube/api_health.hpp"
#include "kube/deployment_cache.hpp"
#include "kube/scaler.hpp"
#include "log/logging.hpp"
#include "server/mtls_server.hpp"

namespace replica_server {
namespace {

namespace asio = boost::asio;

// Certificates and keys are a few KiB; a bigger file is the wrong file.
constexpr std::size_t pem_file_max = std::size_t{1024} * 1024;
// How long requests still running at SIGTERM get to finish.
constexpr auto shutdown_grace = std::chrono::seconds(1);

mca::result<pem_source> read_pem(const std::string& path) {
  auto text = mca::util::read_text_file(path, pem_file_max);
  if (!text) return text.error();
  return pem_source{path, *std::move(text)};
}

mca::result<mtls_settings> load_tls_files(const server_options& o) {
  mtls_settings s;
  auto cert = read_pem(o.tls_cert_file);
  if (!cert) return cert.error();
  s.certificate = *std::move(cert);
  auto key = read_pem(o.tls_key_file);
  if (!key) return key.error();
  s.key = *std::move(key);
  for (const auto& file : o.client_ca_files) {
    auto ca = read_pem(file);
    if (!ca) return ca.error();
    s.client_cas.push_back(*std::move(ca));
  }
  return s;
}

mca::result<mca::kube::client_config> load_kube_config(
    const server_options& o) {
  const bool service_host = std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;
  switch (choose_kube_config(o, service_host)) {
    case kube_config_source::in_cluster: {
      mca::kube::in_cluster_options in;
      in.dir = o.service_account_dir;
      return mca::kube::load_in_cluster(in);
    }
    case kube_config_source::kubeconfig_flag:
    case kube_config_source::default_kubeconfig: {
      mca::kube::kubeconfig_options k;
      if (!o.kubeconfig.empty()) k.files = {o.kubeconfig};
      if (!o.context.empty()) k.context = o.context;
      return mca::kube::load_kubeconfig(k);
    }
  }
  return mca::error::of(mca::error_source::internal, "no configuration");
}

server_config server_config_of(const server_options& o) {
  server_config c;
  c.address = o.listen_address;
  c.port = o.listen_port;
  c.limits.max_body_bytes = o.max_body_bytes;
  c.limits.max_connections = o.max_connections;
  // Above the one Kubernetes request a handler makes, so the client's own
  // timeout (a 503 that says what timed out) normally answers first.
  c.limits.handler_timeout = o.kube_timeout + std::chrono::seconds(5);
  return c;
}

std::string url_of(const std::string& address, unsigned short port) {
  const bool v6 = address.find(':') != std::string::npos;
  return "https://" + (v6 ? "[" + address + "]" : address) + ":" +
         std::to_string(port);
}

}  // namespace

int run_replica_server(const server_options& options, std::ostream& err) {
  configure_logging(options.log, options.log_level);

  auto tls_files = load_tls_files(options);
  if (!tls_files) {
    err << "replica-server: " << tls_files.error().message << "\n";
    return 1;
  }
  auto tls = mtls_context::create(*tls_files);
  if (!tls) {
    err << "replica-server: " << tls.error().message << "\n";
    return 1;
  }
  auto config = load_kube_config(options);
  if (!config) {
    err << "replica-server: " << config.error().message << "\n";
    return 1;
  }

  asio::io_context io(1);
  auto transport = mca::kube::make_transport(io.get_executor(), *config);
  if (!transport) {
    err << "replica-server: " << transport.error().message << "\n";
    return 1;
  }
  mca::http::request_options kube_options;
  kube_options.timeout = options.kube_timeout;
  mca::kube::rest_client kube(*transport, kube_options);
  mca::http::request_options health_options;
  health_options.timeout = options.health_timeout;
  mca::kube::rest_client health_client(*transport, health_options);

  deployment_cache cache(kube);
  scaler writer(kube);
  api_health health(cache, health_client);
  api_handler api(cache, writer, health);

  auto server = mtls_server::bind(
      io.get_executor(), *tls, server_config_of(options),
      [&api](api_request request) { return api.handle(std::move(request)); });
  if (!server) {
    err << "replica-server: " << server.error().message << "\n";
    return 1;
  }
  mtls_server& api_server = **server;

  asio::co_spawn(io, cache.run(), [](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      spdlog::error("informer: stopped: {}", x.what());
    } catch (...) {
      spdlog::error("informer: stopped");
    }
  });
  api_server.start();

  asio::signal_set signals(io, SIGTERM, SIGINT);
  asio::steady_timer grace(io);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    api_server.stop();
    cache.stop();
    // The transport's pooled connections keep the context busy: end it
    // once running requests had their moment.
    grace.expires_after(shutdown_grace);
    grace.async_wait([&io](const boost::system::error_code&) { io.stop(); });
  });

  spdlog::info(
      "replica-server {} listening on {} (mutual TLS 1.3, client CAs: {}); "
      "Kubernetes API {} ({})",
      mca::current_build().version,
      url_of(options.listen_address, api_server.port()),
      mca::join((*tls)->client_ca_subjects(), "; "), config->server,
      config->origin);
  io.run();
  spdlog::info("replica-server stopped");
  return 0;
}

}  // namespace replica_server
