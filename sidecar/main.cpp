// mca-sidecar: the data plane (ARCHITECTURE.md §3, §4). main() stays thin;
// everything it wires up lives in libraries the tests link.
#include <iostream>
#include <string_view>

#include "common/cli/standard_options.hpp"
#include "sidecar/explain/explain.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "explain") {
    return mca::sidecar::run_explain(argc - 1, argv + 1, std::cout, std::cerr);
  }
  const mca::cli::program prog{
      "mca-sidecar",
      "MCA sidecar: serves the Kubernetes API on 127.0.0.1:6443 and routes "
      "each request to the cluster its routing table names.",
      "mca-sidecar [options]\n       mca-sidecar explain --routes FILE "
      "METHOD TARGET   (what a request would do; see explain --help)"};
  boost::program_options::options_description options("Sidecar");
  boost::program_options::variables_map vars;
  if (auto code = mca::cli::parse(prog, options, vars, argc, argv, std::cout,
                                  std::cerr)) {
    return *code;
  }
  // The proxy arrives with issue 4; until then say so rather than pretend.
  std::cerr << "mca-sidecar: the routing proxy is not built yet; only "
               "--help, --version and explain work in this version\n";
  return 1;
}
