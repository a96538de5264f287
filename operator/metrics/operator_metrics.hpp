#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace mca::op {

// The operator's Prometheus metrics (ARCHITECTURE §6). Thread-safe.
class operator_metrics {
 public:
  operator_metrics();
  ~operator_metrics();
  operator_metrics(const operator_metrics&) = delete;
  operator_metrics& operator=(const operator_metrics&) = delete;

  void set_connected_sidecars(std::size_t n);
  // From a table being offered to a stream to the sidecar's ACK.
  void record_push(std::chrono::nanoseconds offer_to_ack);
  void record_nack();
  // controller: "routing"; result: "success" | "error".
  void record_reconcile(const std::string& controller, bool ok);
  void set_leader(bool leader);
  void set_target_ready(const std::string& target, bool ready);
  // result: injected | unchanged | skipped | refused | error.
  void record_admission(const std::string& result,
                        std::chrono::nanoseconds duration);
  // certificate: "ca" (the signing CA) | "serving" (the leaf both ports
  // serve); seconds since the epoch of its notAfter.
  void set_certificate_expiry(const std::string& certificate,
                              std::chrono::system_clock::time_point not_after);
  // step: create | renew_leaf | add_next_ca | promote_next_ca |
  // retire_previous_cas.
  void record_rotation(const std::string& step);

  std::string render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* connected_;
  prometheus::Histogram* push_duration_;
  prometheus::Counter* nacks_;
  prometheus::Family<prometheus::Counter>* reconciles_;
  prometheus::Gauge* leader_;
  prometheus::Family<prometheus::Gauge>* target_ready_;
  prometheus::Family<prometheus::Histogram>* admission_duration_;
  prometheus::Counter* injections_;
  prometheus::Counter* refusals_;
  prometheus::Family<prometheus::Gauge>* certificate_expiry_;
  prometheus::Family<prometheus::Counter>* rotations_;
  mutable std::mutex mutex_;
};

}  // namespace mca::op
