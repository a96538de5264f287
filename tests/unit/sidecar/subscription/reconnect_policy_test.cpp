#include "sidecar/subscription/reconnect_policy.hpp"

#include <chrono>

#include <gtest/gtest.h>

namespace mca::sidecar {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

// No jitter (u = 0): the delays are the bare exponential sequence.
reconnect_policy no_jitter() {
  return {reconnect_policy::default_options, [] { return 0.0; }};
}

const stream_summary failed{};  // nothing heard

TEST(ReconnectPolicy, GrowsFromHalfASecondToThirty) {
  auto p = no_jitter();
  EXPECT_EQ(p.after(failed), ms(500));
  EXPECT_EQ(p.after(failed), ms(1000));
  EXPECT_EQ(p.after(failed), ms(2000));
  EXPECT_EQ(p.after(failed), ms(4000));
  EXPECT_EQ(p.after(failed), ms(8000));
  EXPECT_EQ(p.after(failed), ms(16000));
  EXPECT_EQ(p.after(failed), ms(30000));
  EXPECT_EQ(p.after(failed), ms(30000));
}

TEST(ReconnectPolicy, JitterStaysWithinHalfAndTheCap) {
  reconnect_policy p(reconnect_policy::default_options, [] { return 0.999; });
  EXPECT_EQ(p.after(failed), ms(750));  // 500 * (1 + 0.5 * 0.999), rounded
  for (int i = 0; i < 10; ++i) EXPECT_LE(p.after(failed), ms(30000));
}

TEST(ReconnectPolicy, ResetsAfterAStreamThatDeliveredATable) {
  auto p = no_jitter();
  for (int i = 0; i < 5; ++i) p.after(failed);
  EXPECT_EQ(p.after(failed), ms(16000));
  EXPECT_EQ(p.after(stream_summary{true, 2s}), ms(500));
  EXPECT_EQ(p.after(failed), ms(1000));
}

TEST(ReconnectPolicy, ResetsAfterALongStreamOfHeartbeats) {
  auto p = no_jitter();
  for (int i = 0; i < 5; ++i) p.after(failed);
  EXPECT_EQ(p.after(stream_summary{false, 30s}), ms(500));
}

TEST(ReconnectPolicy, AShortStreamWithoutATableDoesNotReset) {
  // An operator that accepts and drops at once must not be hammered.
  auto p = no_jitter();
  EXPECT_EQ(p.after(failed), ms(500));
  EXPECT_EQ(p.after(stream_summary{false, 1s}), ms(1000));
  EXPECT_EQ(p.after(stream_summary{false, 29s}), ms(2000));
}

}  // namespace
}  // namespace mca::sidecar
