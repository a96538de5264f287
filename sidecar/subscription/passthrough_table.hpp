#pragma once

#include <string>
#include <string_view>

#include "common/core/error.hpp"
#include "common/routing/routing_table.hpp"

namespace mca::sidecar {

// The policy name of the table `--failure-mode LocalPassthrough` puts in
// force until the operator's first table: it names the 403s and metrics.
inline constexpr std::string_view passthrough_policy = "local-passthrough";

// `https://HOST:PORT` of the home cluster's API server from the sidecar's
// own KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT (the app's are
// pointed at the sidecar, the sidecar's are not). An IPv6 host gets
// brackets; an empty port means 443. Fails when the host is empty, naming
// the variable and the flag that would do instead.
mca::result<std::string> local_server_from_environment(std::string_view host,
                                                       std::string_view port);

// A table with one target, `local` (`server`, the sidecar's own service
// account as credentials), as the default target and no rules: every
// request goes to the home cluster as if there were no sidecar. Validated
// like any other table; fails for a server the schema refuses.
mca::result<routing::routing_table> make_passthrough_table(
    std::string_view server);

}  // namespace mca::sidecar
