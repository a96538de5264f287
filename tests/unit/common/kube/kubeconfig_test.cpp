#include "common/kube/kubeconfig.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::kube {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Values that must never show up in an error message.
constexpr std::string_view secret_token = "s3cr3t-t0ken-value";
constexpr std::string_view secret_password = "hunter2-passw0rd";
constexpr std::string_view secret_key = "PRIVATE-KEY-MATERIAL";
constexpr std::string_view secret_env = "env-secret-value";

std::string ca_pem() {
  return "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
}
std::string cert_pem() {
  return "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
}
std::string key_pem() {
  return "-----BEGIN PRIVATE KEY-----\n" + std::string(secret_key) +
         "\n-----END PRIVATE KEY-----\n";
}

std::string base64(std::string_view in) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, in.size() - i);
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      const std::uint32_t byte =
          j < n ? static_cast<unsigned char>(in[i + j]) : 0U;
      group = (group << 8U) | byte;
    }
    for (std::size_t j = 0; j < 4; ++j) {
      const auto shift = static_cast<std::uint32_t>(18 - 6 * j);
      out += j <= n ? alphabet[(group >> shift) & 63U] : '=';
    }
  }
  return out;
}

// A fresh directory per test, removed afterwards.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern =
        (fs::temp_directory_path() / "mca-kubeconfig-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
    }
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }

  const fs::path& path() const { return path_; }

  fs::path write(const fs::path& relative, std::string_view content) const {
    fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << content;
    return file;
  }

 private:
  fs::path path_;
};

