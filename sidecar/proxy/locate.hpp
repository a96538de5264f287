#pragma once

#include <string>
#include <vector>

namespace mca::sidecar {

// What asking one candidate target for an object gave.
struct probe_result {
  std::string target;
  enum class outcome { found, not_found, failed } what = outcome::failed;
  std::string detail;  // failed: the error, naming the target
};

struct locate_outcome {
  enum class kind { found, not_found, ambiguous, unavailable };
  kind what = kind::not_found;
  std::string target;                // found
  std::vector<std::string> targets;  // ambiguous: where it exists
  std::string message;               // not_found/ambiguous/unavailable
};

// Decides where an object is from the candidates' answers (pure).
//   - exactly one found: there, even if others failed — the object lives in
//     one cluster by construction (creates are routed to one target), so an
//     unreachable candidate cannot hold a second copy that matters more;
//   - several found: ambiguous (409), naming them;
//   - none found, some failed: unavailable (503), naming the failures —
//     answering 404 would let a client conclude the object is gone;
//   - none found, none failed: not_found (404) worded as the API server
//     words it: `<resource> "<name>" not found`, with the group when there
//     is one (`deployments.apps "web" not found`).
locate_outcome decide_location(const std::vector<probe_result>& probes,
                               const std::string& group,
                               const std::string& resource,
                               const std::string& name);

}  // namespace mca::sidecar
