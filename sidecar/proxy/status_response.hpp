#pragma once

#include <string>
#include <string_view>

#include "common/core/error.hpp"

namespace mca::sidecar {

// The Kubernetes StatusReason for an HTTP code the sidecar answers with
// itself (BadRequest, Forbidden, NotFound, Conflict, Invalid,
// RequestEntityTooLarge, ServiceUnavailable, Timeout, ...).
std::string_view status_reason_for(int code) noexcept;

// A `Status` body (kind Status, apiVersion v1, metadata {}, status Failure,
// message, reason, code) that kubectl and client libraries display as the
// error. `reason` empty: status_reason_for(code).
std::string status_json(int code, std::string_view message,
                        std::string_view reason = {});

// The object a Status is about, as the API server fills `details` (kind is
// the resource's plural, as it says it).
struct status_details {
  std::string name;
  std::string group;
  std::string kind;
  // One `causes` entry when set: kubectl prints an Invalid (422) Status as
  // "<kind> <name> is invalid: <field>: <reason text>: <message>" and shows
  // nothing of the top message when details name the object.
  std::string cause_field;
  std::string cause_reason;  // e.g. FieldValueForbidden
  std::string cause_message;
};
std::string status_json(int code, std::string_view message,
                        std::string_view reason, const status_details& details);

// The code the sidecar answers with for an error that stopped a request
// before any of the response was sent: the error's own status when it
// carries one (413 for an oversized body, 404/409/503 from locate), else by
// source — client 400, config 502 (a target it cannot even build a
// connection for), transport 503 (504 when it timed out, 502 when the TLS
// handshake failed), decode 502, internal 500.
int status_code_for(const error& e) noexcept;

}  // namespace mca::sidecar
