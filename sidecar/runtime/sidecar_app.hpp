#pragma once

#include <iosfwd>

#include "sidecar/runtime/sidecar_options.hpp"

namespace mca::sidecar {

// Runs the sidecar until SIGTERM or SIGINT: serving identity and pod files,
// routing table (and its reload), proxy workers, admin server. Start-up
// failures (bad routes file, port in use, unwritable directory) print one
// line to `err` and return 1; a drained shutdown returns 0.
int run_sidecar(const sidecar_options& options, std::ostream& err);

}  // namespace mca::sidecar
