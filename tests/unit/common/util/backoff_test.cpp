#include "common/util/backoff.hpp"

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca {
namespace {

using namespace std::chrono_literals;
using ms = backoff::duration;

// Returns the given values in order, then repeats the last.
std::function<double()> sequence(std::vector<double> values) {
  auto state = std::make_shared<std::pair<std::vector<double>, std::size_t>>(
      std::move(values), 0);
  return [state] {
    auto& [v, i] = *state;
    const double u = v[std::min(i, v.size() - 1)];
    ++i;
    return u;
  };
}

std::vector<ms> take(backoff& b, std::size_t n) {
  std::vector<ms> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(b.next());
  return out;
}

TEST(Backoff, WithoutJitterDoublesUpToTheCap) {
  backoff b({.initial = 800ms, .max = 30000ms, .factor = 2.0, .jitter = 0.0},
            sequence({0.9}));
  EXPECT_THAT(take(b, 9),
              ::testing::ElementsAre(800ms, 1600ms, 3200ms, 6400ms, 12800ms,
                                     25600ms, 30000ms, 30000ms, 30000ms));
}

TEST(Backoff, DefaultsAreClientGosReflectorSchedule) {
  backoff::options defaults;
  EXPECT_EQ(defaults.initial, 800ms);
  EXPECT_EQ(defaults.max, 30000ms);
  EXPECT_EQ(defaults.factor, 2.0);
  EXPECT_EQ(defaults.jitter, 0.5);
}

TEST(Backoff, JitterComesFromTheInjectedSource) {
  backoff b({}, sequence({0.0, 0.5, 0.25, 0.75, 0.5, 0.5, 0.0}));
  // base * (1 + 0.5 * u), capped at 30000.
  EXPECT_THAT(take(b, 7), ::testing::ElementsAre(800ms, 2000ms, 3600ms, 8800ms,
                                                 16000ms, 30000ms, 30000ms));
}

TEST(Backoff, JitterNearOneStaysUnderTheCap) {
  backoff b({.initial = 1000ms, .max = 30000ms, .factor = 2.0, .jitter = 1.0},
            sequence({0.999}));
  EXPECT_THAT(take(b, 6), ::testing::ElementsAre(1999ms, 3998ms, 7996ms,
                                                 15992ms, 30000ms, 30000ms));
}

TEST(Backoff, RandomDelaysStayWithinBaseAndMax) {
  const backoff::options opts;
  backoff b(opts);
  auto base = opts.initial;
  for (int i = 0; i < 1000; ++i) {
    const auto d = b.next();
    EXPECT_GE(d, base);
    EXPECT_LE(d, opts.max);
    base = std::min(opts.max, base * 2);
  }
}

TEST(Backoff, OutOfRangeSourceValuesAreStillCapped) {
  backoff b({}, sequence({7.0, -3.0}));
  EXPECT_EQ(b.next(), 3600ms);  // 800 * (1 + 0.5 * 7)
  EXPECT_EQ(b.next(), 1600ms);  // a negative u counts as 0
  for (int i = 0; i < 20; ++i) EXPECT_LE(b.next(), 30000ms);
}

TEST(Backoff, ResetStartsAgainFromInitial) {
  backoff b({.initial = 800ms, .max = 30000ms, .factor = 2.0, .jitter = 0.0},
            sequence({0.0}));
  take(b, 10);
  b.reset();
  EXPECT_THAT(take(b, 3), ::testing::ElementsAre(800ms, 1600ms, 3200ms));
}

}  // namespace
}  // namespace mca
