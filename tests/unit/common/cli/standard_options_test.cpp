#include "common/cli/standard_options.hpp"

#include <sstream>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/version/build_info.hpp"

namespace mca::cli {
namespace {

namespace po = boost::program_options;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct outcome {
  std::optional<int> code;
  std::string out, err;
  po::variables_map vars;
};

outcome run(std::vector<const char*> args) {
  args.insert(args.begin(), "mca-test");
  po::options_description options("Test");
  options.add_options()("routes", po::value<std::string>(),
                        "routing table file");
  outcome o;
  std::ostringstream out, err;
  o.code = parse({"mca-test", "does things", "mca-test [options]"}, options,
                 o.vars, static_cast<int>(args.size()), args.data(), out, err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

TEST(StandardOptions, HelpPrintsSummaryUsageAndEveryOptionThenExitsZero) {
  auto o = run({"--help"});
  EXPECT_EQ(o.code, 0);
  EXPECT_THAT(o.out, StartsWith("does things\n\nUsage: mca-test [options]"));
  EXPECT_THAT(o.out, HasSubstr("--routes"));
  EXPECT_THAT(o.out, HasSubstr("--version"));
  EXPECT_TRUE(o.err.empty());
}

TEST(StandardOptions, VersionPrintsNameVersionAndCommit) {
  auto o = run({"--version"});
  EXPECT_EQ(o.code, 0);
  const auto build = current_build();
  EXPECT_EQ(o.out, "mca-test " + std::string(build.version) + " (commit " +
                       std::string(build.git_commit) + ")\n");
}

TEST(StandardOptions, UnknownFlagIsOneLineNamingItAndExitsTwo) {
  auto o = run({"--rootes", "x"});
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err,
            "mca-test: unrecognised option '--rootes' (see mca-test --help)\n");
  EXPECT_TRUE(o.out.empty());
}

TEST(StandardOptions, MissingValueIsAnError) {
  auto o = run({"--routes"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("routes"));
}

TEST(StandardOptions, ValidArgumentsLetTheProgramRun) {
  auto o = run({"--routes", "table.yaml"});
  EXPECT_FALSE(o.code.has_value());
  EXPECT_EQ(o.vars["routes"].as<std::string>(), "table.yaml");
}

}  // namespace
}  // namespace mca::cli
