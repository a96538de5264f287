#include "sidecar/metrics/sidecar_metrics.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "common/version/build_info.hpp"

namespace mca::sidecar {
namespace {

// From sub-millisecond answers off a pooled connection to a slow list across
// clusters; past 30 s a request is stuck, and +Inf says so.
const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,   0.5,   1,      2.5,   5,    10,    30};
  return buckets;
}

// Resources beyond the series cap are counted under this one value.
constexpr std::string_view other_resource = "other";

template <class Metric, class Map, class Key, class Make>
Metric& find_or_add(Map& cache, const Key& key, Make make) {
  const auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  Metric& metric = make();
  cache.emplace(typename Map::key_type(key), &metric);
  return metric;
}

}  // namespace

sidecar_metrics::sidecar_metrics(clock_fn clock, std::size_t max_request_series)
    : clock_(std::move(clock)),
      max_request_series_(max_request_series),
      registry_(std::make_shared<prometheus::Registry>()),
      requests_(&prometheus::BuildCounter()
                     .Name("mca_requests_total")
                     .Help("Requests the sidecar answered, by target cluster, "
                           "verb, resource and status code")
                     .Register(*registry_)),
      durations_(&prometheus::BuildHistogram()
                      .Name("mca_request_duration_seconds")
                      .Help("Time from reading a request to the end of its "
                            "response, by target cluster and verb")
                      .Register(*registry_)),
      upstream_errors_(&prometheus::BuildCounter()
                            .Name("mca_upstream_errors_total")
                            .Help("Failures reaching a target cluster, by "
                                  "cluster and reason")
                            .Register(*registry_)),
      active_streams_(&prometheus::BuildGauge()
                           .Name("mca_active_streams")
                           .Help("Open long-lived streams (watches, "
                                 "exec/attach/port-forward upgrades)")
                           .Register(*registry_)),
      rule_matches_(&prometheus::BuildCounter()
                         .Name("mca_rule_matches_total")
                         .Help("Requests decided by each routing rule")
                         .Register(*registry_)),
      table_info_(&prometheus::BuildGauge()
                       .Name("mca_routing_table_info")
                       .Help("1 for the version of the routing table in force")
                       .Register(*registry_)),
      table_age_(&prometheus::BuildGauge()
                      .Name("mca_routing_table_age_seconds")
                      .Help("Seconds since the routing table in force was "
                            "loaded")
                      .Register(*registry_)),
      operator_connected_(&prometheus::BuildGauge()
                               .Name("mca_operator_connected")
                               .Help("1 while a routing stream to the "
                                     "operator is up, else 0")
                               .Register(*registry_)
                               .Add({})) {
  // Both results present at 0 from the start, so that an alert on NACKs
  // sees a series before the first one.
  auto& pushes = prometheus::BuildCounter()
                     .Name("mca_operator_pushes_total")
                     .Help(
                         "Routing tables pushed by the operator, by what "
                         "the sidecar answered (ack: in force, nack: "
                         "refused)")
                     .Register(*registry_);
  operator_acks_ = &pushes.Add({{"result", "ack"}});
  operator_nacks_ = &pushes.Add({{"result", "nack"}});
  const build_info build = current_build();
  prometheus::BuildGauge()
      .Name("mca_build_info")
      .Help("1, labelled with the sidecar's version and commit")
      .Register(*registry_)
      .Add({{"version", std::string(build.version)},
            {"commit", std::string(build.git_commit)}})
      .Set(1);
  // Present at 0 from the start, so that rate() and alerts see the series
  // before the first stream rather than an absent one.
  for (const char* kind : {"watch", "upgrade"}) {
    stream_series_.emplace(kind, &active_streams_->Add({{"kind", kind}}));
  }
}

sidecar_metrics::~sidecar_metrics() = default;

