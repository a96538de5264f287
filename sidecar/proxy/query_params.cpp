#include "sidecar/proxy/query_params.hpp"

#include <algorithm>

#include "common/kube/resource.hpp"

namespace mca::sidecar {

std::string query_value(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (kube::percent_decode(pair.substr(0, eq), true) == name) {
      if (eq == std::string_view::npos) return {};
      return kube::percent_decode(pair.substr(eq + 1), true).value_or("");
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string rewrite_query(
    std::string_view target, const std::vector<std::string_view>& names,
    const std::vector<std::pair<std::string, std::string>>& set) {
  const auto q = target.find('?');
  std::string out(target.substr(0, q));
  std::string query;
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const auto key =
          kube::percent_decode(pair.substr(0, pair.find('=')), true)
              .value_or(std::string(pair));
      if (!pair.empty() &&
          std::find(names.begin(), names.end(), key) == names.end()) {
        if (!query.empty()) query += '&';
        query += pair;
      }
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  for (const auto& [k, v] : set) {
    if (v.empty()) continue;
    if (!query.empty()) query += '&';
    query += k + "=" + kube::percent_encode(v);
  }
  if (!query.empty()) out += "?" + query;
  return out;
}

}  // namespace mca::sidecar
