#include "operator/metrics/operator_metrics.hpp"

#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace mca::op {

operator_metrics::operator_metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      connected_(&prometheus::BuildGauge()
                      .Name("mca_connected_sidecars")
                      .Help("Sidecars with an open routing stream to this "
                            "replica")
                      .Register(*registry_)
                      .Add({})),
      push_duration_(&prometheus::BuildHistogram()
                          .Name("mca_push_duration_seconds")
                          .Help("From a new table for a pod to its sidecar's "
                                "ACK")
                          .Register(*registry_)
                          .Add({},
                               prometheus::Histogram::BucketBoundaries{
                                   0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5, 1, 2.5, 5, 10})),
      nacks_(&prometheus::BuildCounter()
                  .Name("mca_push_nacks_total")
                  .Help("Tables a sidecar refused")
                  .Register(*registry_)
                  .Add({})),
      reconciles_(&prometheus::BuildCounter()
                       .Name("mca_reconcile_total")
                       .Help("Reconcile passes by controller and result")
                       .Register(*registry_)),
      leader_(&prometheus::BuildGauge()
                   .Name("mca_operator_leader")
                   .Help("Whether this replica holds the Lease (and so "
                         "writes status)")
                   .Register(*registry_)
                   .Add({})),
      target_ready_(&prometheus::BuildGauge()
                         .Name("mca_clustertarget_ready")
                         .Help("1 when the target's /version answered the "
                               "last probe (leader only)")
                         .Register(*registry_)),
      admission_duration_(
          &prometheus::BuildHistogram()
               .Name("mca_webhook_admission_duration_seconds")
               .Help("Time to answer an AdmissionReview, by result")
               .Register(*registry_)),
      injections_(&prometheus::BuildCounter()
                       .Name("mca_webhook_injections_total")
                       .Help("Pods the webhook injected the sidecar into")
                       .Register(*registry_)
                       .Add({})),
      refusals_(&prometheus::BuildCounter()
                     .Name("mca_webhook_refusals_total")
                     .Help("Pods the webhook refused (hostNetwork, a pod "
                           "that cannot be patched, a bad review)")
                     .Register(*registry_)
                     .Add({})),
      certificate_expiry_(
          &prometheus::BuildGauge()
               .Name("mca_ca_expiry_timestamp_seconds")
               .Help("notAfter of the operator's signing CA and of the "
                     "serving certificate in force, in Unix seconds")
               .Register(*registry_)),
      rotations_(&prometheus::BuildCounter()
                      .Name("mca_ca_rotation_steps_total")
                      .Help("Certificate rotation steps this replica wrote "
                            "(leader only)")
                      .Register(*registry_)) {}

operator_metrics::~operator_metrics() = default;

void operator_metrics::set_connected_sidecars(std::size_t n) {
  connected_->Set(static_cast<double>(n));
}

void operator_metrics::record_push(std::chrono::nanoseconds offer_to_ack) {
  push_duration_->Observe(std::chrono::duration<double>(offer_to_ack).count());
}

void operator_metrics::record_nack() { nacks_->Increment(); }

void operator_metrics::record_reconcile(const std::string& controller,
                                        bool ok) {
  const std::lock_guard lock(mutex_);
  reconciles_
      ->Add({{"controller", controller}, {"result", ok ? "success" : "error"}})
      .Increment();
}

void operator_metrics::set_leader(bool leader) {
  leader_->Set(leader ? 1.0 : 0.0);
}

void operator_metrics::set_target_ready(const std::string& target, bool ready) {
  const std::lock_guard lock(mutex_);
  target_ready_->Add({{"target", target}}).Set(ready ? 1.0 : 0.0);
}

void operator_metrics::record_admission(const std::string& result,
                                        std::chrono::nanoseconds duration) {
  const std::lock_guard lock(mutex_);
  admission_duration_
      ->Add({{"result", result}},
            prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025,
                                                    0.005, 0.01, 0.025, 0.05,
                                                    0.1, 0.25, 0.5, 1, 2.5})
      .Observe(std::chrono::duration<double>(duration).count());
  if (result == "injected") injections_->Increment();
  if (result == "refused" || result == "error") refusals_->Increment();
}

void operator_metrics::set_certificate_expiry(
    const std::string& certificate,
    std::chrono::system_clock::time_point not_after) {
  const std::lock_guard lock(mutex_);
  certificate_expiry_->Add({{"certificate", certificate}})
      .Set(static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                   not_after.time_since_epoch())
                                   .count()));
}

void operator_metrics::record_rotation(const std::string& step) {
  const std::lock_guard lock(mutex_);
  rotations_->Add({{"step", step}}).Increment();
}

std::string operator_metrics::render() const {
  std::vector<prometheus::MetricFamily> families;
  {
    const std::lock_guard lock(mutex_);
    families = registry_->Collect();
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mca::op
