#include "common/kube/leader_elector.hpp"

#include <ctime>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mca::kube {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

}  // namespace

std::string format_micro_time(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>(micros));
  return std::string(buf, n) + frac;
}

leader_elector::leader_elector(rest_client& client,
                               leader_election_options options,
                               leader_callbacks callbacks)
    : client_(client),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)) {}

void leader_elector::stop() {
  stopping_ = true;
  if (timer_) timer_->cancel();
}

void leader_elector::observe(const json& spec) {
  const std::string holder = spec.value("holderIdentity", "");
  const std::string renew = spec.value("renewTime", "");
  if (holder != observed_holder_ || renew != observed_renew_time_) {
    if (holder != observed_holder_ && callbacks_.on_new_leader) {
      callbacks_.on_new_leader(holder);
    }
    observed_holder_ = holder;
    observed_renew_time_ = renew;
    observed_at_ = std::chrono::steady_clock::now();
  }
}

json leader_elector::lease_spec(const json& old_spec) const {
  const auto now = format_micro_time(std::chrono::system_clock::now());
  json spec = old_spec.is_object() ? old_spec : json::object();
  const bool new_holder = spec.value("holderIdentity", "") != options_.identity;
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = std::max<long long>(
      1,
      std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration)
          .count());
  spec["renewTime"] = now;
  if (new_holder) {
    const bool had_holder = spec.contains("acquireTime");
    spec["acquireTime"] = now;
    spec["leaseTransitions"] =
        spec.value("leaseTransitions", 0) + (had_holder ? 1 : 0);
  }
  return spec;
}

asio::awaitable<bool> leader_elector::try_acquire_or_renew() {
  auto current = co_await client_.get(
      resources::leases(), options_.lease_namespace, options_.lease_name);
  if (!current) {
    if (!current.error().is_api(404)) {
      if (callbacks_.on_error) callbacks_.on_error(current.error());
      co_return false;
    }
    json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata",
                   {{"name", options_.lease_name},
                    {"namespace", options_.lease_namespace}}},
                  {"spec", lease_spec(json::object())}};
    lease["spec"]["leaseTransitions"] = 0;
    auto created = co_await client_.create(resources::leases(),
                                           options_.lease_namespace, lease);
    if (!created) {
      if (!created.error().is_api(409) && callbacks_.on_error) {
        callbacks_.on_error(created.error());
      }
      co_return false;
    }
    observe((*created)["spec"]);
    co_return true;
  }
  json& lease = *current;
  const json spec = lease.value("spec", json::object());
  observe(spec);
  const std::string holder = spec.value("holderIdentity", "");
  const auto duration =
      std::chrono::seconds(spec.value("leaseDurationSeconds", 0));
  const bool expired =
      std::chrono::steady_clock::now() > observed_at_ + duration;
  if (!holder.empty() && holder != options_.identity && !expired) {
    co_return false;
  }
  // The resourceVersion in metadata makes this an optimistic update: if
  // another candidate wrote first we get 409 and try again later.
  lease["spec"] = lease_spec(spec);
  auto updated = co_await client_.update(resources::leases(),
                                         options_.lease_namespace, lease);
  if (!updated) {
    if (!updated.error().is_api(409) && callbacks_.on_error) {
      callbacks_.on_error(updated.error());
    }
    co_return false;
  }
  observe((*updated)["spec"]);
  co_return true;
}

asio::awaitable<void> leader_elector::release() {
  auto current = co_await client_.get(
      resources::leases(), options_.lease_namespace, options_.lease_name);
  if (!current) co_return;
  json& lease = *current;
  if (lease["spec"].value("holderIdentity", "") != options_.identity) co_return;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] =
      format_micro_time(std::chrono::system_clock::now());
  co_await client_.update(resources::leases(), options_.lease_namespace, lease);
}

asio::awaitable<void> leader_elector::run() {
  timer_ =
      std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  auto last_renew = std::chrono::steady_clock::now();
  while (!stopping_) {
    const bool ok = co_await try_acquire_or_renew();
    const auto now = std::chrono::steady_clock::now();
    if (ok) {
      last_renew = now;
      if (!leading_) {
        leading_ = true;
        if (callbacks_.on_started_leading) callbacks_.on_started_leading();
      }
    } else if (leading_ && now - last_renew > options_.renew_deadline) {
      // Someone else may hold the lease by now: stop acting as leader
      // before the lease could have expired for the others.
      leading_ = false;
      if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
    }
    if (stopping_) break;
    timer_->expires_after(options_.retry_period);
    co_await timer_->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (leading_) {
    co_await release();
    leading_ = false;
    if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
  }
}

}  // namespace mca::kube
