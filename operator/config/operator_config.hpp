#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/core/error.hpp"

namespace mca::op {

enum class sidecar_failure_mode { fail_closed, local_passthrough };

// "FailClosed" or "LocalPassthrough", as the sidecar's --failure-mode takes.
const char* to_string(sidecar_failure_mode mode) noexcept;

// What the injector puts into pods. Defaults are the documented ones.
struct injection_config {
  injection_config();  // image from the build's version

  std::string image;
  std::string image_pull_policy = "IfNotPresent";
  // A Kubernetes ResourceRequirements object with `requests` and `limits`
  // maps of quantities, given to the sidecar container as it is.
  nlohmann::json resources;
  // Where sidecars reach the operator's gRPC stream. Empty in the file means
  // "the operator's own Service"; see resolved_operator_address().
  std::string operator_address;
  std::uint16_t admin_port = 9090;
  sidecar_failure_mode failure_mode = sidecar_failure_mode::fail_closed;
  // Lifetime of the projected token (audience mca-operator) the sidecar
  // authenticates to the operator with.
  std::int64_t token_expiration_seconds = 600;
  std::vector<std::string> extra_args;
  // The operator's own namespace is excluded too; the caller adds it.
  std::vector<std::string> excluded_namespaces{"kube-system", "kube-public",
                                               "kube-node-lease"};
};

struct webhook_config {
  // The MutatingWebhookConfiguration whose caBundle the operator keeps.
  std::string configuration_name = "mca-sidecar-injector";
};

struct certificates_config {
  std::string secret_name = "mca-operator-certs";
  // Each Service name gives the DNS names a client may use for it; see
  // certificate_dns_names().
  std::vector<std::string> service_names{"mca-operator"};
  std::vector<std::string> extra_dns_names;
  std::vector<std::string> extra_ip_addresses;  // IPv4 or IPv6 literals
  std::chrono::seconds ca_lifetime = std::chrono::hours(8760);
  std::chrono::seconds leaf_lifetime = std::chrono::hours(720);
  // Renew a certificate once this fraction of its lifetime has passed.
  double renew_fraction = 0.6667;
  // How long a replaced CA stays trusted after the new leaf is served.
  std::chrono::seconds ca_grace_period = std::chrono::hours(24);
  // How long a new CA must be in every published bundle before a leaf it
  // signed is served: kubelets refresh ConfigMap volumes only periodically.
  std::chrono::seconds bundle_propagation = std::chrono::seconds(180);
};

// The operator's configuration file (`--config FILE`). Default-constructed,
// it holds every default.
struct operator_config {
  injection_config injection;
  webhook_config webhook;
  certificates_config certificates;
};

// Strict: YAML or JSON, one document (an empty one means all defaults);
// unknown fields, wrong types and out-of-range values are errors (source
// config) "<origin>: <field path>: <what is wrong>".
mca::result<operator_config> parse_operator_config(std::string_view text,
                                                   std::string_view origin);

// The file at `path`, parsed; an unreadable file is an error naming it.
mca::result<operator_config> load_operator_config(
    const std::filesystem::path& path);

// A Go duration ("90s", "30m", "1h30m", "8760h", "1.5h"), positive and a
// whole number of seconds; nullopt for anything else.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

// "mca-operator.<namespace>.svc:9443": the operator's Service.
std::string default_operator_address(std::string_view operator_namespace);

// injection.operator_address, or the default when it was not given.
std::string resolved_operator_address(const injection_config& config,
                                      std::string_view operator_namespace);

// For each service name N: N, N.<ns>, N.<ns>.svc, N.<ns>.svc.cluster.local;
// then the extra DNS names. Without duplicates, in that order.
std::vector<std::string> certificate_dns_names(
    const certificates_config& config, std::string_view operator_namespace);

}  // namespace mca::op
