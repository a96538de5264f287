#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace replica_server {

// Kubernetes' own name rules (k8s.io/apimachinery validation), checked here
// so a malformed name is a 400 that says why, never a request the API
// server refuses or, worse, a path that means something else.

// A DNS-1123 label, as namespaces are: at most 63 characters of [a-z0-9-],
// starting and ending with an alphanumeric. nullopt when valid, else why.
std::optional<std::string> dns1123_label_problem(std::string_view value);

// A DNS-1123 subdomain, as Deployment names are: at most 253 characters,
// dot-separated labels of [a-z0-9-] each starting and ending with an
// alphanumeric. nullopt when valid, else why.
std::optional<std::string> dns1123_subdomain_problem(std::string_view value);

}  // namespace replica_server
