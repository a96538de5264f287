#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "operator/auth/sidecar_identity.hpp"

namespace mca::op {

// A connected sidecar's stream, as the hub sees it.
class stream_sink {
 public:
  virtual ~stream_sink() = default;
  // The pod's newest table. `sequence` grows with every publish, so a sink
  // can ignore an offer that overtook a newer one between threads.
  virtual void offer(std::uint64_t sequence, const std::string& version,
                     std::shared_ptr<const std::string> json) = 0;
  virtual void tick(std::chrono::steady_clock::time_point now) = 0;
};

// Where the controller leaves each pod's compiled table and where streams
// pick it up: the meeting point of the control loop's thread and gRPC's.
// Thread-safe. Sinks are held by shared_ptr while they are called, so a
// stream that ends meanwhile is destroyed only afterwards.
class table_hub {
 public:
  struct published {
    std::uint64_t sequence = 0;
    std::string version;
    std::shared_ptr<const std::string> json;
  };
  struct events {
    std::function<void(const sidecar_identity&, const std::string& version,
                       const std::string& error)>
        on_nack;
    std::function<void(std::chrono::nanoseconds offer_to_ack)> on_ack;
    std::function<void(std::size_t connected)> on_connected;
  };

  explicit table_hub(events e = {}) : events_(std::move(e)) {}

  // Streams are refused until the informers have synced: an operator with
  // empty caches would push empty or wrong tables.
  void set_ready(bool ready) noexcept { ready_ = ready; }
  bool ready() const noexcept { return ready_.load(); }

  void publish(const std::string& pod_uid, std::string version,
               std::shared_ptr<const std::string> json);
  void remove(const std::string& pod_uid);
  std::optional<published> table_for(const std::string& pod_uid) const;

  void subscribe(const std::string& pod_uid, std::shared_ptr<stream_sink> sink);
  void unsubscribe(const std::string& pod_uid, const stream_sink* sink);
  void tick(std::chrono::steady_clock::time_point now);
  std::size_t connected() const;

  void report_nack(const sidecar_identity& who, const std::string& version,
                   const std::string& error) const;
  void report_ack(std::chrono::nanoseconds offer_to_ack) const;

 private:
  events events_;
  std::atomic<bool> ready_{false};
  mutable std::mutex mutex_;
  std::uint64_t sequence_ = 0;
  std::map<std::string, published> tables_;
  std::multimap<std::string, std::shared_ptr<stream_sink>> sinks_;
};

}  // namespace mca::op
