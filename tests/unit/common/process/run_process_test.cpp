#include "common/process/run_process.hpp"

#include <csignal>

#include <gtest/gtest.h>

namespace mca::process {
namespace {

using namespace std::chrono_literals;

process_spec command(std::vector<std::string> argv) {
  process_spec spec;
  spec.argv = std::move(argv);
  return spec;
}

process_result run_ok(const process_spec& spec) {
  auto r = run_process(spec);
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return r.has_value() ? *r : process_result{};
}

TEST(RunProcess, CollectsStdoutStderrAndExitCode) {
  auto r = run_ok(command({"sh", "-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.ok());
}

TEST(RunProcess, FeedsStdin) {
  auto spec = command({"cat"});
  spec.stdin_data = std::string(1 << 20, 'x');  // larger than a pipe buffer
  auto r = run_ok(spec);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out.size(), spec.stdin_data.size());
}

TEST(RunProcess, ChildIgnoringStdinDoesNotKillTheCaller) {
  auto spec = command({"true"});
  spec.stdin_data = std::string(1 << 20, 'x');
  auto r = run_ok(spec);
  EXPECT_EQ(r.exit_code, 0);
}

TEST(RunProcess, EnvironmentOverridesAreSeenByTheChild) {
  auto spec = command({"sh", "-c", "printf %s \"$MCA_TEST_VALUE\""});
  spec.env = {{"MCA_TEST_VALUE", "from-test"}};
  EXPECT_EQ(run_ok(spec).out, "from-test");
}

TEST(RunProcess, KillsAChildThatOutlivesItsTimeout) {
  auto spec = command({"sleep", "30"});
  spec.timeout = 200ms;
  auto r = run_ok(spec);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_FALSE(r.ok());
}

TEST(RunProcess, BoundsOutput) {
  auto spec = command({"sh", "-c", "head -c 100000 /dev/zero"});
  spec.output_limit = 1000;
  auto r = run_ok(spec);
  EXPECT_EQ(r.out.size(), 1000U);
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.ok());
}

TEST(RunProcess, MissingProgramIsAnErrorNotAResult) {
  auto r = run_process(command({"mca-no-such-program-anywhere"}));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), boost::system::errc::no_such_file_or_directory);
}

TEST(RunProcess, EmptyArgvIsInvalid) {
  auto r = run_process(process_spec{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), boost::system::errc::invalid_argument);
}

}  // namespace
}  // namespace mca::process
