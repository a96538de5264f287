#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/backends.hpp"
#include "common/kube/informer.hpp"
#include "common/kube/rest_client.hpp"

namespace replica_server {

// Deployments in every namespace, kept by common/kube's informer (paged
// list, watch with bookmarks, relist on 410, jittered backoff), with every
// add, replica change, delete, complete list and failure logged.
//
// Thread affinity: everything on the rest_client's executor, except
// synced(), find() and list(), which any thread may call (the informer's
// store hands out immutable snapshots under a lock).
class deployment_cache final : public deployment_reader {
 public:
  explicit deployment_cache(mca::kube::rest_client& client);

  // Runs until stop(). Spawn it on the rest_client's executor.
  boost::asio::awaitable<void> run();
  void stop();

  bool synced() const override;
  std::string sync_problem() const override;
  std::optional<deployment_summary> find(
      const std::string& namespace_name,
      const std::string& name) const override;
  std::vector<deployment_summary> list() const override;

 private:
  boost::asio::awaitable<void> report_lists();

  mca::kube::informer informer_;
  std::string last_error_;  // the informer's, until the next complete list
  std::uint64_t lists_reported_ = 0;
  bool stopping_ = false;
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace replica_server
