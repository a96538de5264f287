#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace mca::sidecar {

// The sidecar's Prometheus metrics (ARCHITECTURE §6) in one registry.
// Every method is thread-safe: proxy workers record while the admin thread
// renders.
class sidecar_metrics {
 public:
  using clock_fn = std::function<std::chrono::system_clock::time_point()>;

  // Enough for every (cluster, verb, resource, code) a real application
  // produces, small enough that a scrape stays well under a megabyte.
  static constexpr std::size_t default_max_request_series = 2000;

  // `clock` gives "now" for the table age; tests inject their own.
  explicit sidecar_metrics(
      clock_fn clock = [] { return std::chrono::system_clock::now(); },
      std::size_t max_request_series = default_max_request_series);
  ~sidecar_metrics();
  sidecar_metrics(const sidecar_metrics&) = delete;
  sidecar_metrics& operator=(const sidecar_metrics&) = delete;
  sidecar_metrics(sidecar_metrics&&) = delete;
  sidecar_metrics& operator=(sidecar_metrics&&) = delete;

  // `resource` is the group-qualified plural ("deployments.apps",
  // "configmaps"); `code` the status sent to the app.
  void record_request(std::string_view cluster, std::string_view verb,
                      std::string_view resource, int code,
                      std::chrono::duration<double> elapsed);
  // `reason` comes from a small fixed set (connect, tls, timeout, ...).
  void record_upstream_error(std::string_view cluster, std::string_view reason);
  // `kind` is "watch" or "upgrade".
  void stream_opened(std::string_view kind);
  void stream_closed(std::string_view kind);
  void record_rule_match(std::string_view policy, std::string_view rule);
  // The table with `version` is now in force; its age counts from now.
  void table_loaded(std::string version);
  // Whether a stream to the operator is up (a message was heard on it).
  void operator_connected(bool connected);
  // A push from the operator was ACKed (`accepted`) or NACKed.
  void operator_push(bool accepted);

  // Everything in the Prometheus text exposition format (version 0.0.4).
  std::string render() const;

  std::shared_ptr<prometheus::Registry> registry() const noexcept {
    return registry_;
  }

 private:
  using request_key = std::tuple<std::string, std::string, std::string, int>;
  using pair_key = std::tuple<std::string, std::string>;

  // Orders stored keys and lookup keys of string_views alike, so that the
  // hot path looks a series up without copying its labels.
  struct key_less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return views(a) < views(b);
    }
    template <class... T>
    static auto views(const std::tuple<T...>& key) {
      return std::apply(
          [](const auto&... part) { return std::tuple{view(part)...}; }, key);
    }
    static std::string_view view(const std::string& s) { return s; }
    static std::string_view view(std::string_view s) { return s; }
    static int view(int i) { return i; }
  };

  clock_fn clock_;
  std::size_t max_request_series_;
  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* durations_;
  prometheus::Family<prometheus::Counter>* upstream_errors_;
  prometheus::Family<prometheus::Gauge>* active_streams_;
  prometheus::Family<prometheus::Counter>* rule_matches_;
  prometheus::Family<prometheus::Gauge>* table_info_;
  prometheus::Family<prometheus::Gauge>* table_age_;
  // Made at construction and never removed: no lock needed.
  prometheus::Gauge* operator_connected_;
  prometheus::Counter* operator_acks_ = nullptr;
  prometheus::Counter* operator_nacks_ = nullptr;

  // Guards the series caches: a lookup here is cheaper than building the
  // label map prometheus::Family::Add wants on every request.
  mutable std::mutex series_mutex_;
  std::map<request_key, prometheus::Counter*, key_less> request_series_;
  std::size_t capped_series_ = 0;  // request_series_ not for "other"
  std::map<pair_key, prometheus::Histogram*, key_less> duration_series_;
  std::map<pair_key, prometheus::Counter*, key_less> error_series_;
  std::map<std::string, prometheus::Gauge*, std::less<>> stream_series_;
  std::map<pair_key, prometheus::Counter*, key_less> rule_series_;

  // Held across a scrape too, so that no scrape sees the table info with
  // neither (or both) versions while it changes.
  mutable std::mutex table_mutex_;
  std::optional<std::string> table_version_;
  prometheus::Gauge* table_info_series_ = nullptr;
  prometheus::Gauge* table_age_series_ = nullptr;
  std::chrono::system_clock::time_point table_loaded_at_;
};

}  // namespace mca::sidecar
