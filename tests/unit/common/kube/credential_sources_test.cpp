#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/kube/credentials.hpp"

namespace mca::kube {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class CredentialSources : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mca-creds-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::trunc) << text;
  }

  fs::path dir_;
};

TEST_F(CredentialSources,
       TokenFileIsReadTrimmedAndReReadWhenTheKubeletRotatesIt) {
  const fs::path file = dir_ / "token";
  write(file, "first-token\n");
  auto now = std::chrono::steady_clock::now();
  auto source = make_token_file_source(file, [&] { return now; });
  auto first = source->get();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->bearer_token, "first-token");

  // The kubelet swaps the file; a different size is a change even within
  // the same second of modification time.
  write(file, "second-token-longer\n");
  now += std::chrono::milliseconds(1001);
  auto second = source->get();
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->bearer_token, "second-token-longer");
  EXPECT_THAT(source->describe(), HasSubstr("token file"));
  EXPECT_THAT(source->describe(), Not(HasSubstr("second-token")));
}

// The proxy asks for the token on every request: the file is looked at
// no more than once a second, unless the API server said 401.
TEST_F(CredentialSources,
       TokenFileIsCheckedAtMostOnceASecondUnlessInvalidated) {
  const fs::path file = dir_ / "token";
  write(file, "first-token\n");
  auto now = std::chrono::steady_clock::now();
  auto source = make_token_file_source(file, [&] { return now; });
  ASSERT_EQ(source->get()->bearer_token, "first-token");

  write(file, "second-token-longer\n");
  now += std::chrono::milliseconds(999);
  EXPECT_EQ(source->get()->bearer_token, "first-token");
  now += std::chrono::milliseconds(2);
  EXPECT_EQ(source->get()->bearer_token, "second-token-longer");

  write(file, "third-token\n");
  source->invalidate();
  EXPECT_EQ(source->get()->bearer_token, "third-token");
}

TEST_F(CredentialSources,
       TokenFileMissingDuringARotationKeepsTheLastGoodToken) {
  client_config config;
  config.auth.token_file = dir_ / "token";
  write(config.auth.token_file, "good");
  auto source = make_credential_source(config);
  ASSERT_TRUE(source->get());
  fs::remove(config.auth.token_file);
  auto again = source->get();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->bearer_token, "good");
}

TEST_F(CredentialSources, MissingOrEmptyTokenFileIsAConfigErrorNamingIt) {
  client_config config;
  config.auth.token_file = dir_ / "absent";
  auto r = make_credential_source(config)->get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, HasSubstr((dir_ / "absent").string()));

  config.auth.token_file = dir_ / "empty";
  write(config.auth.token_file, "\n");
  auto e = make_credential_source(config)->get();
  ASSERT_FALSE(e);
  EXPECT_THAT(e.error().message, HasSubstr("is empty"));
}

TEST_F(CredentialSources, EachAuthKindBecomesItsCredential) {
  client_config token;
  token.origin = "kubeconfig k";
  token.auth.token = "t0ken";
  auto t = make_credential_source(token)->get();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->bearer_token, "t0ken");
  EXPECT_THAT(make_credential_source(token)->describe(),
              Not(HasSubstr("t0ken")));

  client_config basic;
  basic.auth.username = "u";
  basic.auth.password = "p";
  auto b = make_credential_source(basic)->get();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->basic_username, "u");
  EXPECT_EQ(b->basic_password, "p");

  client_config cert;
  cert.auth.client_cert_pem = "CERT";
  cert.auth.client_key_pem = "KEY";
  auto c = make_credential_source(cert)->get();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_TRUE(c->bearer_token.empty());

  auto anonymous = make_credential_source(client_config{})->get();
  ASSERT_TRUE(anonymous);
  EXPECT_TRUE(anonymous->bearer_token.empty());
  EXPECT_TRUE(anonymous->client_cert_pem.empty());
}

TEST(AuthorizationValue, BearerBasicOrNothing) {
  credential bearer;
  bearer.bearer_token = "abc.def";
  EXPECT_EQ(authorization_value(bearer), "Bearer abc.def");

  credential basic;
  basic.basic_username = "admin";
  basic.basic_password = "s3cret:x";
  // base64("admin:s3cret:x")
  EXPECT_EQ(authorization_value(basic), "Basic YWRtaW46czNjcmV0Ong=");

  credential cert_only;
  cert_only.client_cert_pem = "-----BEGIN CERTIFICATE-----";
  EXPECT_EQ(authorization_value(cert_only), "");

  // A token wins over basic credentials, as client-go does.
  credential both = basic;
  both.bearer_token = "tok";
  EXPECT_EQ(authorization_value(both), "Bearer tok");
}

}  // namespace
}  // namespace mca::kube
