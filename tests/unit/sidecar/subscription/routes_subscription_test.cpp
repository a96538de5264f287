// The gRPC edge against an in-process RoutingDiscovery server on loopback
// (port 0, TLS with a throwaway CA): what goes over the wire, what ends up
// in force and on disk, reconnects and stop(). The operator itself is
// tested end to end elsewhere.
#include "sidecar/subscription/routes_subscription.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/tls/self_signed.hpp"
#include "mca/routing/v1alpha1/routing.grpc.pb.h"
#include "sidecar/metrics/sidecar_metrics.hpp"
#include "sidecar/routes/table_source.hpp"

namespace mca::sidecar {
namespace {

namespace fs = std::filesystem;
namespace pb = mca::routing::v1alpha1;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr auto patience = 10s;

std::string table_json(const std::string& version) {
  return R"({"apiVersion":"mca.x-k8s.io/v1alpha1","kind":"RoutingTable",)"
         R"("version":")" +
         version + R"(","policy":"default/p","targets":[{"name":"home",)" +
         R"("server":"https://10.0.0.1:443","credentials":{"local":{}}}],)" +
         R"("defaultTarget":"home"})";
}

pb::RoutesResponse push(const std::string& version, const std::string& nonce,
                        const std::string& json) {
  pb::RoutesResponse r;
  r.set_version_info(version);
  r.set_nonce(nonce);
  r.set_table_json(json);
  return r;
}

pb::RoutesResponse heartbeat() {
  pb::RoutesResponse r;
  r.set_heartbeat(true);
  return r;
}

// One stream as the fake operator sees it.
struct seen_stream {
  std::string authorization;
  std::vector<pb::RoutesRequest> requests;
};

// Each stream runs `script` (set by the test) with helpers to send and to
// wait for the sidecar's next request; everything seen is recorded.
class fake_operator final : public pb::RoutingDiscovery::Service {
 public:
  using stream_t =
      grpc::ServerReaderWriter<pb::RoutesResponse, pb::RoutesRequest>;
  struct call {
    fake_operator* self;
    grpc::ServerContext* context;
    stream_t* stream;
    std::size_t index;
    // The sidecar's next request, recorded; false when the stream ended.
    bool read() {
      pb::RoutesRequest request;
      if (!stream->Read(&request)) return false;
      const std::lock_guard lock(self->mutex_);
      self->streams_[index].requests.push_back(request);
      self->changed_.notify_all();
      return true;
    }
  };
  using script_fn = std::function<grpc::Status(call&)>;

  void set_script(script_fn script) {
    const std::lock_guard lock(mutex_);
    script_ = std::move(script);
  }

  grpc::Status StreamRoutes(grpc::ServerContext* context,
                            stream_t* stream) override {
    call c{this, context, stream, 0};
    script_fn script;
    {
      const std::lock_guard lock(mutex_);
      seen_stream seen;
      const auto& md = context->client_metadata();
      if (auto it = md.find("authorization"); it != md.end()) {
        seen.authorization.assign(it->second.data(), it->second.size());
      }
      streams_.push_back(seen);
      c.index = streams_.size() - 1;
      script = script_;
      changed_.notify_all();
    }
    return script(c);
  }

