#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/core/error.hpp"
#include "common/routing/routing_table.hpp"

namespace mca::op {

enum class failure_mode { fail_closed, local_passthrough };

struct routing_policy {
  std::string namespace_name;
  std::string name;
  std::int64_t generation = 0;
  routing::label_selector pod_selector;
  std::int32_t priority = 0;
  std::optional<std::string> default_target;
  failure_mode on_failure = failure_mode::fail_closed;
  // spec.rules as written: the compiler turns them into table rules and the
  // table parser validates them, so there is one rule schema, not two.
  nlohmann::json rules = nlohmann::json::array();

  // "namespace/name"
  std::string key() const { return namespace_name + "/" + name; }

  bool operator==(const routing_policy&) const = default;
};

// Reads a RoutingPolicy object. Only the envelope is checked here (rules
// are checked by compiling them); errors (source config) name the field.
mca::result<routing_policy> parse_routing_policy(const nlohmann::json& object);

// What the compiler needs of a pod.
struct pod_info {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string service_account = "default";
  std::map<std::string, std::string> labels;

  std::string key() const { return namespace_name + "/" + name; }
  bool operator==(const pod_info&) const = default;
};

mca::result<pod_info> parse_pod(const nlohmann::json& object);

}  // namespace mca::op