// Sets (or unsets) an environment variable and puts it back afterwards.
class scoped_env {
 public:
  scoped_env(std::string name, const std::optional<std::string>& value)
      : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str()); old != nullptr) {
      old_ = old;
    }
    set(value);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;
  ~scoped_env() { set(old_); }

 private:
  void set(const std::optional<std::string>& value) const {
    if (value) {
      ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

  std::string name_;
  std::optional<std::string> old_;
};

client_config value_of(const result<client_config>& r) {
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : client_config{};
}

// The error of a load that must fail, after checking what every config
// error must satisfy: source config, and no secret in the message.
error error_of(const result<client_config>& r) {
  EXPECT_FALSE(r.has_value())
      << "expected an error, got a config for " << (r ? r->server : "");
  if (r) return {};
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(
      r.error().message,
      AllOf(Not(HasSubstr(secret_token)), Not(HasSubstr(secret_password)),
            Not(HasSubstr(secret_key)), Not(HasSubstr(secret_env))));
  return r.error();
}

kubeconfig_options files(std::vector<fs::path> paths,
                         std::optional<std::string> context = std::nullopt) {
  kubeconfig_options options;
  options.files = std::move(paths);
  options.context = std::move(context);
  return options;
}

// One context "ctx" using cluster "c" and user "u" with the given bodies
// (each an indented block of YAML fields, or empty).
std::string single(const std::string& cluster, const std::string& user,
                   const std::string& context_extra = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: ctx\n"
         "clusters:\n- name: c\n  cluster:\n" +
         cluster + "users:\n- name: u\n  user:\n" + user +
         "contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n" +
         context_extra;
}

std::string plain_cluster() { return "    server: https://api.example:6443\n"; }
std::string token_user() {
  return "    token: " + std::string(secret_token) + "\n";
}

// ------------------------------------------------------------ happy paths

TEST(Kubeconfig, LoadsAFullConfig) {
  temp_dir dir;
  dir.write("pki/ca.crt", ca_pem());
  dir.write("pki/client.crt", cert_pem());
  dir.write("pki/client.key", key_pem());
  const auto file = dir.write("config", R"(apiVersion: v1
kind: Config
preferences: {}
current-context: east
clusters:
- name: east-cluster
  cluster:
    server: https://east.example:6443/prefix
    certificate-authority: pki/ca.crt
    tls-server-name: api.east.internal
users:
- name: east-admin
  user:
    client-certificate: pki/client.crt
    client-key: pki/client.key
contexts:
- name: east
  context:
    cluster: east-cluster
    user: east-admin
    namespace: team-a
)");
  const auto c = value_of(load_kubeconfig(files({file})));
  EXPECT_EQ(c.server, "https://east.example:6443/prefix");
  EXPECT_EQ(c.ca_pem, ca_pem());
  EXPECT_EQ(c.tls_server_name, "api.east.internal");
  EXPECT_FALSE(c.insecure_skip_tls_verify);
  EXPECT_EQ(c.auth.client_cert_pem, cert_pem());
  EXPECT_EQ(c.auth.client_key_pem, key_pem());
  EXPECT_TRUE(c.auth.token.empty());
  EXPECT_TRUE(c.auth.token_file.empty());
  EXPECT_FALSE(c.auth.exec.has_value());
  EXPECT_EQ(c.namespace_name, "team-a");
  EXPECT_EQ(c.origin, "kubeconfig " + file.string() + ", context east");
}

TEST(Kubeconfig, InlineTokenAndBase64Data) {
  // Every padding length, and a line-wrapped value as `base64` prints it.
  const std::string ca_data = base64(ca_pem());
  std::string cert_data = base64(cert_pem() + "x");
  cert_data.insert(20, "\n      ");
  const std::string key_data = base64(key_pem() + "xy");
  const auto yaml = single(
      "    server: https://10.0.0.1:6443\n"
      "    certificate-authority-data: " +
          ca_data + "\n",
      "    token: " + std::string(secret_token) +
          "\n    client-certificate-data: |\n      " + cert_data +
          "\n    client-key-data: " + key_data + "\n");
  const auto c = value_of(parse_kubeconfig(yaml, "test"));
  EXPECT_EQ(c.ca_pem, ca_pem());
  EXPECT_EQ(c.auth.client_cert_pem, cert_pem() + "x");
  EXPECT_EQ(c.auth.client_key_pem, key_pem() + "xy");
  EXPECT_EQ(c.auth.token, secret_token);
  EXPECT_EQ(c.namespace_name, "default");
  EXPECT_EQ(c.origin, "test, context ctx");
}

TEST(Kubeconfig, Base64WithoutPaddingIsAccepted) {
  std::string data = base64(ca_pem() + "x");
  while (data.back() == '=') data.pop_back();
  const auto c = value_of(parse_kubeconfig(
      single(plain_cluster() + "    certificate-authority-data: " + data + "\n",
             token_user()),
      "test"));
  EXPECT_EQ(c.ca_pem, ca_pem() + "x");
}

TEST(Kubeconfig, InsecureSkipTlsVerify) {
  const auto c = value_of(parse_kubeconfig(
      single(plain_cluster() + "    insecure-skip-tls-verify: true\n",
             token_user()),
      "test"));
  EXPECT_TRUE(c.insecure_skip_tls_verify);
  EXPECT_TRUE(c.ca_pem.empty());
}

TEST(Kubeconfig, ExecPluginWithArgsAndEnv) {
  temp_dir dir;
  const auto yaml = single(plain_cluster(), R"(    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: ["eks", "get-token", "--cluster-name", "east"]
      env:
      - name: AWS_PROFILE
        value: prod
      - name: EMPTY
      installHint: install the aws CLI
      provideClusterInfo: true
)");
  const auto c = value_of(parse_kubeconfig(yaml, "test", dir.path()));
  ASSERT_TRUE(c.auth.exec.has_value());
  const auto& exec = *c.auth.exec;
  EXPECT_EQ(exec.api_version, "client.authentication.k8s.io/v1beta1");
  // A bare command name is left for $PATH lookup.
  EXPECT_EQ(exec.command, "aws");
  EXPECT_THAT(exec.args, ::testing::ElementsAre("eks", "get-token",
                                                "--cluster-name", "east"));
  using env_pair = std::pair<std::string, std::string>;
  EXPECT_THAT(exec.env, ::testing::ElementsAre(env_pair{"AWS_PROFILE", "prod"},
                                               env_pair{"EMPTY", ""}));
  EXPECT_EQ(exec.install_hint, "install the aws CLI");
  EXPECT_TRUE(exec.provide_cluster_info);
}

TEST(Kubeconfig, ExecCommandWithASlashIsRelativeToTheFile) {
  temp_dir dir;
  const auto file = dir.write("sub/config", single(plain_cluster(), R"(    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/plugin
)"));
  const auto c = value_of(load_kubeconfig(files({file})));
  ASSERT_TRUE(c.auth.exec.has_value());
  EXPECT_EQ(fs::path(c.auth.exec->command),
            (dir.path() / "sub" / "bin" / "plugin").lexically_normal());
  EXPECT_FALSE(c.auth.exec->provide_cluster_info);
  EXPECT_TRUE(c.auth.exec->args.empty());
}

TEST(Kubeconfig, TokenFileIsKeptAsAPathRelativeToTheFile) {
  temp_dir dir;
  dir.write("conf/tokens/t", "file-token");
  const auto file = dir.write(
      "conf/config", single(plain_cluster(), "    tokenFile: tokens/t\n"));
  const auto c = value_of(load_kubeconfig(files({file})));
  EXPECT_EQ(c.auth.token_file,
            (dir.path() / "conf" / "tokens" / "t").lexically_normal());
  EXPECT_TRUE(c.auth.token.empty());
}

TEST(Kubeconfig, InlineTokenWinsOverTokenFile) {
  const auto c = value_of(parse_kubeconfig(
      single(plain_cluster(),
             token_user() + "    tokenFile: /nonexistent/token\n"),
      "test"));
  EXPECT_EQ(c.auth.token, secret_token);
  EXPECT_TRUE(c.auth.token_file.empty());
}

TEST(Kubeconfig, BasicAuth) {
  const auto c = value_of(
      parse_kubeconfig(single(plain_cluster(),
                              "    as-user-extra: {}\n    as-groups: []\n"
                              "    username: admin\n    password: " +
                                  std::string(secret_password) + "\n"),
                       "test"));
  EXPECT_EQ(c.auth.username, "admin");
  EXPECT_EQ(c.auth.password, secret_password);
}

TEST(Kubeconfig, DataWinsOverFile) {
  // The files do not exist: with -data present they are not even read.
  const auto c = value_of(parse_kubeconfig(
      single(plain_cluster() + "    certificate-authority: /nonexistent/ca\n" +
                 "    certificate-authority-data: " + base64(ca_pem()) + "\n",
             "    client-certificate: /nonexistent/crt\n"
             "    client-certificate-data: " +
                 base64(cert_pem()) +
                 "\n"
                 "    client-key: /nonexistent/key\n"
                 "    client-key-data: " +
                 base64(key_pem()) + "\n"),
      "test"));
  EXPECT_EQ(c.ca_pem, ca_pem());
  EXPECT_EQ(c.auth.client_cert_pem, cert_pem());
  EXPECT_EQ(c.auth.client_key_pem, key_pem());
}

TEST(Kubeconfig, ContextWithoutUserIsAnonymous) {
  const auto c = value_of(parse_kubeconfig(R"(current-context: ctx
clusters:
- name: c
  cluster: {server: "http://localhost:8080"}
contexts:
- name: ctx
  context: {cluster: c, namespace: ""}
)",
                                           "test"));
  EXPECT_EQ(c.server, "http://localhost:8080");
  EXPECT_TRUE(c.auth.token.empty());
  EXPECT_TRUE(c.auth.client_cert_pem.empty());
  EXPECT_EQ(c.namespace_name, "default");
}

std::string two_contexts() {
  return R"(current-context: east
clusters:
- name: east
  cluster: {server: "https://east:6443"}
- name: west
  cluster: {server: "https://west:6443"}
users:
- name: u
  user: {token: abc}
contexts:
- name: east
  context: {cluster: east, user: u}
- name: west
  context: {cluster: west, user: u, namespace: w}
)";
}

