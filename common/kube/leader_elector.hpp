#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/core/error.hpp"
#include "common/kube/rest_client.hpp"

namespace mca::kube {

struct leader_election_options {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per candidate, e.g. the pod name
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
};

struct leader_callbacks {
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& holder)> on_new_leader;
  std::function<void(const error&)> on_error;
};

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection does: acquire when the lease is free or expired, renew
// every retry_period, step down when renewal has failed for longer than
// renew_deadline, and release (holder cleared) on stop. Expiry is judged by
// our own clock from when we last saw the lease change, never by comparing
// clocks across machines.
class leader_elector {
 public:
  leader_elector(rest_client& client, leader_election_options options,
                 leader_callbacks callbacks = {});

  boost::asio::awaitable<void> run();  // until stop(); releases on the way out
  void stop();                         // from the elector's executor
  bool is_leader() const noexcept { return leading_.load(); }

 private:
  boost::asio::awaitable<bool> try_acquire_or_renew();
  boost::asio::awaitable<void> release();
  nlohmann::json lease_spec(const nlohmann::json& old_spec) const;
  void observe(const nlohmann::json& spec);

  rest_client& client_;
  leader_election_options options_;
  leader_callbacks callbacks_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool stopping_ = false;
  std::atomic<bool> leading_{false};
  std::string observed_holder_;
  std::string observed_renew_time_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::string lease_resource_version_;
};

// Kubernetes MicroTime: RFC 3339 UTC with microseconds.
std::string format_micro_time(std::chrono::system_clock::time_point t);

}  // namespace mca::kube
