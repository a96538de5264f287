#pragma once

#include <string_view>

#include "common/routing/request_classifier.hpp"

namespace mca::sidecar {

// Long-running requests hold their connection for as long as the client
// wants: watches (also a named GET with ?watch=true), followed logs, and
// the connect verbs (exec, attach, port-forward, proxy), which upgrade.
// They are exempt from the request timeout, as the API server exempts
// them from its own.
bool is_long_running(const routing::request_info& info,
                     std::string_view target);

// Which `mca_active_streams{kind}` a long-running request counts under:
// "watch", "follow" or "upgrade".
std::string_view stream_kind(const routing::request_info& info);

}  // namespace mca::sidecar
