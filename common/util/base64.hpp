#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mca::util {

// Standard alphabet with padding, as Kubernetes encodes `[]byte` fields.
std::string base64_encode(std::string_view in);

// Standard alphabet. Line breaks and spaces are tolerated (YAML block
// scalars and `base64` without -w0 produce them); padding may be omitted,
// but what is there must be where padding belongs. nullopt for anything
// else.
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace mca::util
