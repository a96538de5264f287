#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/http/admin_server.hpp"
#include "common/kube/connect.hpp"
#include "common/kube/kubeconfig.hpp"
#include "common/kube/leader_elector.hpp"
#include "common/kube/rest_client.hpp"
#include "common/tls/certificate_authority.hpp"
#include "common/util/descriptor_limit.hpp"
#include "common/util/text_file.hpp"
#include "common/version/build_info.hpp"
#include "operator/auth/token_review_authenticator.hpp"
#include "operator/certs/ca_manager.hpp"
#include "operator/config/operator_config.hpp"
#include "operator/controller/control_loop.hpp"
#include "operator/grpc/certificate_files.hpp"
#include "operator/grpc/tls_front.hpp"
#include "operator/metrics/operator_metrics.hpp"
#include "operator/runtime/operator_options.hpp"
#include "operator/stream/routing_discovery_service.hpp"
#include "operator/webhook/injection_webhook.hpp"
#include "operator/webhook/webhook_server.hpp"

namespace mca::op {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

void configure_logging(const operator_options& o) {
  auto logger = spdlog::stderr_logger_mt("mca-operator");
  if (o.log_format == "json") {
    // One JSON object per line; the message is escaped by hand because
    // spdlog's pattern cannot escape.
    logger->set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"mca-operator","msg":"%v"})",
        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(o.log_level));
}

mca::result<kube::client_config> home_config(const operator_options& o) {
  if (o.kubeconfig.empty() && std::getenv("KUBERNETES_SERVICE_HOST")) {
    return kube::load_in_cluster();
  }
  kube::kubeconfig_options k;
  if (!o.kubeconfig.empty()) k.files = {o.kubeconfig};
  if (!o.context.empty()) k.context = o.context;
  return kube::load_kubeconfig(k);
}

std::string operator_namespace(const operator_options& o) {
  if (!o.namespace_name.empty()) return o.namespace_name;
  if (const char* env = std::getenv("POD_NAMESPACE"); env && *env) return env;
  if (auto ns = util::read_text_file(
          "/var/run/secrets/kubernetes.io/serviceaccount/namespace", 253)) {
    if (!ns->empty()) return *ns;
  }
  return "mca-system";
}

std::string host_identity() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "mca-operator";
  return std::string(name) + "-" + std::to_string(getpid());
}

}  // namespace