TEST(Kubeconfig, ContextOverride) {
  const auto c = value_of(
      parse_kubeconfig(two_contexts(), "test", {}, std::string("west")));
  EXPECT_EQ(c.server, "https://west:6443");
  EXPECT_EQ(c.namespace_name, "w");
  EXPECT_EQ(c.origin, "test, context west");

  temp_dir dir;
  const auto file = dir.write("config", two_contexts());
  EXPECT_EQ(value_of(load_kubeconfig(files({file}, "west"))).server,
            "https://west:6443");
  EXPECT_EQ(value_of(load_kubeconfig(files({file}))).server,
            "https://east:6443");
}

TEST(Kubeconfig, MergesFilesFirstDefinitionWins) {
  temp_dir dir;
  const auto first = dir.write("one/config", R"(clusters:
- name: shared
  cluster: {server: "https://from-first:6443"}
users:
- name: u
  user: {token: first-token}
contexts:
- name: a
  context: {cluster: shared, user: u}
- name: b
  context: {cluster: only-second, user: u2}
)");
  dir.write("two/ca.crt", ca_pem());
  const auto second = dir.write("two/config", R"(current-context: a
clusters:
- name: shared
  cluster: {server: "https://from-second:6443"}
- name: only-second
  cluster:
    server: https://second-only:6443
    certificate-authority: ca.crt
users:
- name: u
  user: {token: second-token}
- name: u2
  user: {token: u2-token}
contexts:
- name: a
  context: {cluster: only-second, user: u2}
)");
  const auto third = dir.write("three/config", "current-context: b\n");

  // current-context: the first file leaves it unset, the second sets it.
  const auto a = value_of(load_kubeconfig(files({first, second, third})));
  EXPECT_EQ(a.server, "https://from-first:6443");
  EXPECT_EQ(a.auth.token, "first-token");
  EXPECT_EQ(a.origin, "kubeconfig " + first.string() + ", context a");

  // A context of file 1 using a cluster and user of file 2, whose relative
  // CA path is relative to file 2's directory.
  const auto b = value_of(load_kubeconfig(files({first, second}, "b")));
  EXPECT_EQ(b.server, "https://second-only:6443");
  EXPECT_EQ(b.ca_pem, ca_pem());
  EXPECT_EQ(b.auth.token, "u2-token");
  EXPECT_EQ(b.origin, "kubeconfig " + first.string() + ", context b");

  // In the other order the second file's definitions win.
  const auto swapped = value_of(load_kubeconfig(files({third, second, first})));
  EXPECT_EQ(swapped.server, "https://second-only:6443");
  EXPECT_EQ(swapped.origin, "kubeconfig " + first.string() + ", context b");
}

