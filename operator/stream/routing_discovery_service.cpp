#include "operator/stream/routing_discovery_service.hpp"

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

namespace mca::op {

namespace {

namespace pb = mca::routing::v1alpha1;
using clock = std::chrono::steady_clock;

std::string bearer_token(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return {};
  const std::string value(it->second.data(), it->second.size());
  constexpr std::string_view scheme = "Bearer ";
  if (value.size() <= scheme.size() ||
      value.compare(0, scheme.size(), scheme) != 0) {
    return {};
  }
  return value.substr(scheme.size());
}

// One sidecar's stream. Owned by itself (self_) from construction until
// gRPC says it is done; the hub holds further references while it calls in.
class routes_stream final
    : public grpc::ServerBidiReactor<pb::RoutesRequest, pb::RoutesResponse>,
      public stream_sink,
      public std::enable_shared_from_this<routes_stream> {
 public:
  routes_stream(grpc::CallbackServerContext* context, table_hub& hub,
                stream_state::options options)
      : context_(context), hub_(hub), state_(options), options_(options) {}

  void start(sidecar_authenticator& auth) {
    self_ = shared_from_this();
    if (!hub_.ready()) {
      finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the operator's caches are not synced yet; retry "
                          "shortly"));
      return;
    }
    std::string token = bearer_token(*context_);
    if (token.empty()) {
      finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "no bearer token in the authorization metadata"));
      return;
    }
    auth.authenticate(std::move(token),
                      [self = self_](mca::result<sidecar_identity> id) {
                        self->on_authenticated(std::move(id));
                      });
  }

  void offer(std::uint64_t sequence, const std::string& version,
             std::shared_ptr<const std::string> json) override {
    const std::lock_guard lock(mutex_);
    if (finished_ || sequence <= sequence_) return;
    sequence_ = sequence;
    if (auto push = state_.offer(version, std::move(json), clock::now())) {
      enqueue_locked(to_message(*push));
    }
  }

  void tick(clock::time_point now) override {
    const std::lock_guard lock(mutex_);
    if (finished_) return;
    if (writing_ && now - write_started_ >= options_.ack_timeout) {
      spdlog::warn("stream {}: a write has not completed in {} s; closing",
                   identity_.pod_key(), options_.ack_timeout.count() / 1000);
      context_->TryCancel();
      finish_locked(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                 "the sidecar is not reading its stream"));
      return;
    }
    const auto t = state_.on_tick(now);
    if (t.close_as_slow) {
      spdlog::warn("stream {}: no answer to push for {} s; closing",
                   identity_.pod_key(), options_.ack_timeout.count() / 1000);
      finish_locked(
          grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                       "no ACK or NACK for the last push in time; reconnect"));
      return;
    }
    if (t.send_heartbeat && !writing_ && queue_.empty()) {
      pb::RoutesResponse beat;
      beat.set_heartbeat(true);
      enqueue_locked(std::move(beat));
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The sidecar half-closed or went away.
      finish(grpc::Status::OK);
      return;
    }
    std::optional<stream_state::request_outcome> outcome;
    {
      const std::lock_guard lock(mutex_);
      if (finished_) return;
      const std::string* error = request_.has_error_detail()
                                     ? &request_.error_detail().message()
                                     : nullptr;
      outcome =
          state_.on_request(request_.version_info(), request_.response_nonce(),
                            error, clock::now());
      if (outcome->next) enqueue_locked(to_message(*outcome->next));
    }
    using kind = stream_state::request_outcome::kind;
    if (outcome->what == kind::nack) {
      spdlog::warn("stream {}: sidecar refused table {}: {}",
                   identity_.pod_key(), outcome->version, outcome->error);
      hub_.report_nack(identity_, outcome->version, outcome->error);
    } else if (outcome->what == kind::ack) {
      spdlog::debug("stream {}: table {} acknowledged", identity_.pod_key(),
                    outcome->version);
      hub_.report_ack(outcome->push_latency);
    } else if (outcome->what == kind::hello) {
      spdlog::info("stream {}: sidecar {} connected, serving version \"{}\"",
                   identity_.pod_key(), request_.sidecar_version(),
                   outcome->version);
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    const std::lock_guard lock(mutex_);
    writing_ = false;
    if (!ok) {
      finish_locked(grpc::Status(grpc::StatusCode::CANCELLED,
                                 "the stream broke while writing"));
      return;
    }
    write_next_locked();
  }

  void OnDone() override {
    if (subscribed_) hub_.unsubscribe(identity_.pod_uid, this);
    // The last reference may be the hub's copy in a tick; it goes when that
    // returns.
    self_.reset();
  }

 private:
  void on_authenticated(mca::result<sidecar_identity> id) {
    if (!id) {
      spdlog::warn("stream refused: {}", id.error().message);
      finish(
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED, id.error().message));
      return;
    }
    {
      const std::lock_guard lock(mutex_);
      identity_ = *std::move(id);
      subscribed_ = true;
    }
    StartRead(&request_);
    hub_.subscribe(identity_.pod_uid, shared_from_this());
  }

  static pb::RoutesResponse to_message(const table_push& push) {
    pb::RoutesResponse out;
    out.set_version_info(push.version);
    out.set_nonce(push.nonce);
    out.set_table_json(*push.table_json);
    return out;
  }

  void enqueue_locked(pb::RoutesResponse message) {
    queue_.push_back(std::move(message));
    if (!writing_) write_next_locked();
  }

  void write_next_locked() {
    if (queue_.empty() || finished_) return;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    write_started_ = clock::now();
    state_.on_sent(write_started_);
    StartWrite(&current_);
  }

  void finish(const grpc::Status& status) {
    const std::lock_guard lock(mutex_);
    finish_locked(status);
  }
  void finish_locked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  grpc::CallbackServerContext* context_;
  table_hub& hub_;
  std::shared_ptr<routes_stream> self_;
  std::mutex mutex_;
  stream_state state_;
  stream_state::options options_;
  sidecar_identity identity_;
  bool subscribed_ = false;
  bool finished_ = false;
  std::uint64_t sequence_ = 0;
  pb::RoutesRequest request_;
  pb::RoutesResponse current_;
  std::deque<pb::RoutesResponse> queue_;  // at most a push and a heartbeat
  bool writing_ = false;
  clock::time_point write_started_{};
};

}  // namespace

grpc::ServerBidiReactor<pb::RoutesRequest, pb::RoutesResponse>*
routing_discovery_service::StreamRoutes(grpc::CallbackServerContext* context) {
  auto stream = std::make_shared<routes_stream>(context, hub_, options_);
  stream->start(auth_);
  return stream.get();
}

}  // namespace mca::op
