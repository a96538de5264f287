#include "common/tls/certificate_authority.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/tls/openssl_handles.hpp"

namespace mca::tls {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using time_point = std::chrono::system_clock::time_point;

using basic_constraints_ptr =
    std::unique_ptr<BASIC_CONSTRAINTS, openssl_deleter<BASIC_CONSTRAINTS_free>>;

// 2031-05-06T07:08:09Z: far from the real clock, so nothing passes by
// accident of today's date.
const time_point t0 = std::chrono::system_clock::from_time_t(1'935'817'689);

key_and_cert make_ca(time_point not_before = t0,
                     std::chrono::seconds validity = 24h,
                     std::string name = "test-ca") {
  auto ca = make_certificate_authority(ca_options{
      .common_name = std::move(name),
      .not_before = not_before,
      .validity = validity,
  });
  if (!ca) {
    ADD_FAILURE() << ca.error().message;
    return {};
  }
  return *ca;
}

leaf_options leaf_at(time_point not_before = t0,
                     std::chrono::seconds validity = 1h) {
  return leaf_options{
      .common_name = "test-leaf",
      .dns_names = {"mca-operator.mca-system.svc", "localhost"},
      .ip_addresses = {"127.0.0.1", "::1"},
      .not_before = not_before,
      .validity = validity,
  };
}

key_and_cert issue(const key_and_cert& ca, const leaf_options& o = leaf_at()) {
  auto leaf = issue_serving_certificate(ca, o);
  if (!leaf) {
    ADD_FAILURE() << leaf.error().message;
    return {};
  }
  return *leaf;
}

x509_ptr parse(const std::string& pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_TRUE(cert) << "not a PEM certificate";
  return cert;
}

// The base64 body of a PEM block: what must never show up in a message.
std::string body_of(const std::string& pem) {
  const auto start = pem.find('\n') + 1;
  return pem.substr(start, 40);
}

TEST(CertificateAuthority, CaIsASelfSignedP256CaWithTheRightExtensions) {
  const auto ca = make_ca();
  auto cert = parse(ca.cert_pem);
  ASSERT_TRUE(cert);

  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  int critical = -1;
  basic_constraints_ptr bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, &critical, nullptr)));
  ASSERT_TRUE(bc);
  EXPECT_NE(bc->ca, 0);
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(X509_get_key_usage(cert.get()), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_check_issued(cert.get(), cert.get()), X509_V_OK);
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(cert.get())), EVP_PKEY_EC);
  EXPECT_TRUE(check_key_matches(ca.cert_pem, ca.key_pem));

  auto facts = inspect_certificate(ca.cert_pem);
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_EQ(facts->subject, "CN=test-ca");
  EXPECT_EQ(facts->issuer, "CN=test-ca");
  EXPECT_TRUE(facts->is_ca);
  EXPECT_EQ(facts->not_before, t0);
  EXPECT_EQ(facts->not_after, t0 + 24h);
  EXPECT_TRUE(facts->dns_names.empty());
}

TEST(CertificateAuthority, LeafHasSansServerAuthAndNamesItsIssuer) {
  const auto ca = make_ca();
  const auto leaf = issue(ca);
  auto cert = parse(leaf.cert_pem);
  auto ca_cert = parse(ca.cert_pem);
  ASSERT_TRUE(cert && ca_cert);

  auto facts = inspect_certificate(leaf.cert_pem);
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_EQ(facts->subject, "CN=test-leaf");
  EXPECT_EQ(facts->issuer, "CN=test-ca");
  EXPECT_FALSE(facts->is_ca);
  EXPECT_THAT(facts->dns_names,
              ElementsAre("mca-operator.mca-system.svc", "localhost"));
  EXPECT_THAT(facts->ip_addresses, ElementsAre("127.0.0.1", "::1"));
  EXPECT_EQ(facts->not_before, t0);
  EXPECT_EQ(facts->not_after, t0 + 1h);

  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()), KU_DIGITAL_SIGNATURE);
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), XKU_SSL_SERVER);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert.get());
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(ca_cert.get())),
            0);
  EXPECT_TRUE(check_key_matches(leaf.cert_pem, leaf.key_pem));
  EXPECT_TRUE(check_issued_by(leaf.cert_pem, ca.cert_pem));
}

