#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/core/error.hpp"
#include "common/routing/routing_table.hpp"

namespace mca::op {

// A key of a Secret in the operator's namespace.
struct secret_key_ref {
  std::string name;
  std::string key;
  bool operator==(const secret_key_ref&) const = default;
};

// ClusterTarget spec.credentials, one kind each (ARCHITECTURE §2).
struct local_target_credentials {
  bool operator==(const local_target_credentials&) const = default;
};
struct kubeconfig_secret_credentials {
  secret_key_ref secret;  // key defaults to "kubeconfig"
  std::string context;    // empty: the kubeconfig's current-context
  bool operator==(const kubeconfig_secret_credentials&) const = default;
};
struct token_secret_credentials {
  secret_key_ref secret;  // key defaults to "token"
  bool operator==(const token_secret_credentials&) const = default;
};
struct client_certificate_secret_credentials {
  std::string secret_name;  // a kubernetes.io/tls Secret: tls.crt, tls.key
  bool operator==(const client_certificate_secret_credentials&) const = default;
};
struct token_request_credentials {
  std::string service_account;
  std::string namespace_name;
  std::vector<std::string> audiences;
  std::int64_t expiration_seconds = 3600;
  // How the operator reaches the target to mint tokens; nullopt: the
  // operator's own identity on the home cluster.
  std::optional<kubeconfig_secret_credentials> minter;
  bool operator==(const token_request_credentials&) const = default;
};
using target_credentials =
    std::variant<local_target_credentials, kubeconfig_secret_credentials,
                 token_secret_credentials,
                 client_certificate_secret_credentials,
                 token_request_credentials>;

// spec.allowedNamespaces. Neither set: only the operator's own namespace.
struct allowed_namespaces {
  std::optional<std::vector<std::string>> names;
  std::optional<routing::label_selector> selector;
  bool operator==(const allowed_namespaces&) const = default;
};

struct cluster_target {
  std::string name;
  std::int64_t generation = 0;
  std::string server;
  std::string ca_bundle_pem;  // spec.caBundle, decoded
  std::optional<secret_key_ref> ca_secret;
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  target_credentials credentials;
  allowed_namespaces allowed;
  bool impersonate = false;

  bool operator==(const cluster_target&) const = default;
};

// Reads a ClusterTarget object. Errors (source config) name the field.
mca::result<cluster_target> parse_cluster_target(const nlohmann::json& object);

// Which Secrets (names in the operator's namespace) the target reads.
std::vector<std::string> referenced_secrets(const cluster_target& target);

}  // namespace mca::op
