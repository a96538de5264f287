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

std::string operator_metrics::render() const {
  std::vector<prometheus::MetricFamily> families;
  {
    const std::lock_guard lock(mutex_);
    families = registry_->Collect();
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mca::op
