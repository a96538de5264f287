#include "common/tls/pem_identity.hpp"

#include <chrono>
#include <ctime>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/tls/certificate_authority.hpp"
#include "common/tls/openssl_handles.hpp"
#include "common/tls/self_signed.hpp"

namespace mca::tls {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// 2031-05-06T07:08:09Z: far from the real clock, so nothing passes by
// accident of today's date.
constexpr std::time_t fixed_time = 1'935'817'689;

const pem_names names{.certificate = "the certificate in /etc/tls/tls.crt",
                      .key = "the key in /etc/tls/tls.key"};

serving_identity make(const std::string& common_name) {
  serving_identity_options o;
  o.common_name = common_name;
  o.dns_names = {"localhost"};
  o.not_before = std::chrono::system_clock::from_time_t(fixed_time);
  auto id = make_serving_identity(o);
  if (!id) {
    ADD_FAILURE() << id.error().message;
    return {};
  }
  return *id;
}

ssl_ctx_ptr new_context() {
  return ssl_ctx_ptr(SSL_CTX_new(TLS_server_method()));
}

bio_ptr read_bio(const std::string& pem) {
  return bio_ptr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The same key, PKCS#8 encrypted with a passphrase.
std::string encrypted(const std::string& key_pem) {
  auto in = read_bio(key_pem);
  pkey_ptr key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  bio_ptr out(BIO_new(BIO_s_mem()));
  static constexpr char passphrase[] = "correct horse";
  if (!key || !out ||
      PEM_write_bio_PKCS8PrivateKey(
          out.get(), key.get(), EVP_aes_256_cbc(), passphrase,
          static_cast<int>(sizeof passphrase - 1), nullptr, nullptr) != 1) {
    ADD_FAILURE() << "cannot encrypt the test key";
    return {};
  }
  char* data = nullptr;
  // BIO_get_mem_data is a macro with a C cast; call what it expands to.
  const long n =
      BIO_ctrl(out.get(), BIO_CTRL_INFO, 0, static_cast<void*>(&data));
  return {data, static_cast<std::size_t>(n)};
}

class pem_identity_test : public ::testing::Test {
 protected:
  serving_identity a_ = make("pem-identity-a");
  serving_identity b_ = make("pem-identity-b");
  ssl_ctx_ptr ctx_ = new_context();
};

TEST_F(pem_identity_test, good_pair_is_loaded_and_described) {
  auto served =
      use_pem_pair(ctx_.get(), a_.serving.cert_pem, a_.serving.key_pem, names);
  ASSERT_TRUE(served) << served.error().message;

  auto facts = inspect_certificate(a_.serving.cert_pem);
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_EQ(served->fingerprint, facts->fingerprint);
  EXPECT_EQ(served->fingerprint.size(), 64u);
  EXPECT_EQ(served->subject, facts->subject);
  EXPECT_EQ(served->subject, "CN=pem-identity-a");
  EXPECT_EQ(served->not_after, facts->not_after);

  EXPECT_NE(SSL_CTX_get0_certificate(ctx_.get()), nullptr);
  EXPECT_EQ(SSL_CTX_check_private_key(ctx_.get()), 1);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(pem_identity_test, intermediates_after_the_leaf_join_the_chain) {
  const std::string chain = a_.serving.cert_pem + a_.ca.cert_pem;
  auto served = use_pem_pair(ctx_.get(), chain, a_.serving.key_pem, names);
  ASSERT_TRUE(served) << served.error().message;
  // The leaf is described, not the certificate after it.
  EXPECT_EQ(served->fingerprint,
            inspect_certificate(a_.serving.cert_pem)->fingerprint);

  STACK_OF(X509)* extra = nullptr;
  ASSERT_EQ(SSL_CTX_get0_chain_certs(ctx_.get(), &extra), 1);
  ASSERT_EQ(sk_X509_num(extra), 1);
  auto bio = read_bio(a_.ca.cert_pem);
  x509_ptr ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(ca);
  EXPECT_EQ(X509_cmp(sk_X509_value(extra, 0), ca.get()), 0);
}

TEST_F(pem_identity_test, a_broken_intermediate_is_named) {
  const std::string chain = a_.serving.cert_pem +
                            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
                            "-----END CERTIFICATE-----\n";
  auto served = use_pem_pair(ctx_.get(), chain, a_.serving.key_pem, names);
  ASSERT_FALSE(served);
  EXPECT_EQ(served.error().source, error_source::config);
  EXPECT_THAT(served.error().message,
              HasSubstr("an intermediate certificate after the certificate "
                        "in /etc/tls/tls.crt is not a PEM certificate"));
}

TEST_F(pem_identity_test, text_that_is_not_pem_is_named) {
  auto not_pem = use_pem_pair(ctx_.get(), "hello", a_.serving.key_pem, names);
  ASSERT_FALSE(not_pem);
  EXPECT_EQ(not_pem.error().source, error_source::config);
  EXPECT_THAT(not_pem.error().message,
              HasSubstr("the certificate in /etc/tls/tls.crt is not a PEM "
                        "certificate: "));

  auto bad_key =
      use_pem_pair(new_context().get(), a_.serving.cert_pem, "hello", names);
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().source, error_source::config);
  EXPECT_THAT(bad_key.error().message,
              HasSubstr("the key in /etc/tls/tls.key is not a PEM private "
                        "key: "));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(pem_identity_test, a_key_of_another_pair_names_both_and_no_key_text) {
  auto mismatch =
      use_pem_pair(ctx_.get(), a_.serving.cert_pem, b_.serving.key_pem, names);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().source, error_source::config);
  const std::string& message = mismatch.error().message;
  EXPECT_THAT(message, HasSubstr("the key in /etc/tls/tls.key does not match "
                                 "the certificate in /etc/tls/tls.crt"));
  EXPECT_THAT(message, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_THAT(message, Not(HasSubstr(b_.serving.key_pem.substr(30, 40))));
  EXPECT_THAT(message, Not(HasSubstr(a_.serving.key_pem.substr(30, 40))));

  pem_names in_memory = names;
  in_memory.certificate_after_key = "its certificate";
  auto phrased = use_pem_pair(new_context().get(), a_.serving.cert_pem,
                              b_.serving.key_pem, in_memory);
  ASSERT_FALSE(phrased);
  EXPECT_THAT(phrased.error().message,
              HasSubstr("the key in /etc/tls/tls.key does not match its "
                        "certificate"));
}

TEST_F(pem_identity_test, an_encrypted_key_is_refused_without_a_prompt) {
  const std::string key = encrypted(a_.serving.key_pem);
  ASSERT_THAT(key, HasSubstr("ENCRYPTED PRIVATE KEY"));
  auto served = use_pem_pair(ctx_.get(), a_.serving.cert_pem, key, names);
  ASSERT_FALSE(served);
  EXPECT_EQ(served.error().source, error_source::config);
  EXPECT_EQ(served.error().message,
            "the key in /etc/tls/tls.key is encrypted; the operator needs it "
            "unencrypted");
}

TEST_F(pem_identity_test, text_larger_than_a_pem_file_is_refused_unread) {
  const std::string huge(max_pem_bytes + 1, 'A');
  auto big_cert = use_pem_pair(ctx_.get(), huge, a_.serving.key_pem, names);
  ASSERT_FALSE(big_cert);
  EXPECT_THAT(big_cert.error().message,
              HasSubstr("the certificate in /etc/tls/tls.crt is larger than "
                        "a PEM file can be"));
  auto big_key = use_pem_pair(ctx_.get(), a_.serving.cert_pem, huge, names);
  ASSERT_FALSE(big_key);
  EXPECT_THAT(big_key.error().message,
              HasSubstr("the key in /etc/tls/tls.key is larger than a PEM "
                        "file can be"));
  EXPECT_EQ(SSL_CTX_get0_certificate(ctx_.get()), nullptr);
}

}  // namespace
}  // namespace mca::tls
