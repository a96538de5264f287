#include "operator/controller/target_prober.hpp"

#include <chrono>
#include <ctime>

#include "common/kube/connect.hpp"
#include "common/routing/routing_table.hpp"
#include "common/routing/target_config.hpp"

namespace mca::op {

namespace {

// The table entry as the sidecar's loader reads it, then as a client
// configuration.
mca::result<kube::client_config> config_of(const nlohmann::json& entry) {
  nlohmann::json table = nlohmann::json::object();
  table["apiVersion"] = "mca.x-k8s.io/v1alpha1";
  table["kind"] = "RoutingTable";
  table["policy"] = "probe";
  table["targets"] = nlohmann::json::array();
  table["targets"].push_back(entry);
  auto parsed = routing::routing_table::parse(table.dump(), "probe");
  if (!parsed) return parsed.error();
  return routing::client_config_for(parsed->targets.front(),
                                    routing::local_identity{});
}

http::request version_request() {
  http::request req;
  req.target = "/version";
  return req;
}

}  // namespace

std::string rfc3339_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

boost::asio::awaitable<probe_result> target_prober::probe(
    std::string name, nlohmann::json entry) {
  probe_result out;
  out.probed_at = rfc3339_now();
  kube::rest_client* client = &home_;
  const bool local =
      entry.contains("credentials") && entry["credentials"].contains("local");
  if (!local) {
    cached& c = clients_[name];
    const std::string key = entry.dump();
    if (!c.client || c.entry != key) {
      c.client.reset();
      auto config = config_of(entry);
      if (!config) {
        out.message = config.error().message;
        co_return out;
      }
      auto transport = kube::make_transport(executor_, *config);
      if (!transport) {
        out.message = transport.error().message;
        co_return out;
      }
      http::request_options request_options;
      request_options.timeout = std::chrono::seconds(5);
      c.client =
          std::make_unique<kube::rest_client>(*transport, request_options);
      c.entry = key;
    }
    client = c.client.get();
  }
  auto version = co_await client->call(version_request());
  if (!version) {
    out.message = version.error().message;
    co_return out;
  }
  out.ready = true;
  out.version = version->value("gitVersion", std::string());
  out.message = "GET /version answered " + out.version;
  co_return out;
}

}  // namespace mca::op