int run_operator(const operator_options& options, std::ostream& err) {
  configure_logging(options);
  auto config = home_config(options);
  if (!config) {
    err << "mca-operator: " << config.error().message << "\n";
    return 1;
  }
  operator_config file_config;
  if (!options.config_file.empty()) {
    auto loaded = load_operator_config(options.config_file);
    if (!loaded) {
      err << "mca-operator: " << loaded.error().message << "\n";
      return 2;
    }
    file_config = *std::move(loaded);
  }
  const std::string ns = operator_namespace(options);
  injection_config injection = file_config.injection;
  injection.operator_address =
      resolved_operator_address(injection, std::string_view(ns));

  asio::io_context io(1);
  auto transport = kube::make_transport(io.get_executor(), *config);
  if (!transport) {
    err << "mca-operator: " << transport.error().message << "\n";
    return 1;
  }
  kube::rest_client home(*transport);

  operator_metrics metrics;
  control_loop* loop_ptr = nullptr;
  table_hub hub(table_hub::events{
      [&](const sidecar_identity& who, const std::string& version,
          const std::string& error) {
        metrics.record_nack();
        if (loop_ptr != nullptr)
          loop_ptr->record_nack(who.pod_key(), version, error);
      },
      [&](std::chrono::nanoseconds latency) { metrics.record_push(latency); },
      [&](std::size_t n) { metrics.set_connected_sidecars(n); }});
  control_options loop_options;
  loop_options.operator_namespace = ns;
  loop_options.on_reconciled = [&metrics](bool ok) {
    metrics.record_reconcile("routing", ok);
  };
  loop_options.on_probed = [&metrics](const std::string& target, bool ready) {
    metrics.set_target_ready(target, ready);
  };
  ca_manager* certificates_ptr = nullptr;
  loop_options.on_pods_changed = [&certificates_ptr] {
    if (certificates_ptr != nullptr) certificates_ptr->poke();
  };
  control_loop loop(io, home, hub, loop_options);
  loop_ptr = &loop;

  const certificates_config& cc = file_config.certificates;
  ca_manager_options ca_options;
  ca_options.namespace_name = ns;
  ca_options.secret_name = cc.secret_name;
  ca_options.webhook_configuration = file_config.webhook.configuration_name;
  ca_options.policy.ca_lifetime = cc.ca_lifetime;
  ca_options.policy.leaf_lifetime = cc.leaf_lifetime;
  ca_options.policy.renew_fraction = cc.renew_fraction;
  ca_options.policy.ca_grace = cc.ca_grace_period;
  ca_options.policy.bundle_propagation = cc.bundle_propagation;
  ca_options.policy.dns_names = certificate_dns_names(cc, ns);
  ca_options.policy.ip_addresses = cc.extra_ip_addresses;
  if (auto checked = check_policy(ca_options.policy); !checked) {
    err << "mca-operator: certificates: " << checked.error().message << "\n";
    return 2;
  }
  ca_options.injected_namespaces = [&loop] {
    return loop.injected_namespaces();
  };
  ca_options.on_rotated = [&metrics](const std::string& step) {
    metrics.record_rotation(step);
  };
  std::function<void()> on_certificates;  // set once the servers exist
  ca_options.on_loaded = [&metrics,
                          &on_certificates](const certificate_bundle& b) {
    if (auto ca = tls::inspect_certificate(b.ca.cert_pem)) {
      metrics.set_certificate_expiry("ca", ca->not_after);
    }
    if (auto leaf = tls::inspect_certificate(b.leaf.cert_pem)) {
      metrics.set_certificate_expiry("serving", leaf->not_after);
    }
    if (on_certificates) on_certificates();
  };
  auto certificates = std::make_shared<ca_manager>(io, home, ca_options);
  certificates_ptr = certificates.get();
  token_review_authenticator auth(
      io.get_executor(), home,
      [&loop](const std::string& pod_ns, const std::string& name) {
        return loop.injected_pod(pod_ns, name);
      });
  routing_discovery_service service(hub, auth);

  // gRPC speaks plaintext on a private Unix socket; the TLS front owns the
  // TCP port (TLS 1.3 only, certificates reloaded from their files).
  std::error_code ec;
  const auto socket_dir = std::filesystem::temp_directory_path() /
                          ("mca-operator-" + std::to_string(getpid()));
  std::filesystem::create_directories(socket_dir, ec);
  std::filesystem::permissions(socket_dir, std::filesystem::perms::owner_all,
                               ec);
  const auto socket_path = socket_dir / "grpc.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path.string(),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    err << "mca-operator: cannot start the gRPC server on "
        << socket_path.string() << "\n";
    return 1;
  }

  // The routing stream serves the operator's own CA-signed certificate
  // unless it was given one (e.g. from cert-manager).
  std::shared_ptr<certificate_files> cert_files;
  std::shared_ptr<const tls_context_source> grpc_certificates = certificates;
  if (!options.grpc_cert.empty()) {
    certificate_files_options cert_options;
    cert_options.on_error = [](const mca::error& e) {
      spdlog::warn("gRPC serving certificate: {}; the previous one stays",
                   e.message);
    };
    cert_options.on_reload = [](const grpc_tls_context& c) {
      spdlog::info("gRPC serving certificate reloaded: {}", c.subject());
    };
    auto certs = certificate_files::load(
        io.get_executor(),
        certificate_paths{options.grpc_cert, options.grpc_key}, cert_options);
    if (!certs) {
      err << "mca-operator: " << certs.error().message << "\n";
      return 1;
    }
    cert_files = *certs;
    cert_files->start();
    grpc_certificates = cert_files;
  }
  tls_front_config front_config;
  front_config.address = options.grpc_address;
  front_config.port = options.grpc_port;
  front_config.backend_socket = socket_path;
  // A sidecar's stream holds three descriptors here (its TLS connection,
  // the relay's to the gRPC server, the gRPC server's end); the rest of the
  // operator (informers, webhook, admin, files) keeps a reserve of 256.
  // A fixed 1,024 left 5,000 sidecars' streams waiting in the backlog.
  const std::size_t fds = util::raise_descriptor_limit();
  front_config.limits.max_connections =
      options.max_stream_connections != 0
          ? options.max_stream_connections
          : std::max<std::size_t>(64, (fds > 512 ? fds - 256 : fds / 2) / 3);
  spdlog::info("routing stream: up to {} connections ({} descriptors)",
               front_config.limits.max_connections, fds);
  auto bound =
      tls_front::bind(io.get_executor(), grpc_certificates, front_config);
  if (!bound) {
    err << "mca-operator: " << bound.error().message << "\n";
    return 1;
  }
  tls_front& front = **bound;

  std::vector<std::string> excluded = injection.excluded_namespaces;
  excluded.push_back(ns);
  injection_webhook injector(
      injection_context{injection,
                        {},
                        excluded,
                        std::string(current_build().version),
                        injection_mode::webhook},
      injection_webhook_hooks{
          [&certificates](std::string pod_ns) {
            return certificates->ensure_namespace_bundle(std::move(pod_ns));
          },
          [&metrics](admission_result r, std::chrono::nanoseconds d) {
            metrics.record_admission(to_string(r), d);
          }});
  webhook_server_config webhook_config;
  webhook_config.address = options.webhook_address;
  webhook_config.port = options.webhook_port;
  webhook_config.on_request_failure = [](const webhook_http_request& request,
                                         std::string_view what) {
    return injection_webhook::failure_reply(request, what);
  };
  // 64 reviews of at most 4 MiB (a Pod is at most ~1.5 MiB in etcd) in
  // memory at once, well inside the operator's memory limit.
  webhook_config.limits.max_connections = 64;
  webhook_config.limits.max_body_bytes = std::size_t{4} * 1024 * 1024;
  std::map<std::string, webhook_handler, std::less<>> webhook_routes;
  webhook_routes["/mutate"] = [&injector](webhook_http_request r) {
    return injector.handle(std::move(r));
  };
  webhook_routes["/healthz"] =
      [](webhook_http_request) -> asio::awaitable<webhook_http_reply> {
    webhook_http_reply reply;
    reply.content_type = "text/plain; charset=utf-8";
    reply.body = "ok";
    co_return reply;
  };
  auto webhook_bound = webhook_server::bind(
      io.get_executor(),
      [&certificates] { return certificates->webhook_context(); },
      webhook_config, std::move(webhook_routes));
  if (!webhook_bound) {
    err << "mca-operator: " << webhook_bound.error().message << "\n";
    return 1;
  }
  webhook_server& webhook = **webhook_bound;
  // Both ports accept once there is something to serve: the webhook always
  // needs the operator's certificates, the stream only without files.
  bool serving = false;
  on_certificates = [&] {
    if (serving) return;
    serving = true;
    webhook.start();
    if (!cert_files) front.start();
  };
  if (cert_files) front.start();

  http::admin_endpoint admin_at;
  admin_at.address = options.admin_address;
  admin_at.port = options.admin_port;
  std::map<std::string, http::admin_handler, std::less<>> routes;
  routes["/healthz"] = [] {
    return http::admin_reply{200, "text/plain; charset=utf-8", "ok"};
  };
  // Ready once the caches are synced and every pod's table is compiled:
  // then streams are accepted.
  routes["/readyz"] = [&hub, &certificates] {
    if (!certificates->loaded()) {
      return http::admin_reply{
          503, "application/json",
          json{{"status", "unhealthy"},
               {"kubernetes", "connected"},
               {"certificates", "not loaded: " + certificates->problem()}}
              .dump()};
    }
    if (hub.ready()) {
      return http::admin_reply{
          200, "application/json",
          json{{"status", "healthy"}, {"kubernetes", "connected"}}.dump()};
    }
    return http::admin_reply{503, "application/json",
                             json{{"status", "unhealthy"},
                                  {"kubernetes",
                                   "caches not synced: the API server has not "
                                   "answered every list yet"}}
                                 .dump()};
  };
  routes["/metrics"] = [&metrics] {
    return http::admin_reply{200, "text/plain; version=0.0.4; charset=utf-8",
                             metrics.render()};
  };
  admin_at.flag = "--admin-address";
  http::admin_server admin(admin_at, std::move(routes));
  if (auto started = admin.start(); !started) {
    err << "mca-operator: " << started.error().message << "\n";
    return 1;
  }

  std::unique_ptr<kube::leader_elector> elector;
  if (options.leader_election) {
    kube::leader_election_options lo;
    lo.lease_namespace = ns;
    lo.lease_name = "mca-operator";
    lo.identity = options.identity.empty() ? host_identity() : options.identity;
    elector = std::make_unique<kube::leader_elector>(
        home, lo,
        kube::leader_callbacks{
            [&] {
              spdlog::info("leader: this replica writes status");
              metrics.set_leader(true);
              loop.set_writes_status(true);
              certificates->set_leader(true);
            },
            [&] {
              spdlog::info("leader: stepped down");
              metrics.set_leader(false);
              loop.set_writes_status(false);
              certificates->set_leader(false);
            },
            [](const std::string& holder) {
              spdlog::info("leader: {} holds the lease", holder);
            },
            [](const error& e) {
              spdlog::warn("leader election: {}", e.message);
            }});
    asio::co_spawn(io, elector->run(), asio::detached);
  } else {
    loop.set_writes_status(true);
    certificates->set_leader(true);
  }
  loop.start();
  certificates->start();

  // Heartbeats, slow streams, hub readiness.
  asio::steady_timer ticker(io);
  bool stopping = false;
  std::function<void()> tick = [&] {
    ticker.expires_after(std::chrono::seconds(1));
    ticker.async_wait([&](const boost::system::error_code& e) {
      if (e || stopping) return;
      hub.tick(std::chrono::steady_clock::now());
      tick();
    });
  };
  tick();

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    spdlog::info("signal {}: shutting down", sig);
    stopping = true;
    ticker.cancel();
    front.stop();
    webhook.stop();
    if (cert_files) cert_files->stop();
    certificates->set_leader(false);
    certificates->stop();
    loop.stop();
    if (elector) elector->stop();
    // Streams end with the server; sidecars keep their tables and
    // reconnect to another replica.
    std::thread([&server] {
      server->Shutdown(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
    }).detach();
    asio::post(io, [&io] {
      // Pending informer requests and the Lease release (the elector's
      // last act) finish or are abandoned within a second.
      auto last = std::make_shared<asio::steady_timer>(io);
      last->expires_after(std::chrono::seconds(1));
      last->async_wait(
          [&io, last](const boost::system::error_code&) { io.stop(); });
    });
  });

  spdlog::info(
      "mca-operator {} in namespace {}: routing stream on {}:{}, webhook on "
      "{}:{}, admin on {}:{}",
      current_build().version, ns, options.grpc_address, front.port(),
      options.webhook_address, webhook.port(), options.admin_address,
      admin.port());
  io.run();
  server->Shutdown(std::chrono::system_clock::now());
  admin.stop();
  std::filesystem::remove_all(socket_dir, ec);
  return 0;
}

}  // namespace mca::op
