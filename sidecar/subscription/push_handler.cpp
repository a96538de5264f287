#include "sidecar/subscription/push_handler.hpp"

#include <utility>

namespace mca::sidecar {
namespace {

push_decision refuse(const routes_push& push, std::string_view in_force,
                     std::string why) {
  push_decision d;
  d.reply = routes_reply{std::string(in_force), push.nonce, why};
  d.error = std::move(why);
  return d;
}

}  // namespace

routes_reply first_request(std::string_view version_in_force) {
  return routes_reply{std::string(version_in_force), {}, {}};
}

push_decision decide_push(const routes_push& push,
                          std::string_view version_in_force) {
  if (push.heartbeat) return {};
  const std::string origin = "operator push " + push.version_info;
  if (push.version_info.empty()) {
    return refuse(push, version_in_force,
                  "operator push: version_info is empty");
  }
  auto table = routing::routing_table::parse(push.table_json, origin);
  if (!table) return refuse(push, version_in_force, table.error().message);
  // The operator sets the table's `version` to version_info; a table that
  // says otherwise would make the ACK claim a version that is not in force.
  if (table->version != push.version_info) {
    return refuse(push, version_in_force,
                  origin + ": version: the table says \"" + table->version +
                      "\", the push says \"" + push.version_info + "\"");
  }
  push_decision d;
  d.reply = routes_reply{push.version_info, push.nonce, {}};
  d.unchanged = push.version_info == version_in_force;
  d.table = std::move(*table);
  return d;
}

}  // namespace mca::sidecar
