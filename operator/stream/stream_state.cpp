#include "operator/stream/stream_state.hpp"

#include <utility>

namespace mca::op {

std::optional<table_push> stream_state::offer(
    std::string version, std::shared_ptr<const std::string> json,
    clock::time_point now) {
  if (!newest_ || newest_->version != version) newest_at_ = now;
  newest_ = table_push{std::move(version), {}, std::move(json)};
  return next_push(now);
}

std::optional<table_push> stream_state::next_push(clock::time_point now) {
  if (!hello_ || in_flight_ || !newest_) return std::nullopt;
  if (newest_->version == acked_ || nacked_.contains(newest_->version)) {
    return std::nullopt;
  }
  table_push push = *newest_;
  push.nonce = std::to_string(++nonces_);
  in_flight_ = flight{push, now, newest_at_};
  return push;
}

stream_state::request_outcome stream_state::on_request(
    const std::string& version_info, const std::string& response_nonce,
    const std::string* error_detail, clock::time_point now) {
  request_outcome out;
  if (!hello_) {
    // The sidecar says which version it already serves (from its saved
    // state): the same table is not sent again.
    hello_ = true;
    acked_ = version_info;
    out.what = request_outcome::kind::hello;
    out.version = version_info;
    out.next = next_push(now);
    return out;
  }
  if (!in_flight_ || response_nonce != in_flight_->push.nonce) {
    out.what = request_outcome::kind::stale;
    return out;
  }
  const flight answered = *std::move(in_flight_);
  in_flight_.reset();
  out.version = answered.push.version;
  if (error_detail != nullptr) {
    out.what = request_outcome::kind::nack;
    out.error = *error_detail;
    nacked_.insert(answered.push.version);
    // The sidecar keeps what it had; that is what it runs now.
    acked_ = version_info;
  } else {
    out.what = request_outcome::kind::ack;
    acked_ = answered.push.version;
    out.push_latency = now - answered.offered;
  }
  out.next = next_push(now);
  return out;
}

stream_state::tick_outcome stream_state::on_tick(clock::time_point now) const {
  tick_outcome out;
  if (in_flight_ && now - in_flight_->sent >= options_.ack_timeout) {
    out.close_as_slow = true;
    return out;
  }
  out.send_heartbeat =
      hello_ && now - last_sent_ >= options_.heartbeat_interval;
  return out;
}

}  // namespace mca::op
