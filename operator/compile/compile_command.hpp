#pragma once

#include <iosfwd>

namespace mca::op {

// `mca-operator compile --pod POD.yaml --policies DIR --targets DIR
// [--secrets DIR] [--namespace NS]`: the table the operator would stream to
// that pod, computed offline by the same compiler, with secrets redacted.
// Policies that are not accepted are reported with their reason.
int run_compile_command(int argc, char** argv, std::ostream& out,
                        std::ostream& err);

}  // namespace mca::op
