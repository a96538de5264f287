#pragma once

#include <chrono>
#include <functional>

#include "common/util/backoff.hpp"

namespace mca::sidecar {

// How one stream to the operator went, as far as reconnecting cares.
struct stream_summary {
  bool delivered_table = false;  // at least one push was ACKed
  // From the first message heard to the end; zero if none was heard.
  std::chrono::milliseconds heard_for{0};
};

// When to reconnect after a stream ends: jittered exponential backoff from
// 0.5 s to 30 s across failures in a row, so a fleet of sidecars does not
// hammer an operator that is away, and back to 0.5 s after a stream that
// worked, so that an operator's rolling restart costs each sidecar well
// under a second of subscription.
//
// A stream "worked" when it delivered a table, or when it stayed up at
// least as long as the longest delay: an operator with nothing new for a
// sidecar (it already has the version) only sends heartbeats, and a stream
// of heartbeats alone must not leave the next reconnect at 30 s forever.
class reconnect_policy {
 public:
  static constexpr backoff::options default_options{
      std::chrono::milliseconds(500), std::chrono::milliseconds(30000), 2.0,
      0.5};

  explicit reconnect_policy(backoff::options options = default_options);
  // Tests inject the random source ([0, 1)).
  reconnect_policy(backoff::options options, std::function<double()> uniform);

  // The delay before the next attempt, after `ended`.
  backoff::duration after(const stream_summary& ended);

 private:
  backoff::options options_;
  backoff backoff_;
};

}  // namespace mca::sidecar
