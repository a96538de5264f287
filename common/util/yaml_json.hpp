#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "common/core/error.hpp"

namespace mca::util {

// YAML as the API server reads it into JSON: plain scalars that look like
// booleans (true/false), null (null, ~, empty), integers or floats become
// those; quoted and block scalars, and `!!str`-tagged ones, stay strings.
// Floats JSON cannot carry (.inf, .nan) stay strings too.
// Throws YAML::Exception (with the position) for a mapping key that is not a
// scalar, which JSON cannot represent.
nlohmann::json yaml_to_json(const YAML::Node& node);

// Every document of a multi-document YAML stream (JSON is YAML, and a single
// JSON document is read exactly as JSON), skipping empty documents such as
// the one a leading `---` makes. A syntax error is an error (source config)
// "<origin>: line L, column C: <what>".
mca::result<std::vector<nlohmann::json>> parse_yaml_documents(
    std::string_view text, std::string_view origin);

// Block-style YAML for `value`, ending in a newline, that
// parse_yaml_documents reads back as exactly `value`: every string a YAML
// reader (1.1 or 1.2) could take for something else ("true", "yes", "1",
// "0x10", "1e3", "null", "~", "", leading or trailing spaces, ": ", " #",
// control characters...) is double-quoted. Keys come in the object's
// iteration order.
std::string json_to_yaml(const nlohmann::json& value);

}  // namespace mca::util
