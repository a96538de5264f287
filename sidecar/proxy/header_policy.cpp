#include "sidecar/proxy/header_policy.hpp"

#include <array>
#include <cctype>

namespace mca::sidecar {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() &&
         iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace

bool is_identity_header(std::string_view name) noexcept {
  return iequals(name, "authorization") ||
         iequals(name, "proxy-authorization") ||
         istarts_with(name, "impersonate-") || istarts_with(name, "x-remote-");
}

bool is_hop_by_hop_header(std::string_view name) noexcept {
  static constexpr std::array<std::string_view, 6> names = {
      "connection", "keep-alive", "proxy-connection",
      "te",         "trailer",    "upgrade"};
  for (auto n : names) {
    if (iequals(name, n)) return true;
  }
  return false;
}

}  // namespace mca::sidecar
