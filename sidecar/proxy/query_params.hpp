#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mca::sidecar {

// The decoded value of query parameter `name` of a request-target (path and
// query); "" when absent or malformed. Enough for the parameters merged
// reads plan with (limit, continue, resourceVersion, sendInitialEvents):
// the classifier has already refused malformed targets.
std::string query_value(std::string_view target, std::string_view name);

// `target` with the parameters `names` removed and `set` (decoded values;
// empty ones skipped) appended, for the request one cluster gets. The
// parameters left alone keep their bytes, so selectors reach the cluster
// as the client encoded them.
std::string rewrite_query(
    std::string_view target, const std::vector<std::string_view>& names,
    const std::vector<std::pair<std::string, std::string>>& set);

}  // namespace mca::sidecar
