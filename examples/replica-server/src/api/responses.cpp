#include "api/responses.hpp"

#include <nlohmann/json.hpp>

#include "common/util/strings.hpp"

namespace replica_server {
namespace {

using ordered = nlohmann::ordered_json;

std::string dump(const ordered& value) {
  return value.dump(-1, ' ', false, ordered::error_handler_t::replace);
}

ordered item(const deployment_summary& d) {
  ordered o = ordered::object();
  o["namespace"] = d.namespace_name;
  o["name"] = d.name;
  o["replicaCount"] = d.replicas;
  return o;
}

}  // namespace

std::string replicas_body(const deployment_summary& d) { return dump(item(d)); }

std::string list_body(const std::vector<deployment_summary>& items) {
  ordered list = ordered::array();
  for (const auto& d : items) list.push_back(item(d));
  return dump(list);
}

std::string updated_body() {
  ordered o = ordered::object();
  o["message"] = "Replica count updated successfully.";
  return dump(o);
}

std::string error_body(std::string_view message) {
  ordered o = ordered::object();
  o["error"] = std::string(message);
  return dump(o);
}

std::string health_body(const health_report& report) {
  ordered o = ordered::object();
  if (report.healthy) {
    o["status"] = "healthy";
    o["kubernetes"] = "connected";
  } else {
    o["status"] = "unhealthy";
    o["error"] = report.error;
  }
  return dump(o);
}

api_reply error_reply(const api_error& e) {
  api_reply r;
  r.status = e.status;
  r.body = error_body(e.message);
  if (!e.allow.empty()) {
    r.headers.push_back({"Allow", mca::join(e.allow, ", ")});
  }
  return r;
}

}  // namespace replica_server