  // Waits until `ready(streams)` holds; false after `patience`.
  bool wait_for(
      const std::function<bool(const std::vector<seen_stream>&)>& ready) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, patience, [&] { return ready(streams_); });
  }
  std::vector<seen_stream> streams() {
    const std::lock_guard lock(mutex_);
    return streams_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  script_fn script_;
  std::vector<seen_stream> streams_;
};

// Reads until the client ends the stream: what a live operator does
// between pushes.
grpc::Status drain(fake_operator::call& c) {
  while (c.read()) {
  }
  return grpc::Status::OK;
}

template <class Pred>
bool eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

class RoutesSubscription : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("mca-subscription-test-" + std::to_string(random()));
    fs::create_directories(dir_);
    tls::serving_identity_options id;
    id.ip_addresses = {"127.0.0.1"};
    id.not_before = std::chrono::system_clock::now() - 5min;
    auto identity = tls::make_serving_identity(id);
    ASSERT_TRUE(identity.has_value()) << identity.error().message;
    std::ofstream(dir_ / "ca.crt") << identity->ca.cert_pem;
    write_token("token-1\n");

    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back(
        {identity->serving.key_pem, identity->serving.cert_pem});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls),
                             &port);
    builder.RegisterService(&operator_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    if (subscription_) subscription_->stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void write_token(const std::string& token) const {
    std::ofstream(dir_ / "token") << token;
  }

  subscription_options options() const {
    subscription_options o;
    o.address = address_;
    o.ca_file = dir_ / "ca.crt";
    o.token_file = dir_ / "token";
    o.state_dir = dir_ / "state";
    o.idle_timeout = 5s;
    o.reconnect = {10ms, 50ms, 2.0, 0.5};
    return o;
  }

  void start(subscription_options o) {
    subscription_ =
        std::make_unique<routes_subscription>(std::move(o), tables_, metrics_);
    subscription_->start();
  }

  fs::path dir_;
  fake_operator operator_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  table_source tables_;
  sidecar_metrics metrics_;
  std::unique_ptr<routes_subscription> subscription_;
};

TEST_F(RoutesSubscription, AcksAGoodPushNacksABadOneAndSavesTheGoodOne) {
  operator_.set_script([](fake_operator::call& c) {
    if (!c.read()) return grpc::Status::OK;  // the first request
    c.stream->Write(heartbeat());
    c.stream->Write(push("v1", "n-1", table_json("v1")));
    if (!c.read()) return grpc::Status::OK;  // ACK
    c.stream->Write(push("v2", "n-2", "{not json"));
    return drain(c);
  });
  start(options());
  ASSERT_TRUE(operator_.wait_for(
      [](const auto& s) { return !s.empty() && s[0].requests.size() >= 3; }));
  const auto seen = operator_.streams();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].authorization, "Bearer token-1");
  const auto& r = seen[0].requests;
  EXPECT_EQ(r[0].version_info(), "");
  EXPECT_EQ(r[0].response_nonce(), "");
  EXPECT_FALSE(r[0].sidecar_version().empty());
  EXPECT_FALSE(r[0].has_error_detail());
  // The heartbeat was not answered: the next request is the ACK.
  EXPECT_EQ(r[1].version_info(), "v1");
  EXPECT_EQ(r[1].response_nonce(), "n-1");
  EXPECT_FALSE(r[1].has_error_detail());
  EXPECT_EQ(r[2].version_info(), "v1");
  EXPECT_EQ(r[2].response_nonce(), "n-2");
  EXPECT_THAT(r[2].error_detail().message(), HasSubstr("operator push v2: "));

  ASSERT_NE(tables_.current(), nullptr);
  EXPECT_EQ(tables_.current()->version, "v1");
  EXPECT_EQ(tables_.source(), "operator " + address_);
  EXPECT_THAT(tables_.last_error(), HasSubstr("operator push v2: "));
  const fs::path saved = dir_ / "state" / "routes.json";
  ASSERT_TRUE(fs::exists(saved));
  EXPECT_EQ(fs::status(saved).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(state_store(dir_ / "state").load().table->version, "v1");
  const std::string text = metrics_.render();
  EXPECT_THAT(text, HasSubstr("mca_operator_connected 1"));
  EXPECT_THAT(text, HasSubstr("mca_operator_pushes_total{result=\"ack\"} 1"));
  EXPECT_THAT(text, HasSubstr("mca_operator_pushes_total{result=\"nack\"} 1"));
}

