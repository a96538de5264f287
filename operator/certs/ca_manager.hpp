#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/core/error.hpp"
#include "common/kube/informer.hpp"
#include "common/kube/rest_client.hpp"
#include "operator/certs/certificate_bundle.hpp"
#include "operator/certs/rotation_plan.hpp"
#include "operator/grpc/certificate_files.hpp"
#include "operator/webhook/webhook_tls_context.hpp"

namespace mca::op {

struct ca_manager_options {
  std::string namespace_name;  // where the Secret lives
  std::string secret_name = "mca-operator-certs";
  // The MutatingWebhookConfiguration whose caBundle we keep; empty: none.
  std::string webhook_configuration;
  rotation_policy policy;
  // Namespaces whose sidecars need the mca-ca-bundle ConfigMap (those with
  // injected pods). Called on the io thread.
  std::function<std::set<std::string>()> injected_namespaces;
  std::function<std::chrono::system_clock::time_point()> clock = [] {
    return std::chrono::system_clock::now();
  };
  // Every replica, each time a new good bundle is in force (first load
  // included). On the io thread.
  std::function<void(const certificate_bundle&)> on_loaded;
  // Rotation steps and publishing failures, for metrics and logs.
  std::function<void(const std::string& step)> on_rotated;
  // How often the leader re-checks what it published even when nothing
  // changed (informers make this a backstop, not the mechanism).
  std::chrono::seconds resync{30};
};

// The operator's certificates (ARCHITECTURE §5). Every replica reads the
// shared Secret through an informer and serves what it holds; the Lease
// leader alone creates it, rotates it and publishes its trust bundle to the
// webhook configuration (server-side apply, own field manager) and to the
// mca-ca-bundle ConfigMaps.
//
// The Secret is written whole in one request (create, or update with its
// resourceVersion as precondition), so a reader never sees half of a
// rotation and two replicas that both think they lead cannot interleave:
// the loser gets 409/AlreadyExists and re-reads.
//
// Serving snapshots (TLS contexts for both ports) are immutable and swapped
// atomically; a handshake uses the one current at accept, so established
// connections keep theirs across a rotation.
//
// Thread affinity: everything on the io_context's one thread, except
// current(), webhook_context(), trust_bundle() and status(), which are safe
// from any thread.
class ca_manager final : public tls_context_source {
 public:
  ca_manager(boost::asio::io_context& io, kube::rest_client& home,
             ca_manager_options options);
  ~ca_manager() override;
  ca_manager(const ca_manager&) = delete;
  ca_manager& operator=(const ca_manager&) = delete;

  void start();
  void stop();
  void set_leader(bool leader);
  // Something the leader publishes to may have changed (e.g. a pod in a new
  // namespace): reconcile soon.
  void poke();

  // True once a good bundle is in force.
  bool loaded() const noexcept { return snapshot_.load() != nullptr; }
  // gRPC front: the context in force. Only after loaded().
  std::shared_ptr<const grpc_tls_context> current() const override;
  // Webhook server: the context in force. Only after loaded().
  std::shared_ptr<const webhook_tls_context> webhook_context() const;
  // The PEM bundle clients should trust now (empty before the first load).
  std::string trust_bundle() const;
  // Why certificates are not (or no longer) in order, for /readyz and logs;
  // empty when all is well.
  std::string problem() const;

  // Admission path (any replica): make sure namespace `ns` has the
  // mca-ca-bundle ConfigMap with the bundle in force before a pod that
  // mounts it is admitted.
  boost::asio::awaitable<result<void>> ensure_namespace_bundle(std::string ns);

 private:
  struct snapshot {
    std::shared_ptr<const certificate_bundle> bundle;
    std::string trust;
    std::shared_ptr<const grpc_tls_context> grpc;
    std::shared_ptr<const webhook_tls_context> webhook;
  };

  void secret_changed();
  boost::asio::awaitable<void> leader_loop();
  // One pass; returns when to look again.
  boost::asio::awaitable<std::chrono::system_clock::time_point> reconcile();
  boost::asio::awaitable<result<void>> write_secret(
      const certificate_bundle& bundle, bool create);
  boost::asio::awaitable<result<void>> publish(std::string bundle_pem);
  // "" when the ConfigMap holds `pem` now; the owner's name when it
  // belongs to another installation and was left alone.
  boost::asio::awaitable<result<std::string>> apply_config_map(std::string ns,
                                                               std::string pem);
  void set_problem(std::string p);
  std::string secret_where() const;

  boost::asio::io_context& io_;
  kube::rest_client& home_;
  ca_manager_options options_;
  std::unique_ptr<kube::informer> secrets_;
  std::unique_ptr<kube::informer> webhooks_;
  std::unique_ptr<kube::informer> config_maps_;
  boost::asio::steady_timer wake_;
  bool leader_ = false;
  bool loop_running_ = false;
  bool stopping_ = false;
  std::string loaded_fingerprint_;
  std::atomic<std::shared_ptr<const snapshot>> snapshot_;
  mutable std::mutex problem_mutex_;
  std::string problem_;
};

}  // namespace mca::op
