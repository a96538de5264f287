#include "common/routing/request_classifier.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/kube/resource.hpp"

// The rules below mirror the API server's RequestInfoFactory
// (k8s.io/apiserver/pkg/endpoints/request): a proxy that classified a request
// differently from the server it forwards to would route (or authorize) one
// operation while the server performs another.

namespace mca::routing {

namespace {

enum class http_method { get_or_head, post, put, patch, delete_, options };

std::optional<http_method> parse_method(std::string_view m) {
  // HTTP methods are case-sensitive, and so is the API server: "get" is not
  // GET to it.
  if (m == "GET" || m == "HEAD") return http_method::get_or_head;
  if (m == "POST") return http_method::post;
  if (m == "PUT") return http_method::put;
  if (m == "PATCH") return http_method::patch;
  if (m == "DELETE") return http_method::delete_;
  if (m == "OPTIONS") return http_method::options;
  return std::nullopt;
}

// Error messages quote what the client sent; keep them short and free of
// bytes that could forge log lines or break the JSON Status they end up in.
std::string printable(std::string_view s) {
  constexpr std::size_t max_chars = 128;
  std::string out;
  for (const char c : s.substr(0, max_chars)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') ? '?' : c;
  }
  if (s.size() > max_chars) out += "...";
  return out;
}

mca::error bad_target(std::string_view raw_path, std::string_view why) {
  return mca::error::of(
      mca::error_source::client,
      "request target \"" + printable(raw_path) + "\": " + std::string(why));
}

// Splits "/a/b/c" into {"a", "b", "c"}. The API server trims slashes before
// splitting, so one trailing slash is tolerated; any other empty segment, and
// "." or "..", are refused: a proxy must never resolve (or pass on) a path
// that names a different object once normalised.
mca::result<std::vector<std::string_view>> split_path(
    std::string_view decoded, std::string_view raw_path) {
  std::vector<std::string_view> segments;
  std::string_view rest = decoded.substr(1);
  if (rest.size() > 1 && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return segments;
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment.empty()) return bad_target(raw_path, "empty path segment");
    if (segment == "." || segment == "..") {
      return bad_target(raw_path, R"("." or ".." path segment)");
    }
    segments.push_back(segment);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return segments;
}

struct query_fields {
  std::optional<std::string> label_selector;
  std::optional<std::string> field_selector;
  std::optional<std::string> watch;
};

// Only the parameters classification needs; the first occurrence wins, as
// with Go's url.Values.Get.
mca::result<query_fields> parse_query(std::string_view query,
                                      std::string_view raw_path) {
  query_fields fields;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = kube::percent_decode(pair.substr(0, eq), true);
    auto value = kube::percent_decode(
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1),
        true);
    if (!key || !value) {
      return bad_target(raw_path, "invalid percent-encoding in the query");
    }
    std::optional<std::string>* slot = nullptr;
    if (*key == "labelSelector") slot = &fields.label_selector;
    if (*key == "fieldSelector") slot = &fields.field_selector;
    if (*key == "watch") slot = &fields.watch;
    if (slot != nullptr && !slot->has_value()) *slot = std::move(*value);
  }
  return fields;
}

// Go's query-to-bool conversion for ListOptions: present and neither "0" nor
// "false" (any case) is true, even an empty value.
bool truthy(const std::optional<std::string>& v) {
  if (!v) return false;
  std::string lower = *v;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return lower != "0" && lower != "false";
}

// Undoes the field-selector escapes ("\\", "\,", "\="); nullopt where the
// API server's parser would reject the value.
std::optional<std::string> unescape_field_value(std::string_view s) {
  std::string out;
  bool in_slash = false;
  for (const char c : s) {
    if (in_slash) {
      if (c != '\\' && c != ',' && c != '=') return std::nullopt;
      out += c;
      in_slash = false;
    } else if (c == '\\') {
      in_slash = true;
    } else if (c == ',' || c == '=') {
      return std::nullopt;
    } else {
      out += c;
    }
  }
  if (in_slash) return std::nullopt;
  return out;
}

struct selector_operator {
  std::size_t at = 0;
  std::size_t length = 0;
  bool negated = false;
};

// The first of "!=", "==", "=" in a term, trying them in that order at each
// position, as the API server's field-selector parser does.
std::optional<selector_operator> find_operator(std::string_view term) {
  for (std::size_t i = 0; i < term.size(); ++i) {
    const std::string_view at = term.substr(i);
    if (at.starts_with("!=")) return selector_operator{i, 2, true};
    if (at.starts_with("==")) return selector_operator{i, 2, false};
    if (at.starts_with("=")) return selector_operator{i, 1, false};
  }
  return std::nullopt;
}

