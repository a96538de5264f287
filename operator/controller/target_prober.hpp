#pragma once

#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "common/kube/rest_client.hpp"

namespace mca::op {

// "2026-11-23T21:00:00Z": the form of metav1.Time, for status fields.
std::string rfc3339_now();

struct probe_result {
  bool ready = false;
  std::string version;  // gitVersion from /version
  std::string message;
  std::string probed_at;  // RFC 3339
};

// Asks a ClusterTarget's /version with the credentials its sidecars get
// (the table entry), so Ready means "a sidecar could reach it" and not
// merely "the operator could". `local` targets use the operator's own
// client, the only identity it has on the home cluster. Clients are kept
// per target and rebuilt when the entry changes. One executor thread.
class target_prober {
 public:
  target_prober(boost::asio::any_io_executor executor, kube::rest_client& home)
      : executor_(std::move(executor)), home_(home) {}

  boost::asio::awaitable<probe_result> probe(std::string name,
                                             nlohmann::json entry);

 private:
  struct cached {
    std::string entry;
    std::unique_ptr<kube::rest_client> client;
  };
  boost::asio::any_io_executor executor_;
  kube::rest_client& home_;
  std::map<std::string, cached> clients_;
};

}  // namespace mca::op