TEST_F(RoutesSubscription, ReconnectsWithTheVersionInForceAndAFreshToken) {
  // The second stream is refused only once the token has rotated, so that
  // the third must carry the new one.
  const auto rotated = std::make_shared<std::atomic<bool>>(false);
  operator_.set_script([rotated](fake_operator::call& c) {
    if (!c.read()) return grpc::Status::OK;
    if (c.index == 0) {
      c.stream->Write(push("v1", "n-1", table_json("v1")));
      c.read();
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "going away");
    }
    if (c.index == 1) {
      while (!*rotated) std::this_thread::sleep_for(5ms);
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "token refused");
    }
    return drain(c);
  });
  start(options());
  ASSERT_TRUE(operator_.wait_for([](const auto& s) { return s.size() >= 2; }));
  write_token("token-2");
  *rotated = true;
  ASSERT_TRUE(operator_.wait_for(
      [](const auto& s) { return s.size() >= 3 && !s[2].requests.empty(); }));
  const auto seen = operator_.streams();
  EXPECT_EQ(seen[1].requests.at(0).version_info(), "v1");
  EXPECT_EQ(seen[2].authorization, "Bearer token-2");
  EXPECT_EQ(seen[2].requests.at(0).version_info(), "v1");
  EXPECT_EQ(seen[2].requests.at(0).response_nonce(), "");
  // The table stays in force throughout; /routes says why it may be old.
  EXPECT_EQ(tables_.current()->version, "v1");
  EXPECT_EQ(tables_.last_error(), "UNAUTHENTICATED: token refused");
}

TEST_F(RoutesSubscription, RefusalIsTheLastErrorWhileNoTableArrives) {
  operator_.set_script([](fake_operator::call&) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "caches not synced");
  });
  tables_.set_waiting_reason("waiting for the operator at " + address_);
  start(options());
  ASSERT_TRUE(eventually([&] { return !tables_.last_error().empty(); }));
  EXPECT_EQ(tables_.current(), nullptr);
  EXPECT_EQ(tables_.last_error(), "UNAVAILABLE: caches not synced");
  EXPECT_EQ(tables_.unavailable_message(),
            "no routing table yet: waiting for the operator at " + address_ +
                " (last error: UNAVAILABLE: caches not synced)");
  EXPECT_THAT(metrics_.render(), HasSubstr("mca_operator_connected 0"));
  // Backoff, not a busy loop: 10 ms doubling to 50 ms, so a handful of
  // attempts in 300 ms.
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(operator_.streams().size(), 20U);
}

TEST_F(RoutesSubscription, MissingCaOrTokenIsRetried) {
  operator_.set_script(drain);
  fs::remove(dir_ / "token");
  start(options());
  ASSERT_TRUE(eventually([&] { return !tables_.last_error().empty(); }));
  EXPECT_THAT(tables_.last_error(), HasSubstr("token: cannot read"));
  write_token("token-3");
  ASSERT_TRUE(operator_.wait_for([](const auto& s) { return !s.empty(); }));
  EXPECT_EQ(operator_.streams()[0].authorization, "Bearer token-3");
}

TEST_F(RoutesSubscription, SilentStreamIsCancelledAndReopened) {
  operator_.set_script([](fake_operator::call& c) {
    // Reads the first request and then says nothing: a stuck operator.
    c.read();
    while (!c.context->IsCancelled()) std::this_thread::sleep_for(5ms);
    return grpc::Status::CANCELLED;
  });
  auto o = options();
  o.idle_timeout = 200ms;
  start(std::move(o));
  ASSERT_TRUE(operator_.wait_for([](const auto& s) { return s.size() >= 2; }));
}

TEST_F(RoutesSubscription, HeartbeatsKeepAStreamAlive) {
  // Shared: the stream may outlive the test body by a moment.
  const auto done = std::make_shared<std::atomic<bool>>(false);
  operator_.set_script([done](fake_operator::call& c) {
    c.read();
    while (!*done && !c.context->IsCancelled()) {
      c.stream->Write(heartbeat());
      std::this_thread::sleep_for(20ms);
    }
    return grpc::Status::OK;
  });
  auto o = options();
  o.idle_timeout = 200ms;
  start(std::move(o));
  ASSERT_TRUE(operator_.wait_for([](const auto& s) { return !s.empty(); }));
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(operator_.streams().size(), 1U);
  EXPECT_THAT(metrics_.render(), HasSubstr("mca_operator_connected 1"));
  *done = true;
}

TEST_F(RoutesSubscription, StopEndsAStreamInProgressAtOnce) {
  operator_.set_script(drain);
  start(options());
  ASSERT_TRUE(operator_.wait_for(
      [](const auto& s) { return !s.empty() && !s[0].requests.empty(); }));
  const auto before = std::chrono::steady_clock::now();
  subscription_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
}

}  // namespace
}  // namespace mca::sidecar
