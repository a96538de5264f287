#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/core/error.hpp"
#include "common/kube/client_config.hpp"

namespace mca::kube {

struct kubeconfig_options {
  // Files to merge, in order. Empty: $KUBECONFIG (split on ':'), else
  // ~/.kube/config.
  std::vector<std::filesystem::path> files;
  std::optional<std::string> context;  // overrides current-context
};

// Loads and merges kubeconfig files the way kubectl does (the first file
// that sets a map entry or current-context wins; missing files named in
// $KUBECONFIG are skipped, an explicitly given missing file is an error) and
// resolves one context to a client_config. Relative paths in a file are
// relative to that file's directory. Errors (source config) name the file
// and the field: missing file, malformed YAML, unknown context/cluster/user,
// unreadable certificate or key, contradicting fields.
result<client_config> load_kubeconfig(const kubeconfig_options& options = {});

// Same, from YAML text already in memory (`origin` names it in errors).
result<client_config> parse_kubeconfig(
    const std::string& yaml, const std::string& origin,
    const std::filesystem::path& base_dir = {},
    const std::optional<std::string>& context = std::nullopt);

struct in_cluster_options {
  // The service-account directory; the default is where kubelet mounts it.
  std::filesystem::path dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Environment lookups are injected so tests need not touch the process
  // environment. Default: std::getenv.
  std::optional<std::string> service_host;
  std::optional<std::string> service_port;
};

// In-cluster configuration: KUBERNETES_SERVICE_HOST/PORT, the token file
// (kept as a path: the kubelet rotates it), ca.crt and namespace. An IPv6
// host is bracketed in the URL.
result<client_config> load_in_cluster(const in_cluster_options& options = {});

}  // namespace mca::kube