TEST(Kubeconfig, KubeconfigEnvironmentVariableSkipsMissingFiles) {
  temp_dir dir;
  const auto first = dir.write("a", two_contexts());
  const auto second = dir.write("b", R"(current-context: west
clusters:
- name: extra
  cluster: {server: "https://extra:6443"}
contexts:
- name: extra
  context: {cluster: extra}
)");
  const auto missing = dir.path() / "missing";
  scoped_env env("KUBECONFIG", missing.string() + "::" + first.string() + ":" +
                                   second.string() + ":" + missing.string());
  const auto c = value_of(load_kubeconfig());
  EXPECT_EQ(c.server, "https://east:6443");
  EXPECT_EQ(value_of(load_kubeconfig(files({}, "extra"))).server,
            "https://extra:6443");
}

TEST(Kubeconfig, KubeconfigEnvironmentVariableWithNoExistingFile) {
  temp_dir dir;
  const auto a = dir.path() / "a";
  const auto b = dir.path() / "b";
  scoped_env env("KUBECONFIG", a.string() + ":" + b.string());
  const auto e = error_of(load_kubeconfig());
  EXPECT_THAT(e.message, AllOf(HasSubstr("KUBECONFIG"), HasSubstr(a.string()),
                               HasSubstr(b.string())));
}

TEST(Kubeconfig, FallsBackToHomeKubeConfig) {
  temp_dir dir;
  dir.write(".kube/config", two_contexts());
  scoped_env kubeconfig("KUBECONFIG", std::nullopt);
  scoped_env home("HOME", dir.path().string());
  const auto c = value_of(load_kubeconfig());
  EXPECT_EQ(c.server, "https://east:6443");
  EXPECT_EQ(c.origin, "kubeconfig " +
                          (dir.path() / ".kube" / "config").string() +
                          ", context east");
}

TEST(Kubeconfig, EmptyKubeconfigVariableFallsBackToHome) {
  temp_dir dir;
  scoped_env kubeconfig("KUBECONFIG", "");
  scoped_env home("HOME", dir.path().string());
  const auto e = error_of(load_kubeconfig());
  EXPECT_THAT(e.message, HasSubstr((dir.path() / ".kube" / "config").string()));
}

