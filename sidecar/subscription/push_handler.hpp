#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/routing/routing_table.hpp"

namespace mca::sidecar {

// One RoutesResponse from the operator, as plain data (the gRPC edge copies
// it out of the protobuf message), so that deciding what to do with it needs
// no protobuf and no socket.
struct routes_push {
  std::string version_info;
  std::string nonce;
  std::string table_json;
  bool heartbeat = false;
};

// One RoutesRequest to the operator, as plain data: the first request of a
// stream (response_nonce ""), an ACK (error_message "") or a NACK.
struct routes_reply {
  std::string version_info;
  std::string response_nonce;
  std::string error_message;

  bool is_nack() const noexcept { return !error_message.empty(); }
  bool operator==(const routes_reply&) const = default;
};

// What to do with one push.
struct push_decision {
  // The table to put in force (and save), when the push carries a good one.
  std::optional<routing::routing_table> table;
  // The good table is the version already in force (a reconnect to an
  // operator with nothing new): installing it again changes nothing.
  bool unchanged = false;
  // The answer to send; none for a heartbeat.
  std::optional<routes_reply> reply;
  // Why the push was refused ("" when it was not): also the NACK's message.
  std::string error;
};

// The request that opens a stream: the version in force ("" before the
// first table) so that the operator need not resend it.
routes_reply first_request(std::string_view version_in_force);

// Decides on one push, given the version of the operator's table in force
// ("" when none). Pure: no I/O, no clock.
//
// - A heartbeat only proves the operator is there: nothing to install or
//   send.
// - A table that passes full validation and whose `version` field equals
//   the push's version_info is installed and ACKed (version_info = the
//   pushed version, response_nonce = the push's nonce); `unchanged` says
//   whether it is the version already in force.
// - Anything else (no version, unparsable or invalid table, a table whose
//   `version` differs from version_info) is NACKed: version_info stays the
//   version in force, error_message says why, and the table in force stays.
push_decision decide_push(const routes_push& push,
                          std::string_view version_in_force);

}  // namespace mca::sidecar
