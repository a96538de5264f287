#include "common/routing/target_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/routing/routing_table.hpp"

namespace mca::routing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr std::string_view target_ca =
    "-----BEGIN CERTIFICATE-----\nTARGET-CA\n-----END CERTIFICATE-----\n";
constexpr std::string_view local_ca =
    "-----BEGIN CERTIFICATE-----\nLOCAL-CA\n-----END CERTIFICATE-----\n";
constexpr std::string_view kubeconfig_ca =
    "-----BEGIN CERTIFICATE-----\nKUBECONFIG-CA\n-----END CERTIFICATE-----\n";
// base64 of kubeconfig_ca, as certificate-authority-data carries it.
constexpr std::string_view kubeconfig_ca_data =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCktVQkVDT05GSUctQ0EKLS0tLS1FTkQgQ0VS"
    "VElGSUNBVEUtLS0tLQo=";
constexpr std::string_view client_cert =
    "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
constexpr std::string_view client_key =
    "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";
// A token that must never show up in an error message.
constexpr std::string_view secret_token = "s3cr3t-t0ken";

class TargetConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "mca-target-config-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path write(const fs::path& relative, std::string_view content) const {
    fs::path file = dir_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << content;
    return file;
  }

  // The one target of a table whose targets list is `target` (a YAML list
  // item, indented under `targets:`).
  static target_spec spec(const std::string& target) {
    auto t = routing_table::parse(
        "apiVersion: mca.x-k8s.io/v1alpha1\nkind: RoutingTable\n"
        "policy: p\ntargets:\n" +
        target);
    EXPECT_TRUE(t.has_value()) << t.error().message;
    if (!t || t->targets.empty()) return {};
    return t->targets.front();
  }

  local_identity local() const { return local_identity{dir_ / "sa"}; }

  kube::client_config config_of(const target_spec& s) const {
    auto c = client_config_for(s, local());
    EXPECT_TRUE(c.has_value()) << c.error().message;
    return c ? *c : kube::client_config{};
  }

  error error_of(const target_spec& s) const {
    auto c = client_config_for(s, local());
    EXPECT_FALSE(c.has_value()) << "expected an error for " << s.name;
    if (c) return {};
    EXPECT_EQ(c.error().source, error_source::config);
    EXPECT_THAT(c.error().message, Not(HasSubstr(secret_token)));
    return c.error();
  }

  fs::path dir_;
};

