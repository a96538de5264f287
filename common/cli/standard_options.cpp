#include "common/cli/standard_options.hpp"

#include <ostream>

#include <boost/program_options/parsers.hpp>

#include "common/version/build_info.hpp"

namespace po = boost::program_options;

namespace mca::cli {

std::optional<int> parse(const program& prog, po::options_description& options,
                         po::variables_map& vars, int argc,
                         const char* const* argv, std::ostream& out,
                         std::ostream& err) {
  po::options_description standard("General");
  standard.add_options()("help,h", "print this help and exit")(
      "version", "print the version and exit");
  po::options_description all;
  all.add(options).add(standard);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vars);
    po::notify(vars);
  } catch (const po::error& e) {
    err << prog.name << ": " << e.what() << " (see " << prog.name
        << " --help)\n";
    return 2;
  }
  if (vars.count("help") != 0U) {
    out << prog.summary << "\n\nUsage: " << prog.usage << "\n\n" << all;
    return 0;
  }
  if (vars.count("version") != 0U) {
    const auto build = current_build();
    out << prog.name << " " << build.version << " (commit " << build.git_commit
        << ")\n";
    return 0;
  }
  return std::nullopt;
}

bool split_host_port(const std::string& text, std::string& host,
                     unsigned short& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  const std::string digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const int p = std::stoi(digits);
  if (p > 65535) return false;
  port = static_cast<unsigned short>(p);
  return true;
}

}  // namespace mca::cli