// ------------------------------------------------------------ errors

TEST(KubeconfigErrors, ExplicitMissingFile) {
  temp_dir dir;
  const auto good = dir.write("good", two_contexts());
  const auto missing = dir.path() / "missing";
  const auto e = error_of(load_kubeconfig(files({good, missing})));
  EXPECT_THAT(e.message, AllOf(HasSubstr(missing.string()),
                               HasSubstr("No such file or directory")));
}

TEST(KubeconfigErrors, MalformedYamlNamesFileLineAndColumn) {
  temp_dir dir;
  const auto file = dir.write("config",
                              "current-context: a\nusers:\n"
                              "- name: u\n  user: {token: " +
                                  std::string(secret_token) + "\n  bad: [\n");
  const auto e = error_of(load_kubeconfig(files({file})));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr(file.string()), HasSubstr("malformed YAML"),
                    HasSubstr("line "), HasSubstr("column ")));
}

TEST(KubeconfigErrors, MalformedYamlInMemoryNamesTheOrigin) {
  const auto e = error_of(parse_kubeconfig("a: b\n c: d\n", "my-origin"));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr("my-origin"), HasSubstr("line 2, column")));
}

TEST(KubeconfigErrors, TopLevelNotAMapping) {
  const auto e = error_of(parse_kubeconfig("- a\n- b\n", "my-origin"));
  EXPECT_THAT(e.message, HasSubstr("my-origin"));
}

TEST(KubeconfigErrors, NoCurrentContext) {
  temp_dir dir;
  const auto file = dir.write("config", "clusters: []\n");
  const auto e = error_of(load_kubeconfig(files({file})));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr(file.string()), HasSubstr("current-context")));
}

TEST(KubeconfigErrors, EmptyFileHasNoCurrentContext) {
  temp_dir dir;
  const auto file = dir.write("config", "");
  const auto e = error_of(load_kubeconfig(files({file})));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr(file.string()), HasSubstr("current-context")));
}

TEST(KubeconfigErrors, UnknownContext) {
  temp_dir dir;
  const auto file = dir.write("config", two_contexts());
  const auto e = error_of(load_kubeconfig(files({file}, "north")));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr(file.string()), HasSubstr("context \"north\""),
                    HasSubstr("east, west")));
}

TEST(KubeconfigErrors, ContextWithUnknownCluster) {
  temp_dir dir;
  const auto file = dir.write("config", R"(current-context: ctx
contexts:
- name: ctx
  context: {cluster: nowhere}
)");
  const auto e = error_of(load_kubeconfig(files({file})));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr(file.string()), HasSubstr("context \"ctx\""),
                    HasSubstr("cluster"), HasSubstr("\"nowhere\"")));
}

TEST(KubeconfigErrors, ContextWithUnknownUserInMergedFiles) {
  temp_dir dir;
  const auto first = dir.write("a", R"(current-context: ctx
contexts:
- name: ctx
  context: {cluster: c, user: nobody}
)");
  const auto second =
      dir.write("b", "clusters:\n- name: c\n  cluster:\n" + plain_cluster());
  const auto e = error_of(load_kubeconfig(files({first, second})));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr(first.string()), HasSubstr("user"),
                    HasSubstr("\"nobody\""), HasSubstr(second.string())));
}

TEST(KubeconfigErrors, ContextWithoutCluster) {
  const auto e = error_of(parse_kubeconfig(
      "current-context: ctx\ncontexts:\n- name: ctx\n  context: {user: u}\n",
      "my-origin"));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr("my-origin"), HasSubstr("context \"ctx\""),
                    HasSubstr("cluster is not set")));
}

TEST(KubeconfigErrors, ClusterWithoutServer) {
  temp_dir dir;
  const auto file =
      dir.write("config", single("    tls-server-name: x\n", token_user()));
  const auto e = error_of(load_kubeconfig(files({file})));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr(file.string()), HasSubstr("cluster \"c\""),
                    HasSubstr("server")));
}

