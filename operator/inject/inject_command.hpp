#pragma once

#include <iosfwd>

namespace mca::op {

// `mca-operator inject [--config FILE] [--namespace NS]
// [--operator-namespace NS] [-f FILE]`: the manifests in FILE (default
// stdin; YAML, multi-document, or JSON) with the sidecar injected into every
// pod and pod template, as the webhook would inject it, labelled
// mca.k8s.io/inject: "true" so the operator serves them. Objects without a
// pod template pass through unchanged. Writes YAML documents separated by
// `---`, or JSON when the input was one JSON document.
//
// All or nothing: when any object cannot be injected (a hostNetwork pod,
// a malformed one), `out` gets nothing, `err` a line per object naming the
// document, kind and name, and the exit code is 1. Bad flags exit with 2.
int run_inject_command(int argc, char** argv, std::istream& in,
                       std::ostream& out, std::ostream& err);

}  // namespace mca::op
