#include "app/server_options.hpp"

#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace replica_server {
namespace {

using ::testing::HasSubstr;

struct parsed {
  std::optional<int> code;
  server_options options;
  std::string out, err;
};

parsed parse(std::vector<std::string> args) {
  args.insert(args.begin(), "replica-server");
  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const auto& a : args) argv.push_back(a.c_str());
  parsed p;
  std::ostringstream out, err;
  p.code = parse_server_options(static_cast<int>(argv.size()), argv.data(),
                                p.options, out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

std::vector<std::string> required() {
  return {"--tls-cert", "s.crt", "--tls-key", "s.key", "--client-ca", "ca.crt"};
}

std::vector<std::string> with(std::vector<std::string> more) {
  std::vector<std::string> args = required();
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(ServerOptions, Defaults) {
  const auto p = parse(required());
  ASSERT_FALSE(p.code) << p.err;
  EXPECT_EQ(p.options.listen_address, "127.0.0.1");
  EXPECT_EQ(p.options.listen_port, 8443);
  EXPECT_EQ(p.options.client_ca_files, std::vector<std::string>{"ca.crt"});
  EXPECT_EQ(p.options.log, log_format::text);
  EXPECT_EQ(p.options.max_body_bytes, 4096U);
}

TEST(ServerOptions, EveryFlag) {
  const auto p = parse(with({"--listen",
                             "[::1]:0",
                             "--client-ca",
                             "other.crt",
                             "--kubeconfig",
                             "kc",
                             "--context",
                             "east",
                             "--log-format",
                             "json",
                             "--log-level",
                             "debug",
                             "--max-body-bytes",
                             "100",
                             "--max-connections",
                             "5",
                             "--kube-timeout",
                             "4",
                             "--health-timeout",
                             "2",
                             "--service-account-dir",
                             "/sa"}));
  ASSERT_FALSE(p.code) << p.err;
  EXPECT_EQ(p.options.listen_address, "::1");
  EXPECT_EQ(p.options.listen_port, 0);
  EXPECT_EQ(p.options.client_ca_files,
            (std::vector<std::string>{"ca.crt", "other.crt"}));
  EXPECT_EQ(p.options.kubeconfig, "kc");
  EXPECT_EQ(p.options.context, "east");
  EXPECT_EQ(p.options.log, log_format::json);
  EXPECT_EQ(p.options.log_level, spdlog::level::debug);
  EXPECT_EQ(p.options.max_body_bytes, 100U);
  EXPECT_EQ(p.options.max_connections, 5U);
  EXPECT_EQ(p.options.kube_timeout, std::chrono::seconds(4));
  EXPECT_EQ(p.options.health_timeout, std::chrono::seconds(2));
  EXPECT_EQ(p.options.service_account_dir, "/sa");
}

struct bad_case {
  std::vector<std::string> args;
  std::string says;
};

class ServerOptionsRefused : public ::testing::TestWithParam<bad_case> {};

TEST_P(ServerOptionsRefused, WithOneLineAndExitCode2) {
  const auto p = parse(GetParam().args);
  ASSERT_EQ(p.code, 2);
  EXPECT_THAT(p.err, HasSubstr(GetParam().says));
  EXPECT_THAT(p.err, HasSubstr("(see replica-server --help)\n"));
  EXPECT_EQ(p.err.find('\n'), p.err.size() - 1) << p.err;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ServerOptionsRefused,
    ::testing::Values(
        bad_case{{}, "--tls-cert and --tls-key are required"},
        bad_case{{"--tls-cert", "a", "--tls-key", "b"},
                 "--client-ca is required"},
        bad_case{with({"--listen", "8443"}), "--listen 8443 is not HOST:PORT"},
        bad_case{with({"--listen", "h:99999"}), "is not HOST:PORT"},
        bad_case{with({"--log-format", "xml"}),
                 "--log-format must be text or json"},
        bad_case{with({"--log-level", "loud"}), "--log-level loud"},
        bad_case{with({"--max-body-bytes", "0"}), "--max-body-bytes"},
        bad_case{with({"--max-body-bytes", "99999999"}), "--max-body-bytes"},
        bad_case{with({"--max-connections", "0"}), "--max-connections"},
        bad_case{with({"--kube-timeout", "0"}), "--kube-timeout"},
        bad_case{with({"--no-such-flag"}), "no-such-flag"}));

TEST(ServerOptions, HelpAndVersionStopWithZero) {
  auto p = parse({"--help"});
  EXPECT_EQ(p.code, 0);
  EXPECT_THAT(p.out, HasSubstr("Usage: replica-server"));
  EXPECT_THAT(p.out, HasSubstr("--client-ca"));
  p = parse({"--version"});
  EXPECT_EQ(p.code, 0);
  EXPECT_THAT(p.out, HasSubstr("replica-server "));
}

TEST(KubeConfigChoice, AsClientGoDecides) {
  server_options o;
  EXPECT_EQ(choose_kube_config(o, false),
            kube_config_source::default_kubeconfig);
  EXPECT_EQ(choose_kube_config(o, true), kube_config_source::in_cluster);
  o.kubeconfig = "kc";
  EXPECT_EQ(choose_kube_config(o, true), kube_config_source::kubeconfig_flag);
  EXPECT_EQ(choose_kube_config(o, false), kube_config_source::kubeconfig_flag);
}

}  // namespace
}  // namespace replica_server
