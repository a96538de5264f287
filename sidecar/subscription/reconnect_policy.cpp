#include "sidecar/subscription/reconnect_policy.hpp"

#include <utility>

namespace mca::sidecar {

reconnect_policy::reconnect_policy(backoff::options options)
    : options_(options), backoff_(options) {}

reconnect_policy::reconnect_policy(backoff::options options,
                                   std::function<double()> uniform)
    : options_(options), backoff_(options, std::move(uniform)) {}

backoff::duration reconnect_policy::after(const stream_summary& ended) {
  if (ended.delivered_table || ended.heard_for >= options_.max) {
    backoff_.reset();
  }
  return backoff_.next();
}

}  // namespace mca::sidecar
