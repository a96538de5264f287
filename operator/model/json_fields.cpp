#include "operator/model/json_fields.hpp"

namespace mca::op {

namespace {

std::string at(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

}  // namespace

const nlohmann::json* find(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> string_at(const nlohmann::json& object,
                                     std::string_view key,
                                     const std::string& where) {
  const nlohmann::json* value = find(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string())
    throw field_error{at(where, key) + ": must be a string"};
  return value->get<std::string>();
}

std::string required_string_at(const nlohmann::json& object,
                               std::string_view key, const std::string& where) {
  auto value = string_at(object, key, where);
  if (!value || value->empty())
    throw field_error{at(where, key) + ": is required"};
  return *std::move(value);
}

std::optional<std::int64_t> integer_at(const nlohmann::json& object,
                                       std::string_view key,
                                       const std::string& where) {
  const nlohmann::json* value = find(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number_integer()) {
    throw field_error{at(where, key) + ": must be an integer"};
  }
  return value->get<std::int64_t>();
}

bool bool_at(const nlohmann::json& object, std::string_view key,
             const std::string& where) {
  const nlohmann::json* value = find(object, key);
  if (value == nullptr) return false;
  if (!value->is_boolean())
    throw field_error{at(where, key) + ": must be a boolean"};
  return value->get<bool>();
}

std::vector<std::string> string_list_at(const nlohmann::json& object,
                                        std::string_view key,
                                        const std::string& where) {
  std::vector<std::string> out;
  const nlohmann::json* value = find(object, key);
  if (value == nullptr) return out;
  if (!value->is_array())
    throw field_error{at(where, key) + ": must be a list"};
  for (const auto& item : *value) {
    if (!item.is_string()) {
      throw field_error{at(where, key) + ": must be a list of strings"};
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> string_map_at(const nlohmann::json& object,
                                                 std::string_view key,
                                                 const std::string& where) {
  std::map<std::string, std::string> out;
  const nlohmann::json* value = find(object, key);
  if (value == nullptr) return out;
  if (!value->is_object())
    throw field_error{at(where, key) + ": must be a map"};
  for (const auto& [k, v] : value->items()) {
    if (!v.is_string()) {
      throw field_error{at(where, key) + "." + k + ": must be a string"};
    }
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

routing::label_selector parse_label_selector(const nlohmann::json& selector,
                                             const std::string& where) {
  routing::label_selector out;
  if (selector.is_null()) return out;
  if (!selector.is_object()) throw field_error{where + ": must be an object"};
  out.match_labels = string_map_at(selector, "matchLabels", where);
  const nlohmann::json* exprs = find(selector, "matchExpressions");
  if (exprs == nullptr) return out;
  if (!exprs->is_array()) {
    throw field_error{where + ".matchExpressions: must be a list"};
  }
  std::size_t i = 0;
  for (const auto& e : *exprs) {
    const std::string here =
        where + ".matchExpressions[" + std::to_string(i++) + "]";
    routing::label_requirement req;
    req.key = required_string_at(e, "key", here);
    const std::string op = required_string_at(e, "operator", here);
    req.values = string_list_at(e, "values", here);
    using op_t = routing::label_requirement::op;
    if (op == "In" || op == "NotIn") {
      req.operator_ = op == "In" ? op_t::in : op_t::not_in;
      if (req.values.empty()) {
        throw field_error{here + ".values: must not be empty for " + op};
      }
    } else if (op == "Exists" || op == "DoesNotExist") {
      req.operator_ = op == "Exists" ? op_t::exists : op_t::does_not_exist;
      if (!req.values.empty()) {
        throw field_error{here + ".values: must be empty for " + op};
      }
    } else {
      throw field_error{here +
                        ".operator: must be In, NotIn, Exists or "
                        "DoesNotExist, got \"" +
                        op + "\""};
    }
    out.match_expressions.push_back(std::move(req));
  }
  return out;
}

std::map<std::string, std::string> labels_of(const nlohmann::json& object) {
  const nlohmann::json* metadata = find(object, "metadata");
  if (metadata == nullptr) return {};
  try {
    return string_map_at(*metadata, "labels", "metadata");
  } catch (const field_error&) {
    return {};
  }
}

}  // namespace mca::op
