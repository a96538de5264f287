#include "sidecar/proxy/locate.hpp"

#include "common/util/strings.hpp"

namespace mca::sidecar {

locate_outcome decide_location(const std::vector<probe_result>& probes,
                               const std::string& group,
                               const std::string& resource,
                               const std::string& name) {
  locate_outcome out;
  std::vector<std::string> failures;
  for (const auto& p : probes) {
    if (p.what == probe_result::outcome::found) {
      out.targets.push_back(p.target);
    } else if (p.what == probe_result::outcome::failed) {
      failures.push_back(p.detail);
    }
  }
  const std::string qualified =
      group.empty() ? resource : resource + "." + group;
  if (out.targets.size() == 1) {
    out.what = locate_outcome::kind::found;
    out.target = out.targets.front();
    out.targets.clear();
    return out;
  }
  if (out.targets.size() > 1) {
    out.what = locate_outcome::kind::ambiguous;
    out.message = qualified + " " + quote(name) +
                  " exists in several clusters (" + join(out.targets, ", ") +
                  "); the routing policy cannot tell which one is meant";
    return out;
  }
  if (!failures.empty()) {
    out.what = locate_outcome::kind::unavailable;
    out.message = "cannot tell where " + qualified + " " + quote(name) +
                  " is: " + join(failures, "; ");
    return out;
  }
  out.what = locate_outcome::kind::not_found;
  out.message = qualified + " " + quote(name) + " not found";
  return out;
}

}  // namespace mca::sidecar
