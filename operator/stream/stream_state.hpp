#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace mca::op {

// One table as it goes out on a stream.
struct table_push {
  std::string version;
  std::string nonce;
  std::shared_ptr<const std::string> table_json;
};

// The protocol of one sidecar's stream (proto/ routing.proto), without the
// sockets: state of the world per pod, at most one unacknowledged push, newer
// tables coalesced while one is in flight, a NACKed version never resent,
// heartbeats when the stream is quiet, and a stream whose sidecar does not
// answer a push in time closed as slow. Time is passed in, so tests drive
// it; not thread-safe (the stream's owner serialises calls).
class stream_state {
 public:
  using clock = std::chrono::steady_clock;

  struct options {
    std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(10)};
    std::chrono::milliseconds ack_timeout{std::chrono::seconds(30)};
  };

  explicit stream_state(options opts) : options_(opts) {}
  stream_state() : stream_state(options{}) {}

  // The pod's newest table. Returns the push to send now, or nullopt when
  // the sidecar already has it, refused it, a push is in flight (it goes
  // out after the ACK), or the sidecar has not said hello yet.
  std::optional<table_push> offer(std::string version,
                                  std::shared_ptr<const std::string> json,
                                  clock::time_point now);

  struct request_outcome {
    enum class kind { hello, ack, nack, stale };
    kind what = kind::stale;
    std::string version;                       // acked or nacked version
    std::string error;                         // nack only
    std::chrono::nanoseconds push_latency{0};  // ack: offer to ACK
    std::optional<table_push> next;            // send this now
  };
  // A request from the sidecar: the first one (hello, empty nonce), or the
  // answer to a push. An answer to anything but the push in flight is stale
  // and ignored.
  request_outcome on_request(const std::string& version_info,
                             const std::string& response_nonce,
                             const std::string* error_detail,
                             clock::time_point now);

  struct tick_outcome {
    bool send_heartbeat = false;
    bool close_as_slow = false;
  };
  tick_outcome on_tick(clock::time_point now) const;

  // Anything was written (push or heartbeat): the heartbeat clock restarts.
  void on_sent(clock::time_point now) { last_sent_ = now; }

  const std::string& acked_version() const noexcept { return acked_; }
  bool awaiting_ack() const noexcept { return in_flight_.has_value(); }

 private:
  std::optional<table_push> next_push(clock::time_point now);

  options options_;
  bool hello_ = false;
  std::string acked_;
  std::set<std::string> nacked_;
  std::optional<table_push> newest_;  // nonce unused
  clock::time_point newest_at_{};
  struct flight {
    table_push push;
    clock::time_point sent;
    clock::time_point offered;
  };
  std::optional<flight> in_flight_;
  std::uint64_t nonces_ = 0;
  clock::time_point last_sent_{};
};

}  // namespace mca::op
