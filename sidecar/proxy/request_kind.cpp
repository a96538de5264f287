#include "sidecar/proxy/request_kind.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/url/parse.hpp>

namespace mca::sidecar {
namespace {

bool query_flag(std::string_view target, std::string_view key) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return false;
  for (const auto& p : url->params()) {
    if (p.key == key) {
      // As the API server converts a query bool: present and neither "0"
      // nor "false" (any case) is true, even with no value.
      return p.value != "0" && !boost::algorithm::iequals(p.value, "false");
    }
  }
  return false;
}

}  // namespace

bool is_long_running(const routing::request_info& info,
                     std::string_view target) {
  if (info.watch || info.kind == routing::verb::watch ||
      info.kind == routing::verb::connect) {
    return true;
  }
  return info.subresource == "log" && query_flag(target, "follow");
}

std::string_view stream_kind(const routing::request_info& info) {
  if (info.kind == routing::verb::connect) return "upgrade";
  if (info.subresource == "log") return "follow";
  return "watch";
}

}  // namespace mca::sidecar
