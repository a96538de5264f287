#include "common/kube/resource.hpp"

namespace mca::kube {

namespace resources {
resource_ref config_maps() { return {"", "v1", "configmaps", true}; }
resource_ref secrets() { return {"", "v1", "secrets", true}; }
resource_ref service_accounts() { return {"", "v1", "serviceaccounts", true}; }
resource_ref pods() { return {"", "v1", "pods", true}; }
resource_ref namespaces() { return {"", "v1", "namespaces", false}; }
resource_ref leases() { return {"coordination.k8s.io", "v1", "leases", true}; }
resource_ref deployments() { return {"apps", "v1", "deployments", true}; }
resource_ref custom_resource_definitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
}
}  // namespace resources

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s,
                                          bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '%') {
      if (s.size() - i < 3) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 3;
      continue;
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
    ++i;
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
        (u >= '0' && u <= '9') || u == '-' || u == '.' || u == '_' ||
        u == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4U];
      out += hex[u & 0xFU];
    }
  }
  return out;
}

std::string resource_path(const resource_ref& ref, std::string_view ns,
                          std::string_view name, std::string_view subresource) {
  std::string path = ref.group.empty()
                         ? "/api/" + ref.version
                         : "/apis/" + ref.group + "/" + ref.version;
  if (ref.namespaced && !ns.empty()) {
    path += "/namespaces/" + percent_encode(ns);
  }
  path += "/" + ref.resource;
  if (!name.empty()) {
    path += "/" + percent_encode(name);
    if (!subresource.empty()) path += "/" + percent_encode(subresource);
  }
  return path;
}

query_string& query_string::add(std::string_view key, std::string_view value) {
  if (!value.empty()) params_.emplace_back(key, value);
  return *this;
}

std::string query_string::str() const {
  std::string out;
  for (const auto& [k, v] : params_) {
    out += out.empty() ? '?' : '&';
    out += percent_encode(k);
    out += '=';
    out += percent_encode(v);
  }
  return out;
}

}  // namespace mca::kube
