#include "common/routing/request_facts.hpp"

#include <algorithm>

namespace mca::routing {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool is_collection_read(verb v) {
  return v == verb::list || v == verb::watch || v == verb::deletecollection;
}

}  // namespace

bool needs_object_body(const request_info& info,
                       std::string_view content_type) {
  if (!info.is_resource_request || !info.subresource.empty()) return false;
  switch (info.kind) {
    case verb::create:
    case verb::update:
      return true;
    case verb::patch: {
      auto kind = patch_kind_from_content_type(content_type);
      return kind && *kind == patch_kind::apply;
    }
    default:
      return false;
  }
}

mca::result<inspected_request> inspect(std::string_view method,
                                       std::string_view target,
                                       std::string_view content_type,
                                       std::string_view body,
                                       std::size_t max_body_bytes) {
  auto info = classify(method, target);
  if (!info) return info.error();
  inspected_request out{std::move(*info), std::nullopt};
  if (!needs_object_body(out.info, content_type)) return out;
  auto meta = extract_metadata(content_type, body, max_body_bytes);
  if (!meta) return meta.error();
  if (out.info.name.empty()) out.info.name = meta->name;
  if (out.info.namespace_name.empty()) {
    out.info.namespace_name = meta->namespace_name;
  }
  out.object = std::move(*meta);
  return out;
}

std::map<std::string, std::string> selector_equalities(
    std::string_view selector) {
  std::map<std::string, std::string> out;
  while (!selector.empty()) {
    const auto comma = selector.find(',');
    auto term = trim(selector.substr(0, comma));
    selector = comma == std::string_view::npos ? std::string_view{}
                                               : selector.substr(comma + 1);
    // Set-based terms ("k in (a,b)") contain commas inside parentheses;
    // skip to the closing one so their parts are not read as terms.
    if (term.find('(') != std::string_view::npos &&
        term.find(')') == std::string_view::npos) {
      const auto close = selector.find(')');
      selector = close == std::string_view::npos ? std::string_view{}
                                                 : selector.substr(close + 1);
      if (!selector.empty() && selector.front() == ',') {
        selector.remove_prefix(1);
      }
      continue;
    }
    const auto eq = term.find('=');
    if (eq == std::string_view::npos || eq == 0 || term[eq - 1] == '!') {
      continue;
    }
    auto key = trim(term.substr(0, eq));
    auto value = term.substr(eq + 1);
    if (!value.empty() && value.front() == '=') value.remove_prefix(1);
    value = trim(value);
    if (!key.empty() && key.find(' ') == std::string_view::npos) {
      out.emplace(std::string(key), std::string(value));
    }
  }
  return out;
}

request_facts facts_of(const inspected_request& request,
                       std::string user_agent) {
  request_facts facts;
  facts.info = &request.info;
  facts.user_agent = std::move(user_agent);
  if (request.object) {
    facts.labels = request.object->labels;
    facts.annotations = request.object->annotations;
  } else if (is_collection_read(request.info.kind)) {
    facts.labels = selector_equalities(request.info.label_selector);
  }
  return facts;
}

}  // namespace mca::routing
