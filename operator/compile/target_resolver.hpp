#pragma once

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/core/error.hpp"
#include "operator/model/cluster_target.hpp"

namespace mca::op {

// The Secret named `name` in the operator's namespace, as the informer
// cached it, or null when there is none.
using secret_lookup =
    std::function<const nlohmann::json*(const std::string& name)>;

// Everything the operator knows that a target's table entry depends on
// besides its spec: Secrets and the token minted for tokenRequest.
struct target_inputs {
  secret_lookup secrets;
  std::optional<std::string> minted_token;  // tokenRequest only
};

// A ClusterTarget as a sidecar's table names it (routes-file schema:
// name, server, caData, tlsServerName, insecureSkipTLSVerify, credentials),
// with every secret inline, because the pod has none of the operator's
// Secrets. Kubeconfig Secrets must be self-contained: a token file, a
// certificate path or an exec plugin would run in the sidecar's file system,
// where it does not exist, so they are refused with a message saying so.
// Errors (source config) say which Secret and key is missing or wrong; they
// never contain secret material.
mca::result<nlohmann::json> resolve_target(const cluster_target& target,
                                           const target_inputs& inputs);

// The bytes of `key` in a Secret's data (base64-decoded), or an error
// naming the Secret and key.
mca::result<std::string> secret_value(const nlohmann::json* secret,
                                      const std::string& secret_name,
                                      const std::string& key);

}  // namespace mca::op
