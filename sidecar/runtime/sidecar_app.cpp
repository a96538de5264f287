#include "sidecar/runtime/sidecar_app.hpp"

#include <algorithm>
#include <fstream>
#include <memory>
#include <ostream>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "common/routing/placement_index.hpp"
#include "common/routing/table_json.hpp"
#include "common/tls/self_signed.hpp"
#include "common/util/descriptor_limit.hpp"
#include "sidecar/admin/admin_server.hpp"
#include "sidecar/metrics/sidecar_metrics.hpp"
#include "sidecar/pod_files/pod_files.hpp"
#include "sidecar/proxy/proxy_listener.hpp"
#include "sidecar/routes/routes_file_watcher.hpp"
#include "sidecar/routes/table_source.hpp"
#include "sidecar/subscription/passthrough_table.hpp"
#include "sidecar/subscription/routes_subscription.hpp"
#include "sidecar/subscription/state_store.hpp"

namespace mca::sidecar {
namespace {

namespace asio = boost::asio;

// Clients offer h2 and http/1.1; the sidecar speaks HTTP/1.1 only, so it
// picks that and a client never tries HTTP/2 on it.
int select_http11(SSL* /*ssl*/, const unsigned char** out,
                  unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void* /*arg*/) {
  static constexpr unsigned char http11[] = {'h', 't', 't', 'p',
                                             '/', '1', '.', '1'};
  for (unsigned i = 0; i < inlen;) {
    const unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == sizeof(http11) &&
        std::equal(in + i + 1, in + i + 1 + len, http11)) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string pod_namespace(const sidecar_options& options) {
  if (!options.namespace_name.empty()) return options.namespace_name;
  if (const char* env = std::getenv("POD_NAMESPACE"); env && *env) return env;
  std::ifstream in(options.local.service_account_dir / "namespace");
  std::string ns;
  if (in && std::getline(in, ns) && !ns.empty()) return ns;
  return "default";
}

// The first table of an operator-fed sidecar, before the operator says
// anything: the saved one, else LocalPassthrough's, else none (FailClosed).
// Then the subscription, not yet started. Null after a start-up error,
// which is written to `err`.
std::unique_ptr<routes_subscription> make_subscription(
    const sidecar_options& options, table_source& tables,
    sidecar_metrics& metrics, std::ostream& err) {
  subscription_options sub;
  sub.address = options.operator_address;
  sub.ca_file = options.operator_ca;
  sub.token_file = options.token_file;
  sub.state_dir = options.state_dir;
  tables.set_waiting_reason("waiting for the operator at " +
                            options.operator_address);
  if (!options.state_dir.empty()) {
    auto saved = state_store(options.state_dir).load();
    if (!saved.warning.empty()) spdlog::warn("routes: {}", saved.warning);
    if (saved.table) {
      sub.version_in_force = saved.table->version;
      tables.install(std::move(*saved.table),
                     "state " + options.state_dir.string());
      spdlog::info(
          "routes: serving saved version {} from {} until the "
          "operator confirms or replaces it",
          sub.version_in_force, options.state_dir.string());
    }
  }
  if (!tables.current() && options.failure == failure_mode::local_passthrough) {
    auto passthrough = make_passthrough_table(options.local_server);
    if (!passthrough) {
      err << "mca-sidecar: " << passthrough.error().message << "\n";
      return nullptr;
    }
    tables.install(std::move(*passthrough), std::string(passthrough_policy));
    spdlog::info(
        "routes: LocalPassthrough: every request goes to {} until "
        "the operator's first table",
        options.local_server);
  }
  return std::make_unique<routes_subscription>(std::move(sub), tables, metrics);
}

}  // namespace

int run_sidecar(const sidecar_options& options, std::ostream& err) {
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  // Each proxied request can hold a client and an upstream descriptor.
  const std::size_t fds = util::raise_descriptor_limit();
  const std::size_t max_connections =
      options.max_connections != 0
          ? options.max_connections
          : std::max<std::size_t>(64, (fds > 128 ? fds - 64 : fds) / 2);

  // Serving identity: made fresh at every start, never stored elsewhere.
  tls::serving_identity_options id_options;
  id_options.dns_names = tls::default_sidecar_dns_names();
  id_options.ip_addresses = {"127.0.0.1", "::1"};
  id_options.not_before =
      std::chrono::system_clock::now() - std::chrono::minutes(5);
  auto identity = tls::make_serving_identity(id_options);
  if (!identity) {
    err << "mca-sidecar: " << identity.error().message << "\n";
    return 1;
  }
  asio::ssl::context tls(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  tls.set_options(asio::ssl::context::no_compression |
                  asio::ssl::context::single_dh_use);
  tls.use_certificate_chain(asio::buffer(identity->serving.cert_pem));
  tls.use_private_key(asio::buffer(identity->serving.key_pem),
                      asio::ssl::context::pem);
  SSL_CTX_set_alpn_select_cb(tls.native_handle(), select_http11, nullptr);
  // Idle keep-alive connections give their record buffers back (about
  // 34 KiB each), which matters with a thousand of them open.
  SSL_CTX_set_mode(tls.native_handle(), SSL_MODE_RELEASE_BUFFERS);

  sidecar_metrics metrics;
  table_source tables;
  routing::placement_index placements(options.placement_capacity);
  tables.on_change([&](const table_source::table_ptr& old,
                       const table_source::table_ptr& fresh) {
    metrics.table_loaded(fresh->version);
    if (!old) return;
    for (const auto& t : old->targets) {
      const auto* now = fresh->find_target(t.name);
      if (now == nullptr || now->server != t.server) {
        placements.forget_cluster(t.name);
      }
    }
  });

  asio::io_context main_context(1);
  std::unique_ptr<routes_file_watcher> watcher;
  if (!options.routes_file.empty()) {
    watcher = std::make_unique<routes_file_watcher>(
        main_context.get_executor(), options.routes_file, tables,
        options.routes_poll,
        [](const std::string& m) { spdlog::warn("{}", m); });
    if (auto loaded = watcher->load_now(); !loaded) {
      err << "mca-sidecar: " << loaded.error().message << "\n";
      return 1;
    }
    spdlog::info("routes: loaded version {} from {}", tables.current()->version,
                 options.routes_file.string());
  }
  std::unique_ptr<routes_subscription> subscription;
  if (!options.operator_address.empty()) {
    subscription = make_subscription(options, tables, metrics, err);
    if (!subscription) return 1;
  }

  proxy_shared shared{tables, placements, metrics, options.limits};
  std::vector<std::unique_ptr<worker_thread>> workers;
  std::vector<worker_thread*> worker_ptrs;
  for (unsigned i = 0; i < std::max(1U, options.workers); ++i) {
    workers.push_back(std::make_unique<worker_thread>(options.local));
    worker_ptrs.push_back(workers.back().get());
  }
  proxy_listener listener(worker_ptrs, tls, shared, max_connections);
  if (auto bound = listener.bind(options.listen_addresses, options.port);
      !bound) {
    err << "mca-sidecar: " << bound.error().message << "\n";
    return 1;
  }

  std::atomic<bool> files_written{false};
  std::atomic<bool> listener_up{false};
  admin_endpoint admin_at;
  admin_at.address = options.admin_address;
  admin_at.port = options.admin_port;
  admin_server admin(
      admin_at,
      [&] {
        readiness r;
        r.files_written = files_written.load();
        r.listener_up = listener_up.load();
        r.table_loaded = tables.current() != nullptr;
        r.detail = tables.last_error();
        if (!r.table_loaded) {
          if (auto waiting = tables.waiting_detail(); !waiting.empty()) {
            r.detail = std::move(waiting);
          }
        }
        return r;
      },
      [&] {
        nlohmann::json out;
        if (auto t = tables.current()) {
          out = routing::to_redacted_json(*t);
        } else {
          out = nlohmann::json::object();
        }
        if (auto e = tables.last_error(); !e.empty()) out["lastError"] = e;
        if (auto s = tables.source(); !s.empty()) out["source"] = s;
        return out.dump(2);
      },
      metrics);
  if (auto started = admin.start(); !started) {
    err << "mca-sidecar: " << started.error().message << "\n";
    return 1;
  }

  if (!options.pod_sa_dir.empty()) {
    pod_files files{identity->ca.cert_pem, pod_namespace(options),
                    make_placeholder_token()};
    if (auto written = write_pod_files(options.pod_sa_dir, files); !written) {
      err << "mca-sidecar: " << written.error().message << "\n";
      return 1;
    }
  }
  files_written = true;

  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards;
  guards.reserve(workers.size());
  for (auto& w : workers) guards.push_back(asio::make_work_guard(w->context));
  listener.start();
  threads.reserve(workers.size());
  for (auto& w : workers) {
    threads.emplace_back([ctx = &w->context] { ctx->run(); });
  }
  listener_up = true;
  spdlog::info(
      "mca-sidecar listening on port {} ({} worker(s), admin on {}:{}, up to "
      "{} connections)",
      listener.port(), workers.size(), options.admin_address, admin.port(),
      max_connections);
  if (watcher) watcher->start();
  if (subscription) subscription->start();

  // Shutdown: stop accepting, let requests in flight finish within the
  // grace period, end watches cleanly, then stop.
  asio::signal_set signals(main_context, SIGTERM, SIGINT);
  asio::steady_timer drain_timer(main_context);
  const auto drain_deadline =
      std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void()> wait_drained = [&] {
    if (shared.open_connections.load() == 0 ||
        std::chrono::steady_clock::now() >= *drain_deadline) {
      main_context.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait(
        [&](const boost::system::error_code&) { wait_drained(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: draining ({} connection(s), up to {} s)", signo,
                 shared.open_connections.load(), options.drain.count());
    listener_up = false;
    if (watcher) watcher->stop();
    // The table in force serves the drain; no new one is needed.
    if (subscription) subscription->stop();
    *drain_deadline = std::chrono::steady_clock::now() + options.drain;
    listener.stop_and_drain();
    wait_drained();
  });
  main_context.run();

  const int left = shared.open_connections.load();
  if (left > 0) {
    spdlog::warn("drain period over with {} connection(s) open; closing them",
                 left);
  }
  for (auto& g : guards) g.reset();
  for (auto& w : workers) w->context.stop();
  for (auto& t : threads) t.join();
  admin.stop();
  spdlog::info("mca-sidecar stopped");
  return 0;
}

}  // namespace mca::sidecar
