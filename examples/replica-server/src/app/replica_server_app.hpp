#pragma once

#include <iosfwd>

#include "app/server_options.hpp"

namespace replica_server {

// Wires the server together and runs it until SIGINT or SIGTERM: one I/O
// thread runs the informer, the Kubernetes client and the HTTPS API. A
// start-up failure (unreadable certificate, bad kubeconfig, port in use) is
// one line on `err` and exit code 1.
int run_replica_server(const server_options& options, std::ostream& err);

}  // namespace replica_server
