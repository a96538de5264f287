#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mca::op {

// The objects that carry the operator's trust bundle to its clients, as
// server-side apply bodies. Pure: the CA manager decides when to send them.

// The ConfigMap the injector mounts into every sidecar (key ca.crt), one per
// namespace with injected pods.
inline constexpr std::string_view ca_bundle_config_map_name = "mca-ca-bundle";
inline constexpr std::string_view ca_bundle_key = "ca.crt";

// Field manager of everything the CA manager applies, so `kubectl get
// --show-managed-fields` says who owns the caBundle and a reset by another
// manager is visible as a conflict we force back.
inline constexpr std::string_view ca_field_manager = "mca-operator-ca";

// An apply body that sets clientConfig.caBundle of every webhook entry of
// `configuration` (a MutatingWebhookConfiguration as read) and nothing else.
// `webhooks` is a map list keyed by name, so naming each entry owns just
// its caBundle and leaves the rest to whoever applied it.
nlohmann::json webhook_ca_bundle_apply(const nlohmann::json& configuration,
                                       std::string_view bundle_pem);

// True when every webhook entry already trusts exactly `bundle_pem` (an
// empty configuration has nothing to fix).
bool webhook_has_ca_bundle(const nlohmann::json& configuration,
                           std::string_view bundle_pem);

// Which operator a ConfigMap's bundle belongs to (the operator's
// namespace). Two MCA installations in one cluster would otherwise take
// turns overwriting each other's bundle in every namespace they both see.
inline constexpr std::string_view ca_owner_label = "mca.k8s.io/ca-owner";

// An apply body for namespace `ns`'s mca-ca-bundle ConfigMap, labelled as
// `owner`'s.
nlohmann::json ca_bundle_config_map(std::string_view ns,
                                    std::string_view bundle_pem,
                                    std::string_view owner);

// The owner label of a ConfigMap ("" when it has none).
std::string ca_bundle_owner(const nlohmann::json& config_map);

bool config_map_has_bundle(const nlohmann::json& config_map,
                           std::string_view bundle_pem);

}  // namespace mca::op
