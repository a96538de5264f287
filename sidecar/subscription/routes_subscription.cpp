#include "sidecar/subscription/routes_subscription.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "common/util/text_file.hpp"
#include "common/version/build_info.hpp"
#include "mca/routing/v1alpha1/routing.grpc.pb.h"
#include "sidecar/metrics/sidecar_metrics.hpp"
#include "sidecar/subscription/push_handler.hpp"

namespace mca::sidecar {

// How one attempt ended: for the log line, the last error and the backoff.
struct stream_outcome {
  stream_summary summary;
  std::string why;  // "UNAVAILABLE: ...", never a token
};

namespace {

namespace pb = mca::routing::v1alpha1;
using clock = std::chrono::steady_clock;

// The CA bundle and the token are a few kilobytes; a large file is a
// mistake (a wrong path), not something to send.
constexpr std::size_t max_ca_bytes = std::size_t{1} * 1024 * 1024;
constexpr std::size_t max_token_bytes = std::size_t{64} * 1024;
// Tables carry client certificates and CA bundles; gRPC's default 4 MiB is
// close enough to a big real table that it would be the limit users hit
// first, well before the 8 MiB a routes file may have.
constexpr int max_push_bytes = 16 * 1024 * 1024;

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "UNKNOWN";
  }
}

std::string describe(const grpc::Status& status) {
  std::string text = code_name(status.error_code());
  if (status.ok()) return "stream closed by the operator";
  if (!status.error_message().empty()) text += ": " + status.error_message();
  return text;
}

// A projected token file ends with no newline, a hand-made one usually
// with one; HTTP header values must not carry it.
std::string trim(std::string text) {
  const auto last = text.find_last_not_of(" \t\r\n");
  text.erase(last == std::string::npos ? 0 : last + 1);
  const auto first = text.find_first_not_of(" \t\r\n");
  text.erase(0, first == std::string::npos ? text.size() : first);
  return text;
}

pb::RoutesRequest to_message(const routes_reply& reply) {
  pb::RoutesRequest request;
  request.set_version_info(reply.version_info);
  request.set_response_nonce(reply.response_nonce);
  if (reply.is_nack()) {
    request.mutable_error_detail()->set_message(reply.error_message);
  }
  request.set_sidecar_version(std::string(current_build().version));
  return request;
}

// gRPC core writes its own lines (a failed handshake, an HTTP status that
// is not gRPC's) to stderr in its own format. Each also ends an attempt
// whose status the subscription logs at warn, so here they are detail for
// debugging, in the sidecar's log.
void route_grpc_logs() {
  static std::once_flag once;
  std::call_once(once, [] {
    gpr_set_log_function([](gpr_log_func_args* args) {
      spdlog::debug("grpc: {} ({}:{})", args->message, args->file, args->line);
    });
  });
}

std::string seconds_text(std::chrono::milliseconds d) {
  return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

routes_subscription::routes_subscription(subscription_options options,
                                         table_source& tables,
                                         sidecar_metrics& metrics)
    : options_(std::move(options)),
      tables_(tables),
      metrics_(metrics),
      version_in_force_(options_.version_in_force) {
  if (!options_.state_dir.empty()) state_.emplace(options_.state_dir);
  route_grpc_logs();
}

routes_subscription::~routes_subscription() { stop(); }

void routes_subscription::start() {
  stream_thread_ = std::thread([this] { run(); });
  watchdog_thread_ = std::thread([this] { watch(); });
}

void routes_subscription::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    if (call_ != nullptr) call_->TryCancel();
  }
  wake_.notify_all();
  if (stream_thread_.joinable()) stream_thread_.join();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
}

bool routes_subscription::wait(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void routes_subscription::watch() {
  // Checking four times per timeout cancels a silent stream at most a
  // quarter late, at the cost of a wake-up every few seconds.
  const auto period = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(10), options_.idle_timeout / 4);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, period);
    if (stopping_ || call_ == nullptr || idle_cancelled_) continue;
    if (clock::now() - last_heard_ >= options_.idle_timeout) {
      idle_cancelled_ = true;
      call_->TryCancel();
    }
  }
}

void routes_subscription::heard() {
  const std::lock_guard lock(mutex_);
  last_heard_ = clock::now();
}