TEST(CertificateAuthority, FingerprintIsSha256OfTheDerInLowercaseHex) {
  const auto ca = make_ca();
  auto cert = parse(ca.cert_pem);
  ASSERT_TRUE(cert);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  ASSERT_EQ(X509_digest(cert.get(), EVP_sha256(), md.data(), &n), 1);
  std::string expected;
  for (unsigned i = 0; i < n; ++i) {
    std::array<char, 3> byte{};
    std::snprintf(byte.data(), byte.size(), "%02x", md[i]);
    expected += byte.data();
  }
  auto facts = inspect_certificate(ca.cert_pem);
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->fingerprint, expected);
  EXPECT_EQ(facts->fingerprint.size(), 64u);
}

TEST(CertificateAuthority, LeafVerifiesAgainstItsCaWithinItsWindowOnly) {
  const auto ca = make_ca();
  const auto other = make_ca();  // same name, another key
  const auto leaf = issue(ca);

  EXPECT_TRUE(verify_issued_by(leaf.cert_pem, ca.cert_pem, t0 + 1min));
  auto r = verify_issued_by(leaf.cert_pem, other.cert_pem, t0 + 1min);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, HasSubstr("CN=test-leaf does not verify"));
  EXPECT_FALSE(check_issued_by(leaf.cert_pem, other.cert_pem));

  r = verify_issued_by(leaf.cert_pem, ca.cert_pem, t0 - 1s);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("not yet valid"));
  r = verify_issued_by(leaf.cert_pem, ca.cert_pem, t0 + 1h + 1s);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("expired"));
  // The leaf does not vouch for itself.
  EXPECT_FALSE(verify_issued_by(leaf.cert_pem, leaf.cert_pem, t0 + 1min));
  // But check_issued_by does not care about the clock.
  EXPECT_TRUE(check_issued_by(leaf.cert_pem, ca.cert_pem));
}

// Every generation of the operator's CA may carry the same name; the key
// ids let a bundle of several pick the right one.
TEST(CertificateAuthority, BundleOfSameNamedCasVerifiesLeavesOfEach) {
  const auto a = make_ca();
  const auto b = make_ca();
  const auto leaf_a = issue(a);
  const auto leaf_b = issue(b);
  const std::string both = a.cert_pem + b.cert_pem;
  const std::string reversed = b.cert_pem + a.cert_pem;
  for (const auto* bundle : {&both, &reversed}) {
    EXPECT_TRUE(verify_issued_by(leaf_a.cert_pem, *bundle, t0 + 1min));
    EXPECT_TRUE(verify_issued_by(leaf_b.cert_pem, *bundle, t0 + 1min));
  }
}

TEST(CertificateAuthority, LeafNotAfterIsCappedAtTheCas) {
  const auto ca = make_ca(t0, 2h);
  const auto leaf = issue(ca, leaf_at(t0 + 1h, 24h));
  auto facts = inspect_certificate(leaf.cert_pem);
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->not_before, t0 + 1h);
  EXPECT_EQ(facts->not_after, t0 + 2h);
  EXPECT_TRUE(verify_issued_by(leaf.cert_pem, ca.cert_pem, t0 + 2h - 1s));
  // OpenSSL's view, stricter than RFC 5280's by that one second.
  EXPECT_FALSE(verify_issued_by(leaf.cert_pem, ca.cert_pem, t0 + 2h));

  // Nothing left once capped: refused rather than an empty window.
  auto r = issue_serving_certificate(ca, leaf_at(t0 + 2h, 1h));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, HasSubstr("leaves no window"));
}

TEST(CertificateAuthority, BadInputIsAConfigErrorNamingTheProblem) {
  const auto ca = make_ca();
  auto o = leaf_at();
  o.ip_addresses = {"127.0.0.1", "not-an-ip"};
  auto r = issue_serving_certificate(ca, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message,
              HasSubstr("\"not-an-ip\" is not an IPv4 or IPv6 address"));
  EXPECT_THAT(r.error().message,
              HasSubstr("issuing serving certificate \"test-leaf\""));

  o = leaf_at();
  o.dns_names.clear();
  o.ip_addresses.clear();
  r = issue_serving_certificate(ca, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, HasSubstr("at least one DNS name"));

  r = issue_serving_certificate(ca, leaf_at(t0, 0s));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("validity must be positive"));

  auto c = make_certificate_authority(
      ca_options{.common_name = "", .not_before = t0, .validity = 1h});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().source, error_source::config);
  EXPECT_THAT(c.error().message, HasSubstr("common name is empty"));
  c = make_certificate_authority(ca_options{
      .common_name = std::string(65, 'x'), .not_before = t0, .validity = 1h});
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("longer than 64"));
}

