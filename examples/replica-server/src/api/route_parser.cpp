#include "api/route_parser.hpp"

#include <optional>
#include <utility>
#include <vector>

#include "api/k8s_names.hpp"
#include "common/kube/resource.hpp"
#include "common/util/strings.hpp"

namespace replica_server {
namespace {

constexpr std::string_view prefix = "/api/v1/";
// More segments than any endpoint has: stop splitting a hostile path early.
constexpr std::size_t max_segments = 8;

// A client's text quoted in a message, cut short: an error names what was
// wrong, it does not echo kilobytes back.
std::string shown(std::string_view text) {
  constexpr std::size_t max_shown = 80;
  if (text.size() <= max_shown) return mca::quote(text);
  return mca::quote(text.substr(0, max_shown)) + "...";
}

api_error not_found(std::string_view path) {
  return api_error::of(
      404, "no endpoint " + shown(path) + "; see the README for the API");
}

api_error wrong_method(std::string_view method, std::string_view path,
                       std::vector<std::string> allow) {
  api_error e = api_error::of(405, "method " + std::string(method) +
                                       " is not allowed on " + shown(path) +
                                       "; use " + mca::join(allow, " or "));
  e.allow = std::move(allow);
  return e;
}

// Splits "a/b/c" on '/'; nullopt for more than max_segments parts.
std::optional<std::vector<std::string_view>> split_segments(
    std::string_view rest) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    if (out.size() == max_segments) return std::nullopt;
    const std::size_t slash = rest.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(rest.substr(start));
      return out;
    }
    out.push_back(rest.substr(start, slash - start));
    start = slash + 1;
  }
}

// A decoded, validated path segment naming a namespace or a Deployment.
api_result<std::string> name_segment(std::string_view raw,
                                     std::string_view what, bool subdomain) {
  auto decoded = mca::kube::percent_decode(raw, false);
  if (!decoded) {
    return api_error::of(400, "the " + std::string(what) + " in the path (" +
                                  shown(raw) +
                                  ") has a malformed percent escape");
  }
  const auto problem = subdomain ? dns1123_subdomain_problem(*decoded)
                                 : dns1123_label_problem(*decoded);
  if (problem) {
    return api_error::of(400, "invalid " + std::string(what) + " " +
                                  shown(*decoded) + ": " + *problem);
  }
  return *std::move(decoded);
}

}  // namespace

const char* to_string(endpoint e) noexcept {
  switch (e) {
    case endpoint::get_replicas:
      return "get-replicas";
    case endpoint::set_replicas:
      return "set-replicas";
    case endpoint::list_deployments:
      return "list-deployments";
    case endpoint::health:
      return "health";
  }
  return "unknown";
}

api_result<route> parse_route(std::string_view method,
                              std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path.substr(0, prefix.size()) != prefix) return not_found(path);
  auto segments = split_segments(path.substr(prefix.size()));
  if (!segments) return not_found(path);
  const auto& s = *segments;
  for (const auto& segment : s) {
    if (segment.empty()) return not_found(path);
  }

  if (s.size() == 1 && (s[0] == "health" || s[0] == "deployments")) {
    if (method != "GET") return wrong_method(method, path, {"GET"});
    route r;
    r.what = s[0] == "health" ? endpoint::health : endpoint::list_deployments;
    return r;
  }

  if (s.size() == 5 && s[0] == "namespaces" && s[2] == "deployments" &&
      s[4] == "replicas") {
    auto ns = name_segment(s[1], "namespace", false);
    if (!ns) return ns.error();
    auto name = name_segment(s[3], "deployment name", true);
    if (!name) return name.error();
    route r;
    if (method == "GET") {
      r.what = endpoint::get_replicas;
    } else if (method == "PUT") {
      r.what = endpoint::set_replicas;
    } else {
      return wrong_method(method, path, {"GET", "PUT"});
    }
    r.namespace_name = *std::move(ns);
    r.name = *std::move(name);
    return r;
  }
  return not_found(path);
}

}  // namespace replica_server
