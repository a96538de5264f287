#include "operator/compile/target_resolver.hpp"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/util/base64.hpp"

namespace mca::op {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

json secret(std::map<std::string, std::string> data) {
  json out{{"metadata", {{"name", "s"}}}, {"data", json::object()}};
  for (const auto& [k, v] : data) out["data"][k] = util::base64_encode(v);
  return out;
}

class TargetResolver : public ::testing::Test {
 protected:
  target_inputs inputs() {
    target_inputs in;
    in.secrets = [this](const std::string& name) -> const json* {
      const auto it = secrets_.find(name);
      return it == secrets_.end() ? nullptr : &it->second;
    };
    return in;
  }
  cluster_target target(target_credentials creds) {
    cluster_target t;
    t.name = "east";
    t.server = "https://127.0.0.1:17002";
    t.credentials = std::move(creds);
    return t;
  }

  std::map<std::string, json> secrets_;
};

const std::string kubeconfig_with_token = R"(
apiVersion: v1
kind: Config
clusters:
- name: east
  cluster:
    server: https://ignored.example
    certificate-authority-data: )" + util::base64_encode("EAST-CA-PEM") +
                                          R"(
    tls-server-name: east.internal
users:
- name: admin
  user:
    token: east-token-123
contexts:
- name: east
  context: {cluster: east, user: admin}
current-context: east
)";

TEST_F(TargetResolver, KubeconfigSecretBecomesInlineTokenCaAndServerName) {
  secrets_["east-kc"] = secret({{"kubeconfig", kubeconfig_with_token}});
  auto entry = resolve_target(
      target(kubeconfig_secret_credentials{{"east-kc", "kubeconfig"}, ""}),
      inputs());
  ASSERT_TRUE(entry) << entry.error().message;
  // The server is the ClusterTarget's, never the kubeconfig's.
  EXPECT_EQ((*entry)["server"], "https://127.0.0.1:17002");
  EXPECT_EQ((*entry)["caData"], "EAST-CA-PEM");
  EXPECT_EQ((*entry)["tlsServerName"], "east.internal");
  EXPECT_EQ((*entry)["credentials"],
            json::parse(R"({"token": {"value": "east-token-123"}})"));
}

TEST_F(TargetResolver, TokenAndCertificateSecretsAndLocal) {
  secrets_["tok"] = secret({{"token", "abc\n"}});
  secrets_["tls"] = secret({{"tls.crt", "CERT"}, {"tls.key", "KEY"}});
  auto token = resolve_target(
      target(token_secret_credentials{{"tok", "token"}}), inputs());
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ((*token)["credentials"]["token"]["value"], "abc");

  auto cert = resolve_target(
      target(client_certificate_secret_credentials{"tls"}), inputs());
  ASSERT_TRUE(cert) << cert.error().message;
  EXPECT_EQ(
      (*cert)["credentials"],
      json::parse(
          R"({"clientCertificate": {"certData": "CERT", "keyData": "KEY"}})"));

  auto local = resolve_target(target(local_target_credentials{}), inputs());
  ASSERT_TRUE(local);
  EXPECT_EQ((*local)["credentials"], json::parse(R"({"local": {}})"));
  EXPECT_FALSE(local->contains("caData"));
}

TEST_F(TargetResolver, CaBundleWinsOverCaSecretAndKubeconfig) {
  secrets_["east-kc"] = secret({{"kubeconfig", kubeconfig_with_token}});
  secrets_["ca"] = secret({{"ca.crt", "SECRET-CA"}});
  auto t = target(kubeconfig_secret_credentials{{"east-kc", "kubeconfig"}, ""});
  t.ca_secret = secret_key_ref{"ca", "ca.crt"};
  auto from_secret = resolve_target(t, inputs());
  ASSERT_TRUE(from_secret);
  EXPECT_EQ((*from_secret)["caData"], "SECRET-CA");
  t.ca_bundle_pem = "BUNDLE-CA";
  auto from_bundle = resolve_target(t, inputs());
  ASSERT_TRUE(from_bundle);
  EXPECT_EQ((*from_bundle)["caData"], "BUNDLE-CA");
}

TEST_F(TargetResolver, TokenRequestUsesTheMintedToken) {
  token_request_credentials tr;
  tr.service_account = "mca-remote";
  tr.namespace_name = "mca-system";
  auto waiting = resolve_target(target(tr), inputs());
  ASSERT_FALSE(waiting);
  EXPECT_THAT(waiting.error().message,
              HasSubstr("no token minted yet for service account "
                        "mca-system/mca-remote"));
  auto in = inputs();
  in.minted_token = "minted";
  auto minted = resolve_target(target(tr), in);
  ASSERT_TRUE(minted);
  EXPECT_EQ((*minted)["credentials"]["token"]["value"], "minted");
}

TEST_F(TargetResolver, ErrorsNameSecretAndKeyButNeverItsContent) {
  struct row {
    std::string name;
    std::map<std::string, json> secrets;
    target_credentials creds;
    std::string message;
  };
  const std::string exec_kc = R"(
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://x"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/get-token-s3cret}}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
)";
  const std::string file_kc = R"(
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://x"}}]
users: [{name: u, user: {tokenFile: /var/run/token}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
)";
  const std::vector<row> rows = {
      {"missing secret",
       {},
       token_secret_credentials{{"gone", "token"}},
       "Secret \"gone\" does not exist in the operator's namespace"},
      {"missing key",
       {{"s", secret({{"other", "x"}})}},
       token_secret_credentials{{"s", "token"}},
       "Secret \"s\" key \"token\" is missing"},
      {"exec plugin",
       {{"s", secret({{"kubeconfig", exec_kc}})}},
       kubeconfig_secret_credentials{{"s", "kubeconfig"}, ""},
       "uses an exec plugin"},
      {"token file",
       {{"s", secret({{"kubeconfig", file_kc}})}},
       kubeconfig_secret_credentials{{"s", "kubeconfig"}, ""},
       "tokenFile: cannot read /var/run/token"},
      {"missing tls.key",
       {{"s", secret({{"tls.crt", "C"}})}},
       client_certificate_secret_credentials{"s"},
       "Secret \"s\" key \"tls.key\" is missing"},
      {"unknown context",
       {{"s", secret({{"kubeconfig", kubeconfig_with_token}})}},
       kubeconfig_secret_credentials{{"s", "kubeconfig"}, "north"},
       "north"},
  };
  for (const auto& r : rows) {
    secrets_ = r.secrets;
    auto entry = resolve_target(target(r.creds), inputs());
    ASSERT_FALSE(entry) << r.name;
    EXPECT_THAT(entry.error().message, HasSubstr("ClusterTarget \"east\""))
        << r.name;
    EXPECT_THAT(entry.error().message, HasSubstr(r.message)) << r.name;
    EXPECT_THAT(entry.error().message, Not(HasSubstr("east-token-123")))
        << r.name;
    EXPECT_THAT(entry.error().message, Not(HasSubstr("s3cret"))) << r.name;
  }
}

}  // namespace
}  // namespace mca::op
