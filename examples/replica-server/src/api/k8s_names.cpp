#include "api/k8s_names.hpp"

#include <cstddef>

namespace replica_server {
namespace {

constexpr std::size_t label_max = 63;
constexpr std::size_t subdomain_max = 253;

bool lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// The shared part of both rules: one label's characters and ends.
std::optional<std::string> label_chars_problem(std::string_view label) {
  if (label.empty()) return "must not be empty";
  for (const char c : label) {
    if (!lower_alnum(c) && c != '-') {
      return "must consist of lower case alphanumeric characters or '-'";
    }
  }
  if (!lower_alnum(label.front()) || !lower_alnum(label.back())) {
    return "must start and end with an alphanumeric character";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> dns1123_label_problem(std::string_view value) {
  if (value.size() > label_max) {
    return "must be no more than 63 characters";
  }
  return label_chars_problem(value);
}

std::optional<std::string> dns1123_subdomain_problem(std::string_view value) {
  if (value.empty()) return "must not be empty";
  if (value.size() > subdomain_max) {
    return "must be no more than 253 characters";
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = value.find('.', start);
    const std::string_view label =
        value.substr(start, dot == std::string_view::npos ? value.size() - start
                                                          : dot - start);
    if (label.empty()) {
      return "must not have empty parts between dots";
    }
    if (auto problem = label_chars_problem(label)) {
      return "must consist of lower case alphanumeric characters, '-' or "
             "'.', and start and end every dot-separated part with an "
             "alphanumeric character";
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return std::nullopt;
}

}  // namespace replica_server