TEST(KubeconfigErrors, ServerNotHttp) {
  const std::vector<std::string> servers = {
      "ftp://api:6443", "api.example:6443", "https://", "https:///x"};
  for (const auto& server : servers) {
    SCOPED_TRACE(server);
    const auto e = error_of(parse_kubeconfig(
        single("    server: " + server + "\n", token_user()), "my-origin"));
    EXPECT_THAT(e.message,
                AllOf(HasSubstr("my-origin"), HasSubstr("cluster \"c\""),
                      HasSubstr("server"), HasSubstr("https://")));
  }
}

TEST(KubeconfigErrors, ServerWithCredentialsIsNotEchoed) {
  const auto e = error_of(parse_kubeconfig(
      single("    server: ftp://me:" + std::string(secret_password) +
                 "@api:6443\n",
             token_user()),
      "my-origin"));
  EXPECT_THAT(e.message, HasSubstr("server"));
}

TEST(KubeconfigErrors, UnreadableFilesNameFieldAndPath) {
  struct bad_file {
    std::string cluster, user, field, path;
  };
  temp_dir dir;
  dir.write("ok.crt", cert_pem());
  dir.write("ok.key", key_pem());
  dir.write("empty.crt", "");
  fs::create_directories(dir.path() / "a-directory");
  const std::vector<bad_file> cases = {
      {"    certificate-authority: missing-ca.crt\n", token_user(),
       "certificate-authority", "missing-ca.crt"},
      {"    certificate-authority: empty.crt\n", token_user(),
       "certificate-authority", "empty.crt"},
      {"    certificate-authority: a-directory\n", token_user(),
       "certificate-authority", "a-directory"},
      {"", "    client-certificate: missing.crt\n    client-key: ok.key\n",
       "client-certificate", "missing.crt"},
      {"", "    client-certificate: ok.crt\n    client-key: missing.key\n",
       "client-key", "missing.key"},
      {"", "    tokenFile: missing-token\n", "tokenFile", "missing-token"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field + " " + c.path);
    const auto file =
        dir.write("config", single(plain_cluster() + c.cluster, c.user));
    const auto e = error_of(load_kubeconfig(files({file})));
    EXPECT_THAT(e.message,
                AllOf(HasSubstr(file.string()), HasSubstr(c.field + ":"),
                      HasSubstr((dir.path() / c.path).string())));
  }
}

TEST(KubeconfigErrors, InvalidBase64NamesTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {plain_cluster() + "    certificate-authority-data: not*base64\n",
       token_user()},
      {plain_cluster(),
       "    client-certificate-data: QUJD=\n"
       "    client-key-data: " +
           base64(key_pem()) + "\n"},
      {plain_cluster(), "    client-certificate-data: " + base64(cert_pem()) +
                            "\n    client-key-data: A\n"},
      {plain_cluster(), "    client-certificate-data: " + base64(cert_pem()) +
                            "\n    client-key-data: QQ==QQ==\n"},
  };
  const std::vector<std::string> fields = {
      "certificate-authority-data", "client-certificate-data",
      "client-key-data", "client-key-data"};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(fields[i]);
    const auto e = error_of(
        parse_kubeconfig(single(cases[i].first, cases[i].second), "my-origin"));
    EXPECT_THAT(e.message,
                AllOf(HasSubstr("my-origin"), HasSubstr(fields[i] + ":"),
                      HasSubstr("base64")));
  }
}

TEST(KubeconfigErrors, ClientCertificateWithoutKeyAndViceVersa) {
  temp_dir dir;
  dir.write("ok.crt", cert_pem());
  dir.write("ok.key", key_pem());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"    client-certificate: ok.crt\n", "client-key is not"},
      {"    client-certificate-data: " + base64(cert_pem()) + "\n",
       "client-key is not"},
      {"    client-key: ok.key\n", "client-certificate is not"},
      {"    client-key-data: " + base64(key_pem()) + "\n",
       "client-certificate is not"},
  };
  for (const auto& [user, expected] : cases) {
    SCOPED_TRACE(user);
    const auto file = dir.write("config", single(plain_cluster(), user));
    const auto e = error_of(load_kubeconfig(files({file})));
    EXPECT_THAT(e.message, AllOf(HasSubstr(file.string()),
                                 HasSubstr("user \"u\""), HasSubstr(expected)));
  }
}

