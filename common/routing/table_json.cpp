#include "common/routing/table_json.hpp"

#include <string>
#include <type_traits>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/routing/routing_table.hpp"

namespace mca::routing {
namespace {

using json = nlohmann::json;

constexpr const char* redacted = "<redacted>";

json credentials_json(const credential_source& source) {
  return std::visit(
      [](const auto& c) -> json {
        using type = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<type, local_credentials>) {
          return {{"local", json::object()}};
        } else if constexpr (std::is_same_v<type, token_credentials>) {
          // The parser guarantees exactly one of file / value is set.
          if (!c.value.empty()) return {{"token", {{"value", redacted}}}};
          return {{"token", {{"file", c.file}}}};
        } else if constexpr (std::is_same_v<type,
                                            client_certificate_credentials>) {
          if (!c.cert_data.empty()) {
            return {{"clientCertificate",
                     {{"certData",
                       "<" + std::to_string(c.cert_data.size()) + " bytes>"},
                      {"keyData", redacted}}}};
          }
          return {{"clientCertificate",
                   {{"certFile", c.cert_file}, {"keyFile", c.key_file}}}};
        } else {
          json k{{"file", c.file}};
          if (!c.context.empty()) k["context"] = c.context;
          return {{"kubeconfig", std::move(k)}};
        }
      },
      source);
}

json target_json(const target_spec& t) {
  json out{{"name", t.name},
           {"server", t.server},
           {"insecureSkipTLSVerify", t.insecure_skip_tls_verify}};
  // Empty fields are left out as the file would leave them out, which keeps
  // the output short and readable back by the parser unchanged.
  if (!t.ca_file.empty()) out["caFile"] = t.ca_file;
  if (!t.ca_data.empty()) {
    out["caData"] = "<" + std::to_string(t.ca_data.size()) + " bytes>";
  }
  if (!t.tls_server_name.empty()) out["tlsServerName"] = t.tls_server_name;
  if (!t.impersonate_user.empty()) out["impersonateUser"] = t.impersonate_user;
  out["credentials"] = credentials_json(t.credentials);
  return out;
}

const char* operator_name(label_requirement::op op) {
  switch (op) {
    case label_requirement::op::in:
      return "In";
    case label_requirement::op::not_in:
      return "NotIn";
    case label_requirement::op::exists:
      return "Exists";
    case label_requirement::op::does_not_exist:
      return "DoesNotExist";
  }
  return "Exists";
}

json globs_json(const std::vector<glob>& globs) {
  json out = json::array();
  for (const glob& g : globs) out.push_back(g.pattern());
  return out;
}

json selector_json(const label_selector& s) {
  json out = json::object();
  if (!s.match_labels.empty()) out["matchLabels"] = s.match_labels;
  if (!s.match_expressions.empty()) {
    json exprs = json::array();
    for (const label_requirement& r : s.match_expressions) {
      json e{{"key", r.key}, {"operator", operator_name(r.operator_)}};
      if (!r.values.empty()) e["values"] = r.values;
      exprs.push_back(std::move(e));
    }
    out["matchExpressions"] = std::move(exprs);
  }
  return out;
}

json match_json(const rule_match& m) {
  json out = json::object();
  if (m.verbs) {
    json verbs = json::array();
    for (const verb v : *m.verbs) verbs.push_back(to_string(v));
    out["verbs"] = std::move(verbs);
  }
  if (m.resources) {
    json resources = json::array();
    // Group and subresource are written even when "*": an absent field reads
    // as "*" too, but the explicit form shows the reader what matches.
    for (const resource_match& r : *m.resources) {
      resources.push_back({{"group", r.group},
                           {"resource", r.resource},
                           {"subresource", r.subresource}});
    }
    out["resources"] = std::move(resources);
  }
  if (m.namespaces) out["namespaces"] = globs_json(*m.namespaces);
  if (m.names) out["names"] = globs_json(*m.names);
  if (m.labels) out["labelSelector"] = selector_json(*m.labels);
  if (m.annotations) out["annotations"] = *m.annotations;
  if (m.user_agent) out["userAgent"] = m.user_agent->pattern();
  return out;
}

json rule_json(const rule& r) {
  json out = json::object();
  if (!r.name.empty()) out["name"] = r.name;
  out["match"] = match_json(r.match);
  if (r.reject) {
    json reject{{"code", r.reject->code}};
    if (!r.reject->message.empty()) reject["message"] = r.reject->message;
    out["reject"] = std::move(reject);
  } else if (r.fan_out) {
    out["targets"] = r.fan_out->targets;
    out["partial"] = r.fan_out->allow_partial ? "allow" : "deny";
    if (r.fan_out->write_target) out["writeTarget"] = *r.fan_out->write_target;
  } else {
    out["target"] = r.target;
  }
  return out;
}

}  // namespace

json to_redacted_json(const routing_table& table) {
  json targets = json::array();
  for (const target_spec& t : table.targets) targets.push_back(target_json(t));
  json rules = json::array();
  for (const rule& r : table.rules) rules.push_back(rule_json(r));
  // apiVersion and kind make the output a complete routes document.
  json out{{"apiVersion", "mca.x-k8s.io/v1alpha1"},
           {"kind", "RoutingTable"},
           {"version", table.version},
           {"policy", table.policy},
           {"targets", std::move(targets)},
           {"rules", std::move(rules)}};
  if (table.default_target) out["defaultTarget"] = *table.default_target;
  return out;
}

}  // namespace mca::routing
