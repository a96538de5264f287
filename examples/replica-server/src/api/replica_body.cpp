#include "api/replica_body.hpp"

#include <cctype>
#include <string>

#include <nlohmann/json.hpp>

namespace replica_server {
namespace {

using json = nlohmann::json;

constexpr std::string_view field = "replicaCount";

// "application/json" or "application/json; charset=utf-8", any case.
bool is_json_media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
    type.remove_suffix(1);
  }
  constexpr std::string_view expected = "application/json";
  if (type.size() != expected.size()) return false;
  for (std::size_t i = 0; i < type.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(type[i])) != expected[i]) {
      return false;
    }
  }
  return true;
}

const char* kind_of(const json& value) {
  switch (value.type()) {
    case json::value_t::number_float:
      return "a floating-point number";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::null:
      return "null";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "not an integer";
  }
}

// api_error is constructible from an int too, so say which side this is.
template <class N>
api_result<std::int32_t> counted(N n) {
  return {boost::system::in_place_value, static_cast<std::int32_t>(n)};
}

api_error bad(std::string message) {
  return api_error::of(
      400, std::move(message) + "; send {\"replicaCount\": N} with N >= 0");
}

}  // namespace

api_result<std::int32_t> parse_replica_count(std::string_view content_type,
                                             std::string_view body) {
  if (!content_type.empty() && !is_json_media_type(content_type)) {
    return api_error::of(415, "the request body must be application/json");
  }
  if (body.empty()) return bad("the request body is empty");
  // No exceptions: a parse failure is a discarded value.
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return bad("the request body is not valid JSON");
  if (!parsed.is_object()) return bad("the request body must be an object");
  for (const auto& [key, value] : parsed.items()) {
    if (key != field) {
      std::string shown = key.size() > 40 ? key.substr(0, 40) + "..." : key;
      return bad("unknown field \"" + shown + "\"");
    }
  }
  const auto it = parsed.find(field);
  if (it == parsed.end()) return bad("replicaCount is missing");
  if (it->is_number_unsigned()) {
    const auto n = it->get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(max_replicas)) {
      return bad("replicaCount " + std::to_string(n) +
                 " is too large (at most " + std::to_string(max_replicas) +
                 ")");
    }
    return counted(n);
  }
  if (it->is_number_integer()) {
    const auto n = it->get<std::int64_t>();
    if (n < 0) {
      return bad("replicaCount must not be negative (got " + std::to_string(n) +
                 ")");
    }
    if (n > max_replicas) {
      return bad("replicaCount " + std::to_string(n) +
                 " is too large (at most " + std::to_string(max_replicas) +
                 ")");
    }
    return counted(n);
  }
  return bad(std::string("replicaCount must be an integer, not ") +
             kind_of(*it));
}

}  // namespace replica_server
