#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/kube/informer.hpp"
#include "common/kube/rest_client.hpp"
#include "operator/compile/policy_compiler.hpp"
#include "operator/controller/target_prober.hpp"
#include "operator/controller/token_minter.hpp"
#include "operator/stream/table_hub.hpp"

namespace mca::op {

struct control_options {
  std::string operator_namespace = "mca-system";
  // Called after every compile pass (ok: every pod that needed a table got
  // one) and every target probe, for metrics.
  std::function<void(bool ok)> on_reconciled;
  std::function<void(const std::string& target, bool ready)> on_probed;
  // An injected pod came or went (the CA manager keeps a ConfigMap in
  // every namespace that has one).
  std::function<void()> on_pods_changed;
  // Changes that arrive together (an apply of several objects, a relist)
  // are compiled once.
  std::chrono::milliseconds debounce{100};
};

// The controller: informers on ClusterTargets, RoutingPolicies, the
// operator namespace's Secrets, Namespaces and injected Pods; on a change it
// judges the policies, recompiles the tables of the pods the change can
// affect and publishes them to the hub. With status writing on (the Lease
// leader), it also writes the policies' and targets' status. Runs on one
// io_context thread.
class control_loop {
 public:
  control_loop(boost::asio::io_context& io, kube::rest_client& home,
               table_hub& hub, control_options options);
  ~control_loop();
  control_loop(const control_loop&) = delete;
  control_loop& operator=(const control_loop&) = delete;

  void start();
  void stop();  // from the io thread
  bool synced() const;

  // The injected pod `ns/name` as cached, for the authenticator.
  std::optional<pod_info> injected_pod(const std::string& ns,
                                       const std::string& name) const;

  // Namespaces with at least one injected pod, as cached.
  std::set<std::string> injected_namespaces() const;

  // Only the Lease leader writes status; set from the elector's callbacks.
  void set_writes_status(bool on);
  // A sidecar refused a table: written to its policies' status.
  void record_nack(const std::string& pod_key, const std::string& version,
                   const std::string& error);

 private:
  void changed(std::set<std::string> namespaces, bool everything,
               std::optional<std::string> pod_key);
  void reconcile();
  boost::asio::awaitable<void> write_status();
  boost::asio::awaitable<void> probe_targets();
  boost::asio::awaitable<void> mint_for(std::string target,
                                        token_request_credentials spec,
                                        std::optional<std::string> kubeconfig,
                                        std::string context);

  boost::asio::io_context& io_;
  kube::rest_client& home_;
  table_hub& hub_;
  control_options options_;
  std::vector<std::unique_ptr<kube::informer>> informers_;
  kube::informer* targets_ = nullptr;
  kube::informer* policies_ = nullptr;
  kube::informer* secrets_ = nullptr;
  kube::informer* pods_ = nullptr;
  kube::informer* namespaces_ = nullptr;
  boost::asio::steady_timer debounce_;
  bool scheduled_ = false;
  bool everything_dirty_ = true;
  std::set<std::string> dirty_namespaces_;
  std::set<std::string> dirty_pods_;
  bool writes_status_ = false;
  bool writing_status_ = false;
  bool stopping_ = false;

  // The last good table per pod (by uid), kept when a later compile fails.
  std::map<std::string, compiled_table> tables_;
  std::map<std::string, policy_verdict> verdicts_;    // by policy key
  std::map<std::string, std::string> target_errors_;  // by target name
  std::map<std::string, std::string> nacks_;          // policy key -> message
  std::map<std::string, std::string> written_;        // object key -> status
  // Target probes (leader only): every 30 s and when a target changes.
  target_prober prober_;
  boost::asio::steady_timer probe_timer_;
  std::map<std::string, nlohmann::json> entries_;  // resolved, by target
  std::string probed_entries_;
  std::map<std::string, probe_result> probes_;
  bool probing_ = false;
  // tokenRequest targets: the token in force per target, and which spec
  // (as JSON) it was minted for.
  struct minted_entry {
    minted_token token;
    std::string spec;
  };
  std::map<std::string, minted_entry> minted_;
  std::set<std::string> minting_;
  std::chrono::steady_clock::time_point last_probe_{};
  // Injected pods each policy selects (by key), from the last pass.
  std::map<std::string, std::int32_t> selected_;
};

}  // namespace mca::op
