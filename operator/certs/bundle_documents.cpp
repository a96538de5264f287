#include "operator/certs/bundle_documents.hpp"

#include "common/util/base64.hpp"

namespace mca::op {

namespace {

using json = nlohmann::json;

const json* webhooks_of(const json& configuration) {
  if (!configuration.is_object()) return nullptr;
  auto it = configuration.find("webhooks");
  if (it == configuration.end() || !it->is_array()) return nullptr;
  return &*it;
}

}  // namespace

json webhook_ca_bundle_apply(const json& configuration,
                             std::string_view bundle_pem) {
  const std::string encoded = util::base64_encode(bundle_pem);
  json entries = json::array();
  if (const json* webhooks = webhooks_of(configuration)) {
    for (const json& w : *webhooks) {
      if (!w.is_object() || !w.contains("name") || !w["name"].is_string()) {
        continue;
      }
      entries.push_back(
          json{{"name", w["name"]}, {"clientConfig", {{"caBundle", encoded}}}});
    }
  }
  std::string name;
  if (configuration.is_object() && configuration.contains("metadata") &&
      configuration["metadata"].is_object()) {
    name = configuration["metadata"].value("name", "");
  }
  return json{{"apiVersion", "admissionregistration.k8s.io/v1"},
              {"kind", "MutatingWebhookConfiguration"},
              {"metadata", {{"name", name}}},
              {"webhooks", std::move(entries)}};
}

bool webhook_has_ca_bundle(const json& configuration,
                           std::string_view bundle_pem) {
  const json* webhooks = webhooks_of(configuration);
  if (webhooks == nullptr) return true;
  const std::string encoded = util::base64_encode(bundle_pem);
  for (const json& w : *webhooks) {
    if (!w.is_object()) continue;
    auto cc = w.find("clientConfig");
    if (cc == w.end() || !cc->is_object()) return false;
    auto ca = cc->find("caBundle");
    if (ca == cc->end() || !ca->is_string() ||
        ca->get<std::string>() != encoded) {
      return false;
    }
  }
  return true;
}

json ca_bundle_config_map(std::string_view ns, std::string_view bundle_pem,
                          std::string_view owner) {
  return json{
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", std::string(ca_bundle_config_map_name)},
        {"namespace", std::string(ns)},
        {"labels",
         {{"app.kubernetes.io/managed-by", "mca-operator"},
          {std::string(ca_owner_label), std::string(owner)}}}}},
      {"data", {{std::string(ca_bundle_key), std::string(bundle_pem)}}}};
}

std::string ca_bundle_owner(const json& config_map) {
  if (!config_map.is_object()) return {};
  auto metadata = config_map.find("metadata");
  if (metadata == config_map.end() || !metadata->is_object()) return {};
  auto labels = metadata->find("labels");
  if (labels == metadata->end() || !labels->is_object()) return {};
  auto owner = labels->find(std::string(ca_owner_label));
  if (owner == labels->end() || !owner->is_string()) return {};
  return owner->get<std::string>();
}

bool config_map_has_bundle(const json& config_map,
                           std::string_view bundle_pem) {
  if (!config_map.is_object()) return false;
  auto data = config_map.find("data");
  if (data == config_map.end() || !data->is_object()) return false;
  auto ca = data->find(std::string(ca_bundle_key));
  return ca != data->end() && ca->is_string() &&
         ca->get<std::string>() == bundle_pem;
}

}  // namespace mca::op