TEST(KubeconfigErrors, InsecureWithCertificateAuthority) {
  temp_dir dir;
  dir.write("ca.crt", ca_pem());
  const std::vector<std::string> cas = {
      "    certificate-authority: ca.crt\n",
      "    certificate-authority-data: " + base64(ca_pem()) + "\n"};
  for (const auto& ca : cas) {
    SCOPED_TRACE(ca);
    std::string cluster = plain_cluster();
    cluster += "    insecure-skip-tls-verify: true\n";
    cluster += ca;
    const auto file = dir.write("config", single(cluster, token_user()));
    const auto e = error_of(load_kubeconfig(files({file})));
    EXPECT_THAT(e.message,
                AllOf(HasSubstr(file.string()), HasSubstr("cluster \"c\""),
                      HasSubstr("insecure-skip-tls-verify"),
                      HasSubstr("specifying a root certificates file with the "
                                "insecure flag is not allowed")));
  }
}

TEST(KubeconfigErrors, ExecStanzaProblems) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"    exec:\n      apiVersion: client.authentication.k8s.io/v1\n",
       "exec.command"},
      {"    exec:\n      command: aws\n", "exec.apiVersion"},
      {"    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n"
       "      command: aws\n",
       "exec.apiVersion"},
      {"    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
       "      command: aws\n      args: {a: b}\n",
       "exec.args"},
      {"    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
       "      command: aws\n      env:\n      - value: " +
           std::string(secret_env) + "\n",
       "exec.env[0]"},
      {"    exec: aws\n", "exec"},
  };
  for (const auto& [user, field] : cases) {
    SCOPED_TRACE(user);
    const auto e =
        error_of(parse_kubeconfig(single(plain_cluster(), user), "my-origin"));
    EXPECT_THAT(e.message, AllOf(HasSubstr("my-origin"),
                                 HasSubstr("user \"u\""), HasSubstr(field)));
  }
}

TEST(KubeconfigErrors, TokenTogetherWithBasicAuth) {
  const auto e = error_of(parse_kubeconfig(
      single(plain_cluster(), token_user() +
                                  "    username: admin\n"
                                  "    password: " +
                                  std::string(secret_password) + "\n"),
      "my-origin"));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr("my-origin"), HasSubstr("user \"u\""),
                    HasSubstr("more than one authentication method")));
}

TEST(KubeconfigErrors, UnsupportedAuthProviderAndImpersonation) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"    auth-provider:\n      name: oidc\n      config:\n"
       "        id-token: " +
           std::string(secret_token) + "\n",
       "auth-provider"},
      {token_user() + "    as: someone-else\n", "impersonation"},
  };
  for (const auto& [user, field] : cases) {
    SCOPED_TRACE(field);
    const auto e =
        error_of(parse_kubeconfig(single(plain_cluster(), user), "my-origin"));
    EXPECT_THAT(e.message, AllOf(HasSubstr("my-origin"),
                                 HasSubstr("user \"u\""), HasSubstr(field)));
  }
}

TEST(KubeconfigErrors, WrongShapes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"clusters: {a: b}\n", "clusters: expected a list"},
      {"clusters:\n- cluster: {server: \"https://a\"}\n",
       "clusters[0]: name is not set"},
      {"users:\n- name: u\n- name: u\n", "users: duplicate name \"u\""},
      {"contexts:\n- name: x\n  context: [a]\n", "context \"x\": context"},
      {single("    server: [https://a]\n", token_user()), "server: expected"},
      {single(plain_cluster() + "    insecure-skip-tls-verify: maybe\n",
              token_user()),
       "insecure-skip-tls-verify: expected true or false"},
      {single(plain_cluster(),
              "    token: {value: " + std::string(secret_token) + "}\n"),
       "token: expected a string"},
      {"current-context: [a]\n", "current-context: expected a string"},
  };
  for (const auto& [yaml, expected] : cases) {
    SCOPED_TRACE(yaml);
    const auto e = error_of(parse_kubeconfig(yaml, "my-origin"));
    EXPECT_THAT(e.message, AllOf(HasSubstr("my-origin"), HasSubstr(expected)));
  }
}

