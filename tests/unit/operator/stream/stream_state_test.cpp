#include "operator/stream/stream_state.hpp"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace mca::op {
namespace {

using namespace std::chrono_literals;
using kind = stream_state::request_outcome::kind;

std::shared_ptr<const std::string> body(const std::string& s) {
  return std::make_shared<const std::string>(s);
}

class StreamState : public ::testing::Test {
 protected:
  stream_state::clock::time_point at(std::chrono::milliseconds ms) const {
    return start_ + ms;
  }
  const stream_state::clock::time_point start_{std::chrono::hours(1)};
  stream_state state_{stream_state::options{10s, 30s}};
};

TEST_F(StreamState, NothingIsPushedBeforeTheSidecarSaysHello) {
  EXPECT_FALSE(state_.offer("v1", body("t1"), at(0ms)));
  auto hello = state_.on_request("", "", nullptr, at(5ms));
  EXPECT_EQ(hello.what, kind::hello);
  ASSERT_TRUE(hello.next);
  EXPECT_EQ(hello.next->version, "v1");
  EXPECT_EQ(*hello.next->table_json, "t1");
  EXPECT_FALSE(hello.next->nonce.empty());
}

TEST_F(StreamState, ATableTheSidecarAlreadyServesIsNotSentAgain) {
  state_.offer("v1", body("t1"), at(0ms));
  auto hello = state_.on_request("v1", "", nullptr, at(1ms));
  EXPECT_FALSE(hello.next);
  EXPECT_EQ(state_.acked_version(), "v1");
  EXPECT_FALSE(state_.offer("v1", body("t1"), at(2ms)));
}

TEST_F(StreamState, AckMovesTheVersionAndMeasuresOfferToAck) {
  state_.on_request("", "", nullptr, at(0ms));
  auto push = state_.offer("v1", body("t1"), at(100ms));
  ASSERT_TRUE(push);
  EXPECT_TRUE(state_.awaiting_ack());
  auto ack = state_.on_request("v1", push->nonce, nullptr, at(130ms));
  EXPECT_EQ(ack.what, kind::ack);
  EXPECT_EQ(ack.version, "v1");
  EXPECT_EQ(ack.push_latency, 30ms);
  EXPECT_FALSE(ack.next);
  EXPECT_EQ(state_.acked_version(), "v1");
  EXPECT_FALSE(state_.awaiting_ack());
}

TEST_F(StreamState, AtMostOnePushInFlightAndNewerTablesCoalesce) {
  state_.on_request("", "", nullptr, at(0ms));
  auto first = state_.offer("v1", body("t1"), at(1ms));
  ASSERT_TRUE(first);
  EXPECT_FALSE(state_.offer("v2", body("t2"), at(2ms)));
  EXPECT_FALSE(state_.offer("v3", body("t3"), at(3ms)));
  auto ack = state_.on_request("v1", first->nonce, nullptr, at(4ms));
  ASSERT_TRUE(ack.next);
  // Only the newest of the coalesced tables goes out.
  EXPECT_EQ(ack.next->version, "v3");
  EXPECT_EQ(*ack.next->table_json, "t3");
  EXPECT_NE(ack.next->nonce, first->nonce);
}

TEST_F(StreamState, ANackedVersionIsNeverResentButANewerOneIs) {
  state_.on_request("v0", "", nullptr, at(0ms));
  auto push = state_.offer("v1", body("bad"), at(1ms));
  ASSERT_TRUE(push);
  const std::string why = "rules[0].match.verbs[0]: unknown verb";
  auto nack = state_.on_request("v0", push->nonce, &why, at(2ms));
  EXPECT_EQ(nack.what, kind::nack);
  EXPECT_EQ(nack.version, "v1");
  EXPECT_EQ(nack.error, why);
  EXPECT_FALSE(nack.next);
  EXPECT_EQ(state_.acked_version(), "v0");
  EXPECT_FALSE(state_.offer("v1", body("bad"), at(3ms)));
  auto newer = state_.offer("v2", body("good"), at(4ms));
  ASSERT_TRUE(newer);
  EXPECT_EQ(newer->version, "v2");
}

TEST_F(StreamState, StaleAnswersAreIgnored) {
  state_.on_request("", "", nullptr, at(0ms));
  auto push = state_.offer("v1", body("t1"), at(1ms));
  ASSERT_TRUE(push);
  auto stale = state_.on_request("v1", "not-the-nonce", nullptr, at(2ms));
  EXPECT_EQ(stale.what, kind::stale);
  EXPECT_TRUE(state_.awaiting_ack());
  EXPECT_EQ(state_.acked_version(), "");
}

TEST_F(StreamState, HeartbeatsWhenQuietAndClosesASlowSidecar) {
  state_.on_request("", "", nullptr, at(0ms));
  state_.on_sent(at(0ms));
  EXPECT_FALSE(state_.on_tick(at(9s)).send_heartbeat);
  EXPECT_TRUE(state_.on_tick(at(10s)).send_heartbeat);
  state_.on_sent(at(10s));
  EXPECT_FALSE(state_.on_tick(at(15s)).send_heartbeat);

  auto push = state_.offer("v1", body("t1"), at(20s));
  ASSERT_TRUE(push);
  state_.on_sent(at(20s));
  EXPECT_FALSE(state_.on_tick(at(49s)).close_as_slow);
  EXPECT_TRUE(state_.on_tick(at(50s)).close_as_slow);
}

TEST_F(StreamState, NoHeartbeatBeforeHello) {
  EXPECT_FALSE(state_.on_tick(at(60s)).send_heartbeat);
}

}  // namespace
}  // namespace mca::op