TEST(CertificateAuthority, IssuingNeedsAMatchingCaKeyAndACa) {
  const auto ca = make_ca();
  const auto other = make_ca();
  auto r = issue_serving_certificate(key_and_cert{other.key_pem, ca.cert_pem},
                                     leaf_at());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message,
              HasSubstr("the CA key does not match the CA certificate"));
  EXPECT_THAT(r.error().message, Not(HasSubstr(body_of(other.key_pem))));

  // A leaf cannot sign another leaf.
  const auto leaf = issue(ca);
  r = issue_serving_certificate(leaf, leaf_at());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("is not a CA"));

  r = issue_serving_certificate(key_and_cert{"not a key", ca.cert_pem},
                                leaf_at());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message,
              HasSubstr("the CA key is not an unencrypted PEM private key"));
}

TEST(CertificateAuthority, KeyMismatchIsDetectedWithoutShowingTheKey) {
  const auto ca = make_ca();
  const auto leaf = issue(ca);
  EXPECT_TRUE(check_key_matches(leaf.cert_pem, leaf.key_pem));
  auto r = check_key_matches(leaf.cert_pem, ca.key_pem);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_EQ(r.error().message,
            "the private key does not match the certificate");

  r = check_key_matches(leaf.cert_pem, "-----BEGIN PRIVATE KEY-----\nAAAA");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, HasSubstr("not an unencrypted PEM"));
  EXPECT_THAT(r.error().message, Not(HasSubstr("AAAA")));

  EXPECT_TRUE(check_private_key(leaf.key_pem));
  EXPECT_FALSE(check_private_key(leaf.cert_pem));
  // A key where a certificate belongs.
  EXPECT_FALSE(check_key_matches(leaf.key_pem, leaf.key_pem));
}

TEST(CertificateAuthority, SplitsABundleIntoItsCertificates) {
  const auto a = make_ca(t0, 24h, "a");
  const auto b = make_ca(t0, 24h, "b");
  const auto leaf = issue(a);
  // Text around the blocks and a key block among them, as hand-made
  // bundles have; neither survives.
  const std::string bundle = "# trust these\n" + a.cert_pem + "\n" + b.key_pem +
                             b.cert_pem + "comment\n" + leaf.cert_pem;
  auto parts = split_certificates(bundle);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0], a.cert_pem);
  EXPECT_EQ((*parts)[1], b.cert_pem);
  EXPECT_EQ((*parts)[2], leaf.cert_pem);
  for (const auto& part : *parts) {
    EXPECT_THAT(part, Not(HasSubstr("PRIVATE KEY")));
    EXPECT_EQ(part.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  }
  std::vector<std::string> subjects;
  for (const auto& part : *parts) {
    auto facts = inspect_certificate(part);
    ASSERT_TRUE(facts);
    subjects.push_back(facts->subject);
  }
  EXPECT_THAT(subjects, UnorderedElementsAre("CN=a", "CN=b", "CN=test-leaf"));
  // inspect_certificate reads the first.
  auto first = inspect_certificate(bundle);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->subject, "CN=a");
}

TEST(CertificateAuthority, TextThatIsNotPemIsAConfigError) {
  const auto ca = make_ca();
  for (const std::string& text :
       {std::string(), std::string("hello"), ca.key_pem}) {
    auto parts = split_certificates(text);
    ASSERT_FALSE(parts);
    EXPECT_EQ(parts.error().source, error_source::config);
    EXPECT_THAT(parts.error().message, HasSubstr("holds no PEM certificate"));
    EXPECT_FALSE(inspect_certificate(text));
  }
  // A damaged block is reported as such, not skipped.
  std::string damaged = ca.cert_pem;
  damaged[40] = '*';
  auto parts = split_certificates(ca.cert_pem + damaged);
  ASSERT_FALSE(parts);
  EXPECT_EQ(parts.error().source, error_source::config);
  EXPECT_THAT(parts.error().message, HasSubstr("certificate 2 cannot be read"));

  auto r = verify_issued_by(issue(ca).cert_pem, "not pem", t0 + 1min);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("the CA bundle holds no PEM"));
  EXPECT_FALSE(check_issued_by("not pem", ca.cert_pem));
}

}  // namespace
}  // namespace mca::tls