// The API server reports a list or watch restricted by
// fieldSelector=metadata.name=X as naming X, so per-object rules apply to
// it. This follows its parser: terms split on unescaped commas and sorted,
// the first operator ("!=", "==", "=") found splits a term, and an invalid
// selector yields no name at all.
std::string name_from_field_selector(std::string_view selector) {
  std::vector<std::string_view> terms;
  std::size_t start = 0;
  bool in_slash = false;
  for (std::size_t i = 0; i < selector.size(); ++i) {
    if (in_slash) {
      in_slash = false;
    } else if (selector[i] == '\\') {
      in_slash = true;
    } else if (selector[i] == ',') {
      terms.push_back(selector.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(selector.substr(start));
  std::sort(terms.begin(), terms.end());

  std::optional<std::string> name;
  for (const std::string_view term : terms) {
    if (term.empty()) continue;
    const auto op = find_operator(term);
    if (!op) return {};
    auto value = unescape_field_value(term.substr(op->at + op->length));
    if (!value) return {};
    if (!op->negated && !name && term.substr(0, op->at) == "metadata.name") {
      name = std::move(*value);
    }
  }
  // Only a name usable as a path segment counts (path.IsValidPathSegmentName).
  if (!name || *name == "." || *name == ".." ||
      name->find_first_of("/%") != std::string::npos) {
    return {};
  }
  return *name;
}

// These subresources are served only by the API server's connecter (there is
// no get or update of them), so every method on them is a connect: GET for
// WebSocket upgrades, POST for SPDY, and any method for proxy.
bool is_connect_subresource(std::string_view s) {
  return s == "exec" || s == "attach" || s == "portforward" || s == "proxy";
}

}  // namespace

const char* to_string(verb v) noexcept {
  switch (v) {
    case verb::get:
      return "get";
    case verb::list:
      return "list";
    case verb::watch:
      return "watch";
    case verb::create:
      return "create";
    case verb::update:
      return "update";
    case verb::patch:
      return "patch";
    case verb::delete_:
      return "delete";
    case verb::deletecollection:
      return "deletecollection";
    case verb::connect:
      return "connect";
    case verb::non_resource:
      return "non-resource";
  }
  return "non-resource";
}

mca::result<request_info> classify(std::string_view method,
                                   std::string_view target) {
  const auto how = parse_method(method);
  if (!how) {
    return mca::error::of(
        mca::error_source::client,
        "unsupported HTTP method \"" + printable(method) + "\"");
  }
  if (target.empty()) {
    return mca::error::of(mca::error_source::client, "empty request target");
  }
  const auto question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  const std::string_view raw_query = question == std::string_view::npos
                                         ? std::string_view{}
                                         : target.substr(question + 1);
  // Only origin-form: the absolute form is for forward proxies, and '*' (or
  // anything relative) names no path to route.
  if (raw_path.empty() || raw_path.front() != '/') {
    return bad_target(raw_path, "not an absolute path");
  }
  if (target.find('#') != std::string_view::npos) {
    return bad_target(raw_path, "a fragment is not part of a request target");
  }
  // Split after decoding, as the API server splits the decoded URL.Path: an
  // encoded "%2F" separates segments and "%2E%2E" is a ".." segment.
  const auto decoded = kube::percent_decode(raw_path, false);
  if (!decoded) return bad_target(raw_path, "invalid percent-encoding");
  auto segments = split_path(*decoded, raw_path);
  if (!segments) return segments.error();
  auto query = parse_query(raw_query, raw_path);
  if (!query) return query.error();

  request_info info;
  info.path = *decoded;
  info.label_selector = query->label_selector.value_or("");
  info.field_selector = query->field_selector.value_or("");
  const bool watch_asked = truthy(query->watch);
  info.watch = watch_asked;
  if (*how == http_method::options) return info;

  // /api/VERSION/... and /apis/GROUP/VERSION/... with something after the
  // version; shorter paths are discovery, everything else non-resource.
  std::span<const std::string_view> parts(*segments);
  if (parts.size() < 3 || (parts[0] != "api" && parts[0] != "apis")) {
    return info;
  }
  const std::string_view prefix = parts[0];
  parts = parts.subspan(1);
  std::string_view group;
  if (prefix == "apis") {
    if (parts.size() < 3) return info;
    group = parts[0];
    parts = parts.subspan(1);
  }
  const std::string_view version = parts[0];
  parts = parts.subspan(1);

  // Legacy /watch/... and /proxy/... forms: the verb comes from the path.
  std::optional<verb> path_verb;
  if (parts[0] == "watch" || parts[0] == "proxy") {
    if (parts.size() < 2) {
      return bad_target(raw_path, "legacy /" + std::string(parts[0]) +
                                      "/ path names no resource");
    }
    path_verb = parts[0] == "watch" ? verb::watch : verb::connect;
    parts = parts.subspan(1);
  }

  std::string_view namespace_name;
  if (parts[0] == "namespaces" && parts.size() > 1) {
    namespace_name = parts[1];
    // namespaces/NS/status and /finalize are subresources of the namespace
    // itself; anything else after NS is a resource inside it.
    if (parts.size() > 2 && parts[2] != "status" && parts[2] != "finalize") {
      parts = parts.subspan(2);
    }
  }

  info.is_resource_request = true;
  info.api_prefix = prefix;
  info.group = group;
  info.version = version;
  info.namespace_name = namespace_name;
  info.resource = parts[0];
  if (parts.size() >= 2) info.name = parts[1];
  // Legacy /proxy/ paths continue with the proxied path, not a subresource.
  if (parts.size() >= 3 && path_verb != verb::connect) {
    info.subresource = parts[2];
  }

  if (path_verb) {
    info.kind = *path_verb;
  } else if (is_connect_subresource(info.subresource)) {
    info.kind = verb::connect;
  } else {
    switch (*how) {
      case http_method::get_or_head:
        if (info.name.empty()) {
          info.kind = watch_asked ? verb::watch : verb::list;
          info.name = name_from_field_selector(info.field_selector);
        } else {
          // The API server serves a named GET as a get even with ?watch=1;
          // the `watch` flag still records that it was asked for.
          info.kind = verb::get;
        }
        break;
      case http_method::post:
        info.kind = verb::create;
        break;
      case http_method::put:
        info.kind = verb::update;
        break;
      case http_method::patch:
        info.kind = verb::patch;
        break;
      case http_method::delete_:
        info.kind = info.name.empty() ? verb::deletecollection : verb::delete_;
        break;
      case http_method::options:
        break;  // returned above
    }
  }
  info.watch = watch_asked || info.kind == verb::watch;
  return info;
}

}  // namespace mca::routing
