#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mca::sidecar::fanout {

// `object[key]` when it is a string, else empty. nlohmann's value() throws
// on a field of another type, and upstream bodies are not trusted to have
// the types they should.
inline std::string string_field(const nlohmann::json& object,
                                std::string_view key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace mca::sidecar::fanout
