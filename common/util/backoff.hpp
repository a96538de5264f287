#pragma once

#include <chrono>
#include <functional>

namespace mca {

// Jittered exponential backoff, as client-go's reflector uses for relists:
// base doubles from `initial` to `max`; each delay is base * (1 + jitter * u)
// for u in [0, 1) from the injected random source, capped at `max`.
class backoff {
 public:
  using duration = std::chrono::milliseconds;
  struct options {
    duration initial{800};
    duration max{30000};
    double factor = 2.0;
    double jitter = 0.5;
  };

  // `uniform` returns values in [0, 1); tests inject a fixed sequence.
  backoff(options opts, std::function<double()> uniform);
  explicit backoff(options opts);  // seeded from std::random_device

  duration next();
  void reset() noexcept;  // after a success: start again from `initial`

 private:
  options opts_;
  std::function<double()> uniform_;
  duration base_;
};

}  // namespace mca
