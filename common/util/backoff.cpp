#include "common/util/backoff.hpp"

#include <cmath>
#include <mutex>
#include <random>
#include <utility>

namespace mca {
namespace {

// One engine for the process, not one per backoff: a backoff copied into
// many reflectors would otherwise jitter them all in lockstep, which is the
// very thundering herd jitter exists to break up.
double shared_uniform() {
  struct engine_state {
    std::mutex mutex;
    std::mt19937_64 engine{std::random_device{}()};
  };
  static engine_state state;
  std::uniform_real_distribution<double> distribution(0.0, 1.0);
  const std::lock_guard lock(state.mutex);
  return distribution(state.engine);
}

// Clamps a double of milliseconds into [0, cap]; NaN (a broken factor or
// random source) becomes cap so the caller still waits, and does not spin.
double clamp_ms(double value, double cap) noexcept {
  if (!(value < cap)) return cap;
  if (!(value > 0.0)) return 0.0;
  return value;
}

backoff::duration to_duration(double ms) noexcept {
  return backoff::duration(
      static_cast<backoff::duration::rep>(std::llround(ms)));
}

}  // namespace

backoff::backoff(options opts, std::function<double()> uniform)
    : opts_(opts), uniform_(std::move(uniform)), base_(opts.initial) {}

backoff::backoff(options opts) : backoff(opts, shared_uniform) {}

backoff::duration backoff::next() {
  const auto cap = static_cast<double>(opts_.max.count());
  const auto base = static_cast<double>(base_.count());
  double u = uniform_ ? uniform_() : 0.0;
  // Some standard libraries' uniform_real_distribution can round up to 1.0;
  // the cap below bounds the result either way.
  if (!(u >= 0.0)) u = 0.0;
  const auto delay =
      to_duration(clamp_ms(base * (1.0 + opts_.jitter * u), cap));
  base_ = to_duration(clamp_ms(base * opts_.factor, cap));
  return delay;
}

void backoff::reset() noexcept { base_ = opts_.initial; }

}  // namespace mca
