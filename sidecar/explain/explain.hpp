#pragma once

#include <iosfwd>
#include <string>

#include "common/core/error.hpp"
#include "common/routing/routing_table.hpp"

namespace mca::sidecar {

struct explain_input {
  std::string method;
  std::string target;  // path and query, as a client would send them
  std::string content_type = "application/json";
  std::string body;
  std::string user_agent;
};

// What the sidecar would do with one request under `table`, as text for a
// person debugging a policy: the classification, the labels routing could
// see, and the decision with the rule that made it. Pure: no traffic.
mca::result<std::string> explain(const routing::routing_table& table,
                                 const explain_input& input);

// `mca-sidecar explain --routes FILE [--body FILE] [--content-type T]
// [--user-agent UA] METHOD TARGET`. Returns the exit code: 0 explained,
// 1 a bad routes file, body file or request, 2 a usage error.
int run_explain(int argc, const char* const* argv, std::ostream& out,
                std::ostream& err);

}  // namespace mca::sidecar
