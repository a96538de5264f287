#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/routing/routing_table.hpp"

namespace mca::op {

// Reading custom resources the API server has already validated against
// the CRD schema. The operator still checks what it relies on, because a
// CRD may be older than the operator (or edited by hand): a field of the
// wrong type is an error naming the field, never a crash.
struct field_error {
  std::string message;  // "spec.server: must be a string"
};

const nlohmann::json* find(const nlohmann::json& object, std::string_view key);

std::optional<std::string> string_at(const nlohmann::json& object,
                                     std::string_view key,
                                     const std::string& where);
std::string required_string_at(const nlohmann::json& object,
                               std::string_view key, const std::string& where);
std::optional<std::int64_t> integer_at(const nlohmann::json& object,
                                       std::string_view key,
                                       const std::string& where);
bool bool_at(const nlohmann::json& object, std::string_view key,
             const std::string& where);
std::vector<std::string> string_list_at(const nlohmann::json& object,
                                        std::string_view key,
                                        const std::string& where);
std::map<std::string, std::string> string_map_at(const nlohmann::json& object,
                                                 std::string_view key,
                                                 const std::string& where);

// A metav1.LabelSelector. `{}` (or absent) selects everything.
routing::label_selector parse_label_selector(const nlohmann::json& selector,
                                             const std::string& where);

// metadata.labels of any object (empty when absent).
std::map<std::string, std::string> labels_of(const nlohmann::json& object);

}  // namespace mca::op
