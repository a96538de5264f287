#include "sidecar/fanout/composite_version.hpp"

#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/util/strings.hpp"
#include "sidecar/fanout/opaque_token.hpp"

namespace mca::sidecar::fanout {

namespace {

error client_error(std::string why) {
  return error::of(error_source::client,
                   "resourceVersion is not a valid multi-cluster version: " +
                       std::move(why));
}

// Client input in a message, cut short: it is shown back to the client and
// logged, and a megabyte of garbage helps neither.
std::string shown(std::string_view text) {
  constexpr std::size_t max_shown = 64;
  if (text.size() <= max_shown) return quote(text);
  return quote(std::string(text.substr(0, max_shown)) + "...");
}

std::vector<std::string> cluster_names(const composite_version& v) {
  std::vector<std::string> names;
  names.reserve(v.versions.size());
  for (const auto& [cluster, _] : v.versions) names.push_back(cluster);
  return names;
}

}  // namespace

result<std::string> encode(const composite_version& version) {
  if (version.versions.empty()) {
    return error::of(error_source::internal,
                     "a multi-cluster version needs at least one cluster");
  }
  if (version.versions.size() > max_composite_clusters) {
    return error::of(error_source::config,
                     "a fan-out over " +
                         std::to_string(version.versions.size()) +
                         " clusters exceeds the limit of " +
                         std::to_string(max_composite_clusters));
  }
  auto pairs = nlohmann::json::array();
  for (const auto& [cluster, rv] : version.versions) {
    if (cluster.empty() || cluster.size() > max_cluster_name_bytes) {
      return error::of(error_source::internal,
                       "cluster name " + quote(cluster) +
                           " is empty or longer than " +
                           std::to_string(max_cluster_name_bytes) + " bytes");
    }
    if (rv.empty()) {
      return error::of(error_source::decode, "cluster " + quote(cluster) +
                                                 " answered without a "
                                                 "resourceVersion");
    }
    if (rv.size() > max_upstream_version_bytes) {
      return error::of(error_source::decode,
                       "cluster " + quote(cluster) +
                           " answered with a resourceVersion of " +
                           std::to_string(rv.size()) + " bytes; the limit is " +
                           std::to_string(max_upstream_version_bytes));
    }
    if (is_composite(rv)) {
      return error::of(error_source::decode,
                       "cluster " + quote(cluster) +
                           " answered with a resourceVersion that is "
                           "already a multi-cluster version");
    }
    pairs.push_back(nlohmann::json::array({cluster, rv}));
  }
  return encode_opaque(composite_prefix, pairs);
}

result<composite_version> decode(std::string_view text) {
  if (!is_composite(text)) {
    return client_error("it does not start with \"" +
                        std::string(composite_prefix) + "\"");
  }
  const opaque_decoded d =
      decode_opaque(composite_prefix, text, max_composite_bytes);
  switch (d.fault) {
    case opaque_fault::none:
      break;
    case opaque_fault::wrong_prefix:
      return client_error("wrong prefix");
    case opaque_fault::too_long:
      return client_error("longer than " + std::to_string(max_composite_bytes) +
                          " bytes");
    case opaque_fault::bad_base64:
      if (text.substr(composite_prefix.size()).starts_with(composite_prefix)) {
        return client_error("it is encoded twice");
      }
      return client_error("bad base64url after \"" +
                          std::string(composite_prefix) + "\"");
    case opaque_fault::bad_json:
      return client_error("its content is not JSON");
    case opaque_fault::not_canonical:
      return client_error("not in the form the sidecar issues");
  }
  if (!d.value.is_array() || d.value.empty()) {
    return client_error("it names no cluster");
  }
  if (d.value.size() > max_composite_clusters) {
    return client_error("it names more than " +
                        std::to_string(max_composite_clusters) + " clusters");
  }
  composite_version out;
  const std::string* previous = nullptr;
  for (const auto& pair : d.value) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() ||
        !pair[1].is_string()) {
      return client_error("an entry is not a [cluster, version] pair");
    }
    const auto& cluster = pair[0].get_ref<const std::string&>();
    const auto& rv = pair[1].get_ref<const std::string&>();
    if (cluster.empty()) return client_error("an entry has no cluster name");
    if (rv.empty()) {
      return client_error("cluster " + quote(cluster) + " has no version");
    }
    if (is_composite(rv)) {
      return client_error("the version of cluster " + quote(cluster) +
                          " is itself a multi-cluster version");
    }
    if (out.versions.contains(cluster)) {
      return client_error("cluster " + quote(cluster) + " appears twice");
    }
    // Sorted is part of canonical form: without it two spellings of one
    // version would exist and clients comparing strings would see a change.
    if (previous != nullptr && !(*previous < cluster)) {
      return client_error("not in the form the sidecar issues");
    }
    previous = &cluster;
    out.versions.emplace(cluster, rv);
  }
  return out;
}

bool is_composite(std::string_view text) noexcept {
  return text.starts_with(composite_prefix);
}

composite_version with(composite_version version, std::string cluster,
                       std::string upstream_version) {
  version.versions.insert_or_assign(std::move(cluster),
                                    std::move(upstream_version));
  return version;
}

result<std::string> upstream_version(std::string_view client_version,
                                     std::string_view cluster,
                                     std::size_t clusters) {
  if (client_version.empty() || client_version == "0") {
    return std::string(client_version);
  }
  if (!is_composite(client_version)) {
    if (clusters <= 1) return std::string(client_version);
    return error::of(
        error_source::client,
        "resourceVersion " + shown(client_version) +
            " is not one the sidecar issued for this multi-cluster request; "
            "list again to get a current one");
  }
  auto decoded = decode(client_version);
  if (!decoded) return decoded.error();
  const auto it = decoded->versions.find(std::string(cluster));
  if (it == decoded->versions.end()) {
    // 410 Expired, as an API server says of a version it no longer has:
    // client-go's reflector and pager then relist instead of retrying.
    error e = error::of(error_source::client,
                        "resourceVersion has versions for " +
                            join(cluster_names(*decoded), ", ") +
                            " but not for cluster " + quote(cluster) +
                            "; list again to get a current one");
    e.status = api_status{410, "Expired", e.message, {}};
    return e;
  }
  return it->second;
}

}  // namespace mca::sidecar::fanout
