#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

namespace mca::cli {

struct program {
  std::string name;     // e.g. "mca-sidecar"
  std::string summary;  // one line for --help
  std::string usage;    // e.g. "mca-sidecar [options]"
};

// Parses argv against `options` plus the standard --help and --version.
// Returns the exit code when the program should stop now: 0 after printing
// help or version to `out`, 2 after printing one line naming a bad argument
// and pointing at --help to `err`. Returns nullopt when the program should run.
std::optional<int> parse(const program& prog,
                         boost::program_options::options_description& options,
                         boost::program_options::variables_map& vars, int argc,
                         const char* const* argv, std::ostream& out,
                         std::ostream& err);

// "0.0.0.0:9090", ":9090" or "[::]:9090" into address and port; an empty
// host is 0.0.0.0. False when the text is not of that form.
bool split_host_port(const std::string& text, std::string& host,
                     unsigned short& port);

}  // namespace mca::cli
