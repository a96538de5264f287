#include "sidecar/subscription/passthrough_table.hpp"

#include <nlohmann/json.hpp>

namespace mca::sidecar {

mca::result<std::string> local_server_from_environment(std::string_view host,
                                                       std::string_view port) {
  if (host.empty()) {
    return error::of(error_source::config,
                     "--failure-mode LocalPassthrough: KUBERNETES_SERVICE_HOST "
                     "is not set; pass --local-server URL");
  }
  std::string server = "https://";
  if (host.find(':') != std::string_view::npos && host.front() != '[') {
    server += "[" + std::string(host) + "]";
  } else {
    server += host;
  }
  server += ":";
  server += port.empty() ? std::string_view("443") : port;
  return server;
}

mca::result<routing::routing_table> make_passthrough_table(
    std::string_view server) {
  // Built as the schema's JSON and parsed, so this table passes the same
  // validation as every other: there is no other way to make one.
  const nlohmann::json table{
      {"apiVersion", "mca.x-k8s.io/v1alpha1"},
      {"kind", "RoutingTable"},
      {"policy", passthrough_policy},
      {"targets",
       {{{"name", "local"},
         {"server", server},
         {"credentials", {{"local", nlohmann::json::object()}}}}}},
      {"defaultTarget", "local"},
      {"rules", nlohmann::json::array()}};
  return routing::routing_table::parse(table.dump(),
                                       "--failure-mode LocalPassthrough");
}

}  // namespace mca::sidecar
