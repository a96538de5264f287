#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "sidecar/routes/table_source.hpp"
#include "sidecar/subscription/reconnect_policy.hpp"
#include "sidecar/subscription/state_store.hpp"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace mca::sidecar {

class sidecar_metrics;
struct stream_outcome;

struct subscription_options {
  std::string address;               // HOST:PORT of the operator's gRPC
  std::filesystem::path ca_file;     // PEM; re-read at every connect
  std::filesystem::path token_file;  // bearer token; re-read likewise
  std::filesystem::path state_dir;   // where to save tables; empty: none
  std::string version_in_force;      // from the saved table, else ""
  // The operator sends a heartbeat every 10 s; a stream silent this long is
  // dead (a half-open TCP connection, a stuck operator) and is cancelled.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(35)};
  backoff::options reconnect = reconnect_policy::default_options;
};

// The sidecar's subscription to the operator (ARCHITECTURE.md §5): one
// RoutingDiscovery.StreamRoutes call at a time over TLS, authenticated by
// the projected service-account token, kept up for the sidecar's lifetime.
// Each push is judged by decide_push(); a good table is put in force in the
// table_source, saved through the state_store and ACKed, a bad one NACKed
// while the table in force stays. When the stream ends, for whatever
// reason, the table in force keeps serving and the subscription reconnects
// per reconnect_policy.
//
// Runs on two threads of its own: the stream (sync gRPC: it blocks in
// Read) and a watchdog that cancels a stream silent for idle_timeout.
// start() and stop() are for the owner's thread; stop() cancels the call
// in progress and joins, and returns within a few milliseconds.
class routes_subscription {
 public:
  routes_subscription(subscription_options options, table_source& tables,
                      sidecar_metrics& metrics);
  ~routes_subscription();  // stops
  routes_subscription(const routes_subscription&) = delete;
  routes_subscription& operator=(const routes_subscription&) = delete;
  routes_subscription(routes_subscription&&) = delete;
  routes_subscription& operator=(routes_subscription&&) = delete;

  void start();
  void stop();

  // What /routes shows as the source of a table this pushed.
  std::string source_name() const { return "operator " + options_.address; }

 private:
  void run();
  void watch();
  stream_outcome run_stream();
  // Sleeps `delay` unless stop() comes first; false if it did.
  bool wait(std::chrono::milliseconds delay);
  void heard();

  subscription_options options_;
  table_source& tables_;
  sidecar_metrics& metrics_;
  std::optional<state_store> state_;

  // Stream thread only.
  std::string version_in_force_;
  bool in_force_from_operator_ = false;
  bool last_error_is_connection_ = false;

  // Shared with the watchdog and stop().
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  grpc::ClientContext* call_ = nullptr;  // the stream in progress, if any
  std::chrono::steady_clock::time_point last_heard_;
  bool idle_cancelled_ = false;

  std::thread stream_thread_;
  std::thread watchdog_thread_;
};

}  // namespace mca::sidecar
