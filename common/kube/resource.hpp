#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mca::kube {

// A kind of resource as the REST API addresses it: core resources live under
// /api/v1, every other group under /apis/GROUP/VERSION.
struct resource_ref {
  std::string group;  // "" for core
  std::string version;
  std::string resource;  // plural, lower-case: "configmaps"
  bool namespaced = true;
};

// Well-known resources the operator and tests use.
namespace resources {
resource_ref config_maps();
resource_ref secrets();
resource_ref service_accounts();
resource_ref pods();
resource_ref namespaces();
resource_ref leases();
resource_ref deployments();
resource_ref custom_resource_definitions();
}  // namespace resources

// The path of a collection (empty name) or an object, optionally of one of
// its subresources. `ns` is ignored for cluster-scoped resources and may be
// empty for a namespaced collection across all namespaces. Segments are
// percent-encoded.
std::string resource_path(const resource_ref& ref, std::string_view ns,
                          std::string_view name = {},
                          std::string_view subresource = {});

// Builds "?a=1&b=2" with values percent-encoded; empty values are skipped.
class query_string {
 public:
  query_string& add(std::string_view key, std::string_view value);
  std::string str() const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

std::string percent_encode(std::string_view s);

// The inverse; nullopt for a malformed escape. `plus_is_space` for query
// components (form encoding, as Go's url.ParseQuery does); in a path '+' is
// an ordinary character.
std::optional<std::string> percent_decode(std::string_view s,
                                          bool plus_is_space);

}  // namespace mca::kube
