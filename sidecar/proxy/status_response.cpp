#include "sidecar/proxy/status_response.hpp"

#include <nlohmann/json.hpp>

namespace mca::sidecar {

std::string_view status_reason_for(int code) noexcept {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 431:
      return "BadRequest";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "BadRequest";
  }
}

namespace {

nlohmann::json status_body(int code, std::string_view message,
                           std::string_view reason) {
  return {
      {"kind", "Status"},
      {"apiVersion", "v1"},
      {"metadata", nlohmann::json::object()},
      {"status", "Failure"},
      {"message", message},
      {"reason", reason.empty() ? status_reason_for(code) : reason},
      {"code", code},
  };
}

// Replace invalid UTF-8 rather than throw: a message may quote a path.
std::string dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string status_json(int code, std::string_view message,
                        std::string_view reason) {
  return dump(status_body(code, message, reason));
}

std::string status_json(int code, std::string_view message,
                        std::string_view reason,
                        const status_details& details) {
  auto body = status_body(code, message, reason);
  nlohmann::json d = nlohmann::json::object();
  if (!details.name.empty()) d["name"] = details.name;
  if (!details.group.empty()) d["group"] = details.group;
  if (!details.kind.empty()) d["kind"] = details.kind;
  if (!details.cause_field.empty()) {
    d["causes"] = nlohmann::json::array({{{"reason", details.cause_reason},
                                          {"message", details.cause_message},
                                          {"field", details.cause_field}}});
  }
  if (!d.empty()) body["details"] = std::move(d);
  return dump(body);
}

int status_code_for(const error& e) noexcept {
  if (e.status.code >= 400 && e.status.code <= 599) return e.status.code;
  switch (e.source) {
    case error_source::client:
      return 400;
    case error_source::config:
      return 502;
    case error_source::transport:
      // The transport's messages are ours and say which phase failed: a
      // target that answers but whose certificate fails is misconfigured
      // (502), one that does not answer is unavailable (503).
      if (e.message.find("timed out") != std::string::npos) return 504;
      if (e.message.find("TLS handshake") != std::string::npos) return 502;
      return 503;
    case error_source::api:
    case error_source::decode:
      return 502;
    case error_source::internal:
      return 500;
  }
  return 500;
}

}  // namespace mca::sidecar