// ------------------------------------------------------------ in-cluster

struct service_account {
  temp_dir dir;
  service_account() {
    dir.write("ca.crt", ca_pem());
    dir.write("token", secret_token);
  }
  in_cluster_options options(std::optional<std::string> host = "10.96.0.1",
                             std::optional<std::string> port = "443") const {
    in_cluster_options o;
    o.dir = dir.path();
    o.service_host = std::move(host);
    o.service_port = std::move(port);
    return o;
  }
};

TEST(InCluster, HappyPath) {
  service_account sa;
  sa.dir.write("namespace", "  team-a\n");
  const auto c = value_of(load_in_cluster(sa.options()));
  EXPECT_EQ(c.server, "https://10.96.0.1:443");
  EXPECT_EQ(c.ca_pem, ca_pem());
  EXPECT_EQ(c.auth.token_file, sa.dir.path() / "token");
  EXPECT_TRUE(c.auth.token.empty());
  EXPECT_EQ(c.namespace_name, "team-a");
  EXPECT_EQ(c.origin, "in-cluster config (" + sa.dir.path().string() + ")");
}

TEST(InCluster, ReadsTheEnvironmentWhenNotInjected) {
  service_account sa;
  scoped_env host("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc");
  scoped_env port("KUBERNETES_SERVICE_PORT", "6443");
  const auto c =
      value_of(load_in_cluster(sa.options(std::nullopt, std::nullopt)));
  EXPECT_EQ(c.server, "https://kubernetes.default.svc:6443");
}

TEST(InCluster, Ipv6HostIsBracketed) {
  service_account sa;
  const auto c = value_of(load_in_cluster(sa.options("fd00:10:96::1")));
  EXPECT_EQ(c.server, "https://[fd00:10:96::1]:443");
}

TEST(InCluster, NamespaceDefaultsToDefault) {
  service_account sa;
  EXPECT_EQ(value_of(load_in_cluster(sa.options())).namespace_name, "default");
  sa.dir.write("namespace", " \n");
  EXPECT_EQ(value_of(load_in_cluster(sa.options())).namespace_name, "default");
}

TEST(InCluster, MissingEnvironmentVariables) {
  service_account sa;
  {
    scoped_env host("KUBERNETES_SERVICE_HOST", std::nullopt);
    const auto e = error_of(load_in_cluster(sa.options(std::nullopt)));
    EXPECT_THAT(e.message, AllOf(HasSubstr("KUBERNETES_SERVICE_HOST"),
                                 HasSubstr("not running in a cluster?")));
  }
  {
    scoped_env port("KUBERNETES_SERVICE_PORT", std::nullopt);
    const auto e =
        error_of(load_in_cluster(sa.options("10.96.0.1", std::nullopt)));
    EXPECT_THAT(e.message, AllOf(HasSubstr("KUBERNETES_SERVICE_PORT"),
                                 HasSubstr("not running in a cluster?")));
  }
  const auto e = error_of(load_in_cluster(sa.options("", "443")));
  EXPECT_THAT(e.message, HasSubstr("KUBERNETES_SERVICE_HOST"));
}

TEST(InCluster, BadPort) {
  service_account sa;
  const auto e = error_of(load_in_cluster(sa.options("10.96.0.1", "https")));
  EXPECT_THAT(e.message, AllOf(HasSubstr("KUBERNETES_SERVICE_PORT"),
                               HasSubstr("\"https\"")));
}

TEST(InCluster, MissingCaCertificate) {
  service_account sa;
  fs::remove(sa.dir.path() / "ca.crt");
  const auto e = error_of(load_in_cluster(sa.options()));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr(sa.dir.path().string()), HasSubstr("ca.crt"),
                    HasSubstr("No such file or directory")));
}

TEST(InCluster, MissingToken) {
  service_account sa;
  fs::remove(sa.dir.path() / "token");
  const auto e = error_of(load_in_cluster(sa.options()));
  EXPECT_THAT(e.message, AllOf(HasSubstr((sa.dir.path() / "token").string()),
                               HasSubstr("No such file or directory")));
}

}  // namespace
}  // namespace mca::kube