void routes_subscription::run() {
  reconnect_policy policy(options_.reconnect);
  for (;;) {
    const stream_outcome ended = run_stream();
    metrics_.operator_connected(false);
    {
      const std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    // The table in force (if any) keeps serving; until one arrives, the
    // 503s and /readyz say why the operator is not delivering.
    if (tables_.last_error().empty() || last_error_is_connection_) {
      tables_.set_last_error(ended.why);
      last_error_is_connection_ = true;
    }
    const auto delay = policy.after(ended.summary);
    spdlog::warn("operator {}: {}; reconnecting in {}", options_.address,
                 ended.why, seconds_text(delay));
    if (!wait(delay)) return;
  }
}

stream_outcome routes_subscription::run_stream() {
  stream_outcome out;
  // Both files rotate (the CA with the operator's CA, the token by the
  // kubelet), so each attempt reads them afresh.
  auto ca = util::read_text_file(options_.ca_file, max_ca_bytes);
  if (!ca) {
    out.why = "operator CA: " + ca.error().message;
    return out;
  }
  auto token = util::read_text_file(options_.token_file, max_token_bytes);
  if (!token) {
    out.why = "token: " + token.error().message;
    return out;
  }
  const std::string bearer = trim(std::move(*token));
  if (bearer.empty()) {
    out.why = "token: " + options_.token_file.string() + " is empty";
    return out;
  }

  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = std::move(*ca);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_push_bytes);
  // A channel per attempt, so that a rotated CA is used; and its own
  // subchannels, so that it connects now rather than on the schedule of
  // gRPC's own reconnect backoff shared with the last attempt's channel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(options_.address,
                                           grpc::SslCredentials(tls), args);
  auto stub = pb::RoutingDiscovery::NewStub(channel);

  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + bearer);
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return out;
    call_ = &context;
    last_heard_ = clock::now();
    idle_cancelled_ = false;
  }
  struct unregister {
    routes_subscription* self;
    ~unregister() {
      const std::lock_guard lock(self->mutex_);
      self->call_ = nullptr;
    }
  } unregister_call{this};

  auto stream = stub->StreamRoutes(&context);
  std::optional<clock::time_point> first_heard;
  bool writable = stream->Write(to_message(first_request(version_in_force_)));
  pb::RoutesResponse response;
  while (writable && stream->Read(&response)) {
    heard();
    if (!first_heard) {
      first_heard = clock::now();
      metrics_.operator_connected(true);
      spdlog::info("operator {}: connected (version in force: {})",
                   options_.address,
                   version_in_force_.empty() ? "none" : version_in_force_);
      if (last_error_is_connection_) {
        tables_.set_last_error({});
        last_error_is_connection_ = false;
      }
    }
    const routes_push push{response.version_info(), response.nonce(),
                           response.table_json(), response.heartbeat()};
    push_decision decision = decide_push(push, version_in_force_);
    if (decision.table) {
      const bool install = !decision.unchanged || !in_force_from_operator_;
      const std::string version = decision.table->version;
      if (install) {
        tables_.install(std::move(*decision.table), source_name());
        in_force_from_operator_ = true;
        last_error_is_connection_ = false;
        spdlog::info("operator {}: version {} in force", options_.address,
                     version);
      }
      if (!decision.unchanged && state_) {
        // The table is in force either way; without the saved copy a
        // restart just waits for the operator again.
        if (auto saved = state_->save(push.table_json); !saved) {
          spdlog::warn("operator {}: not saved: {}", options_.address,
                       saved.error().message);
        }
      }
      version_in_force_ = version;
      out.summary.delivered_table = true;
      metrics_.operator_push(true);
    } else if (!decision.error.empty()) {
      tables_.set_last_error(decision.error);
      last_error_is_connection_ = false;
      metrics_.operator_push(false);
      spdlog::warn("operator {}: refused version {} (keeping {}): {}",
                   options_.address, push.version_info,
                   version_in_force_.empty() ? "none" : version_in_force_,
                   decision.error);
    }
    if (decision.reply) writable = stream->Write(to_message(*decision.reply));
  }
  // A failed Write means the call is over; what the operator sent before
  // its status is read and dropped, because Finish() waits for every
  // message to be read. A stuck call is still the watchdog's to cancel.
  while (!writable && stream->Read(&response)) {
  }
  const grpc::Status status = stream->Finish();
  if (first_heard) {
    out.summary.heard_for =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() -
                                                              *first_heard);
  }
  bool idle = false;
  {
    const std::lock_guard lock(mutex_);
    idle = idle_cancelled_;
  }
  if (idle) {
    out.why = "no message from the operator for " +
              seconds_text(options_.idle_timeout) + "; cancelled the stream";
  } else {
    out.why = describe(status);
  }
  return out;
}

}  // namespace mca::sidecar