TEST_F(TargetConfig, TokenValue) {
  const auto c = config_of(spec(R"(  - name: east
    server: https://east.example:6443/prefix
    tlsServerName: api.east.internal
    credentials: {token: {value: s3cr3t-t0ken}}
)"));
  EXPECT_EQ(c.server, "https://east.example:6443/prefix");
  EXPECT_EQ(c.tls_server_name, "api.east.internal");
  EXPECT_FALSE(c.insecure_skip_tls_verify);
  EXPECT_EQ(c.auth.token, secret_token);
  EXPECT_TRUE(c.auth.token_file.empty());
  EXPECT_TRUE(c.auth.client_cert_pem.empty());
  // No CA given: the system trust store.
  EXPECT_THAT(c.ca_pem, IsEmpty());
  EXPECT_THAT(c.origin, HasSubstr(R"(target "east")"));
}

TEST_F(TargetConfig, TokenFileStaysAPath) {
  // The file need not exist yet, and is not read: it rotates.
  const fs::path token = dir_ / "no-such-dir" / "token";
  const auto c = config_of(spec(R"(  - name: west
    server: https://west.example
    insecureSkipTLSVerify: true
    credentials:
      token: {file: )" + token.string() +
                                "}\n"));
  EXPECT_EQ(c.auth.token_file, token);
  EXPECT_THAT(c.auth.token, IsEmpty());
  EXPECT_TRUE(c.insecure_skip_tls_verify);
  EXPECT_THAT(c.ca_pem, IsEmpty());
}

TEST_F(TargetConfig, ClientCertificateReadsBothFiles) {
  const auto cert = write("pki/tls.crt", client_cert);
  const auto key = write("pki/tls.key", client_key);
  const auto c =
      config_of(spec(R"(  - name: west
    server: https://west.example
    credentials:
      clientCertificate: {certFile: )" +
                     cert.string() + ", keyFile: " + key.string() + "}\n"));
  EXPECT_EQ(c.auth.client_cert_pem, client_cert);
  EXPECT_EQ(c.auth.client_key_pem, client_key);
  EXPECT_THAT(c.auth.token, IsEmpty());
  EXPECT_TRUE(c.auth.token_file.empty());
}

TEST_F(TargetConfig, ClientCertificateFilesMustExist) {
  struct row {
    std::string label;
    bool cert_exists;
    bool key_exists;
    std::string missing;  // the file the error names
  };
  const auto cert = dir_ / "pki/tls.crt";
  const auto key = dir_ / "pki/tls.key";
  const row rows[] = {
      {"missing_key", true, false, key.string()},
      {"missing_cert", false, true, cert.string()},
      {"missing_both", false, false, cert.string()},
  };
  for (const row& r : rows) {
    std::error_code ec;
    fs::remove_all(dir_ / "pki", ec);
    if (r.cert_exists) write("pki/tls.crt", client_cert);
    if (r.key_exists) write("pki/tls.key", client_key);
    const auto e =
        error_of(spec(R"(  - name: west
    server: https://west.example
    credentials:
      clientCertificate: {certFile: )" +
                      cert.string() + ", keyFile: " + key.string() + "}\n"));
    EXPECT_THAT(e.message,
                AllOf(HasSubstr(R"(target "west")"), HasSubstr(r.missing)))
        << r.label;
  }
}

TEST_F(TargetConfig, CaFileIsRead) {
  const auto ca = write("east/ca.crt", target_ca);
  const auto c = config_of(spec(R"(  - name: east
    server: https://east.example
    caFile: )" + ca.string() + R"(
    credentials: {token: {value: t}}
)"));
  EXPECT_EQ(c.ca_pem, target_ca);
  EXPECT_THAT(c.origin, HasSubstr(ca.string()));
}

TEST_F(TargetConfig, AMissingCaFileIsAnError) {
  const auto ca = dir_ / "east" / "ca.crt";
  const auto e = error_of(spec(R"(  - name: east
    server: https://east.example
    caFile: )" + ca.string() + R"(
    credentials: {token: {value: s3cr3t-t0ken}}
)"));
  EXPECT_THAT(e.message,
              AllOf(HasSubstr(R"(target "east")"), HasSubstr(ca.string())));
}

TEST_F(TargetConfig, CaDataIsUsedVerbatim) {
  const auto c = config_of(spec(R"(  - name: east
    server: https://east.example
    caData: "-----BEGIN CERTIFICATE-----\nTARGET-CA\n-----END CERTIFICATE-----\n"
    credentials: {token: {value: t}}
)"));
  EXPECT_EQ(c.ca_pem, target_ca);
}

// Two contexts with different token users and clusters with their own CAs.
std::string two_context_kubeconfig() {
  return R"(apiVersion: v1
kind: Config
current-context: west
clusters:
- name: east-cluster
  cluster:
    server: https://kubeconfig-east.example:6443
    certificate-authority-data: )" +
         std::string(kubeconfig_ca_data) + R"(
- name: west-cluster
  cluster:
    server: https://kubeconfig-west.example:6443
users:
- name: east-user
  user:
    token: east-token
- name: west-user
  user:
    token: west-token
contexts:
- name: east
  context:
    cluster: east-cluster
    user: east-user
- name: west
  context:
    cluster: west-cluster
    user: west-user
)";
}

std::string kubeconfig_target(const fs::path& file, const std::string& context,
                              const std::string& ca_line = "") {
  std::string t = "  - name: east\n    server: https://east.example:6443\n" +
                  ca_line +
                  "    credentials:\n      kubeconfig: {file: " + file.string();
  if (!context.empty()) t += ", context: " + context;
  return t + "}\n";
}

TEST_F(TargetConfig, KubeconfigUsesTheNamedContext) {
  const auto kc = write("kube/config", two_context_kubeconfig());
  const auto c = config_of(spec(kubeconfig_target(kc, "east")));
  EXPECT_EQ(c.auth.token, "east-token");
  // The server is the target's, not the kubeconfig cluster's.
  EXPECT_EQ(c.server, "https://east.example:6443");
  // The target gives no CA: the kubeconfig cluster's.
  EXPECT_EQ(c.ca_pem, kubeconfig_ca);
}

TEST_F(TargetConfig, KubeconfigWithoutContextUsesTheCurrentOne) {
  const auto kc = write("kube/config", two_context_kubeconfig());
  const auto c = config_of(spec(kubeconfig_target(kc, "")));
  EXPECT_EQ(c.auth.token, "west-token");
  EXPECT_THAT(c.ca_pem, IsEmpty());  // west-cluster has none
}

TEST_F(TargetConfig, TheTargetsCaWinsOverTheKubeconfigs) {
  const auto kc = write("kube/config", two_context_kubeconfig());
  const auto ca = write("east/ca.crt", target_ca);
  const auto from_file = config_of(
      spec(kubeconfig_target(kc, "east", "    caFile: " + ca.string() + "\n")));
  EXPECT_EQ(from_file.ca_pem, target_ca);
  EXPECT_EQ(from_file.auth.token, "east-token");

  const auto from_data = config_of(spec(kubeconfig_target(
      kc, "east",
      "    caData: \"-----BEGIN CERTIFICATE-----\\nTARGET-CA\\n"
      "-----END CERTIFICATE-----\\n\"\n")));
  EXPECT_EQ(from_data.ca_pem, target_ca);
}

TEST_F(TargetConfig, KubeconfigErrorsNameTheTarget) {
  const auto missing = dir_ / "kube" / "missing";
  const auto e = error_of(spec(kubeconfig_target(missing, "east")));
  EXPECT_THAT(e.message, AllOf(HasSubstr(R"(target "east")"),
                               HasSubstr(missing.string())));

  const auto kc = write("kube/config", two_context_kubeconfig());
  const auto unknown = error_of(spec(kubeconfig_target(kc, "north")));
  EXPECT_THAT(unknown.message,
              AllOf(HasSubstr(R"(target "east")"), HasSubstr("north")));
}

TEST_F(TargetConfig, LocalUsesTheServiceAccountDirectory) {
  write("sa/ca.crt", local_ca);
  const auto c = config_of(spec(R"(  - name: home
    server: https://10.0.0.1:443
    credentials: {local: {}}
)"));
  EXPECT_EQ(c.auth.token_file, dir_ / "sa" / "token");
  EXPECT_THAT(c.auth.token, IsEmpty());
  EXPECT_EQ(c.ca_pem, local_ca);
}

TEST_F(TargetConfig, LocalWithoutCaCrtIsAnError) {
  const auto e = error_of(spec(R"(  - name: home
    server: https://10.0.0.1:443
    credentials: {local: {}}
)"));
  EXPECT_THAT(e.message, AllOf(HasSubstr(R"(target "home")"),
                               HasSubstr((dir_ / "sa" / "ca.crt").string())));
}

TEST_F(TargetConfig, LocalWithTheTargetsCaNeedsNoCaCrt) {
  const auto ca = write("home/ca.crt", target_ca);
  const auto c = config_of(spec(R"(  - name: home
    server: https://10.0.0.1:443
    caFile: )" + ca.string() + R"(
    credentials: {local: {}}
)"));
  EXPECT_EQ(c.ca_pem, target_ca);
  EXPECT_EQ(c.auth.token_file, dir_ / "sa" / "token");
}

}  // namespace
}  // namespace mca::routing