void sidecar_metrics::record_request(std::string_view cluster,
                                     std::string_view verb,
                                     std::string_view resource, int code,
                                     std::chrono::duration<double> elapsed) {
  prometheus::Counter* counter = nullptr;
  prometheus::Histogram* histogram = nullptr;
  {
    const std::lock_guard lock(series_mutex_);
    const std::tuple key{cluster, verb, resource, code};
    if (const auto it = request_series_.find(key);
        it != request_series_.end()) {
      counter = it->second;
    } else {
      // Every series costs memory here and in Prometheus for as long as the
      // pod lives, and the resource label comes from the app's requests (a
      // CRD-heavy app or a scanner can name thousands). Past the cap new
      // combinations share resource="other": the totals per cluster, verb
      // and code stay right, only the breakdown is lost. The "other" series
      // themselves are few (clusters x verbs x codes), so they do not count.
      const bool capped = capped_series_ >= max_request_series_;
      const std::string_view shown = capped ? other_resource : resource;
      if (!capped) ++capped_series_;
      counter = &find_or_add<prometheus::Counter>(
          request_series_,
          std::tuple{cluster, verb, shown, code}, [&]() -> auto& {
            return requests_->Add({{"cluster", std::string(cluster)},
                                   {"verb", std::string(verb)},
                                   {"resource", std::string(shown)},
                                   {"code", std::to_string(code)}});
          });
    }
    histogram = &find_or_add<prometheus::Histogram>(
        duration_series_, std::tuple{cluster, verb}, [&]() -> auto& {
          return durations_->Add(
              {{"cluster", std::string(cluster)}, {"verb", std::string(verb)}},
              duration_buckets());
        });
  }
  // Both are thread-safe on their own; no need to hold the lock.
  counter->Increment();
  histogram->Observe(std::max(0.0, elapsed.count()));
}

void sidecar_metrics::record_upstream_error(std::string_view cluster,
                                            std::string_view reason) {
  prometheus::Counter* counter = nullptr;
  {
    const std::lock_guard lock(series_mutex_);
    counter = &find_or_add<prometheus::Counter>(
        error_series_, std::tuple{cluster, reason}, [&]() -> auto& {
          return upstream_errors_->Add({{"cluster", std::string(cluster)},
                                        {"reason", std::string(reason)}});
        });
  }
  counter->Increment();
}

void sidecar_metrics::stream_opened(std::string_view kind) {
  prometheus::Gauge* gauge = nullptr;
  {
    const std::lock_guard lock(series_mutex_);
    gauge = &find_or_add<prometheus::Gauge>(
        stream_series_, kind, [&]() -> auto& {
          return active_streams_->Add({{"kind", std::string(kind)}});
        });
  }
  gauge->Increment();
}

void sidecar_metrics::stream_closed(std::string_view kind) {
  prometheus::Gauge* gauge = nullptr;
  {
    const std::lock_guard lock(series_mutex_);
    gauge = &find_or_add<prometheus::Gauge>(
        stream_series_, kind, [&]() -> auto& {
          return active_streams_->Add({{"kind", std::string(kind)}});
        });
  }
  gauge->Decrement();
}

void sidecar_metrics::record_rule_match(std::string_view policy,
                                        std::string_view rule) {
  prometheus::Counter* counter = nullptr;
  {
    const std::lock_guard lock(series_mutex_);
    counter = &find_or_add<prometheus::Counter>(
        rule_series_, std::tuple{policy, rule}, [&]() -> auto& {
          return rule_matches_->Add(
              {{"policy", std::string(policy)}, {"rule", std::string(rule)}});
        });
  }
  counter->Increment();
}

void sidecar_metrics::table_loaded(std::string version) {
  const auto now = clock_();
  const std::lock_guard lock(table_mutex_);
  table_loaded_at_ = now;
  if (table_age_series_ == nullptr) table_age_series_ = &table_age_->Add({});
  if (table_version_ == version) return;
  // Only the version in force is 1; a leftover series for the old version
  // would make `mca_routing_table_info == 1` match two tables.
  if (table_info_series_ != nullptr) table_info_->Remove(table_info_series_);
  table_info_series_ = &table_info_->Add({{"version", version}});
  table_info_series_->Set(1);
  table_version_ = std::move(version);
}

void sidecar_metrics::operator_connected(bool connected) {
  operator_connected_->Set(connected ? 1 : 0);
}

void sidecar_metrics::operator_push(bool accepted) {
  (accepted ? operator_acks_ : operator_nacks_)->Increment();
}

std::string sidecar_metrics::render() const {
  std::vector<prometheus::MetricFamily> families;
  {
    const std::lock_guard lock(table_mutex_);
    if (table_age_series_ != nullptr) {
      // Computed per scrape: a gauge set at load time would stay at 0.
      const std::chrono::duration<double> age = clock_() - table_loaded_at_;
      table_age_series_->Set(std::max(0.0, age.count()));
    }
    families = registry_->Collect();
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mca::sidecar
