#include "operator/certs/certificate_bundle.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/tls/certificate_authority.hpp"
#include "common/util/base64.hpp"

namespace mca::op {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using time_point = std::chrono::system_clock::time_point;

// 2031-05-06T07:08:09Z.
const time_point t0 = std::chrono::system_clock::from_time_t(1'935'817'689);

tls::key_and_cert make_ca(const std::string& name) {
  auto ca = tls::make_certificate_authority(
      tls::ca_options{.common_name = name, .not_before = t0, .validity = 24h});
  EXPECT_TRUE(ca) << ca.error().message;
  return ca ? *ca : tls::key_and_cert{};
}

tls::key_and_cert make_leaf(const tls::key_and_cert& ca) {
  auto leaf = tls::issue_serving_certificate(
      ca, tls::leaf_options{.common_name = "mca-operator",
                            .dns_names = {"mca-operator.mca-system.svc"},
                            .ip_addresses = {},
                            .not_before = t0,
                            .validity = 1h});
  EXPECT_TRUE(leaf) << leaf.error().message;
  return leaf ? *leaf : tls::key_and_cert{};
}

std::string fingerprint(const std::string& pem) {
  auto facts = tls::inspect_certificate(pem);
  EXPECT_TRUE(facts);
  return facts ? facts->fingerprint : std::string();
}

std::string decoded(const json& secret, const char* key) {
  auto text = util::base64_decode(secret.at("data").at(key).get<std::string>());
  EXPECT_TRUE(text) << key;
  return text.value_or("");
}

// One bundle with every part filled, shared by the tests (keys are cheap,
// but the same ones make failures easier to compare).
struct full_bundle_fixture : ::testing::Test {
  static void SetUpTestSuite() {
    ca_ = new tls::key_and_cert(make_ca("mca-operator-ca@2"));
    next_ = new tls::key_and_cert(make_ca("mca-operator-ca@3"));
    old_ = new tls::key_and_cert(make_ca("mca-operator-ca@1"));
    older_ = new tls::key_and_cert(make_ca("mca-operator-ca@0"));
    leaf_ = new tls::key_and_cert(make_leaf(*ca_));
  }
  static void TearDownTestSuite() {
    for (auto* p : {ca_, next_, old_, older_, leaf_}) delete p;
  }

  static certificate_bundle full() {
    certificate_bundle b;
    b.ca = *ca_;
    b.next_ca = *next_;
    b.next_ca_published_at = t0 + 10s;
    b.retiring_cas = {old_->cert_pem, older_->cert_pem};
    b.retire_at = t0 + 1h;
    b.leaf = *leaf_;
    return b;
  }
  static certificate_bundle minimal() {
    certificate_bundle b;
    b.ca = *ca_;
    b.leaf = *leaf_;
    return b;
  }
  static json secret_of(const certificate_bundle& b) {
    return secret_for_bundle(b, "mca-operator-certs", "mca-system");
  }
  // Every private key's text, which no message may contain.
  static std::vector<std::string> key_texts() {
    return {ca_->key_pem, next_->key_pem, leaf_->key_pem};
  }

  static inline tls::key_and_cert* ca_ = nullptr;
  static inline tls::key_and_cert* next_ = nullptr;
  static inline tls::key_and_cert* old_ = nullptr;
  static inline tls::key_and_cert* older_ = nullptr;
  static inline tls::key_and_cert* leaf_ = nullptr;
};

using CertificateBundle = full_bundle_fixture;

TEST_F(CertificateBundle, SecretIsAFullOpaqueV1Secret) {
  const json secret = secret_of(full());
  EXPECT_EQ(secret["apiVersion"], "v1");
  EXPECT_EQ(secret["kind"], "Secret");
  EXPECT_EQ(secret["type"], "Opaque");
  EXPECT_EQ(secret["metadata"]["name"], "mca-operator-certs");
  EXPECT_EQ(secret["metadata"]["namespace"], "mca-system");
  EXPECT_EQ(secret["metadata"]["labels"],
            json({{"app.kubernetes.io/managed-by", "mca-operator"}}));
  EXPECT_EQ(secret["metadata"]["annotations"],
            json({{"mca.k8s.io/next-ca-published-at", "2031-05-06T07:08:19Z"},
                  {"mca.k8s.io/retire-at", "2031-05-06T08:08:09Z"}}));
  EXPECT_FALSE(secret["metadata"].contains("resourceVersion"));

  std::vector<std::string> keys;
  for (const auto& [key, value] : secret["data"].items()) {
    keys.push_back(key);
    EXPECT_TRUE(util::base64_decode(value.get<std::string>())) << key;
  }
  EXPECT_THAT(keys, ElementsAre("ca-bundle.crt", "ca.crt", "ca.key",
                                "next-ca.crt", "next-ca.key", "retiring-ca.crt",
                                "tls.crt", "tls.key"));
  EXPECT_EQ(decoded(secret, "tls.key"), leaf_->key_pem);
  EXPECT_EQ(decoded(secret, "retiring-ca.crt"),
            old_->cert_pem + older_->cert_pem);
  EXPECT_EQ(decoded(secret, "ca-bundle.crt"), trust_bundle(full()));
}

TEST_F(CertificateBundle, MinimalSecretHasNoOptionalKeysOrAnnotations) {
  const json secret = secret_of(minimal());
  EXPECT_FALSE(secret["metadata"].contains("annotations"));
  std::vector<std::string> keys;
  for (const auto& [key, value] : secret["data"].items()) keys.push_back(key);
  EXPECT_THAT(keys, ElementsAre("ca-bundle.crt", "ca.crt", "ca.key", "tls.crt",
                                "tls.key"));
  EXPECT_EQ(decoded(secret, "ca-bundle.crt"), ca_->cert_pem);
}

TEST_F(CertificateBundle, RoundTripsThroughTheSecret) {
  for (const auto& original : {full(), minimal()}) {
    auto back = bundle_from_secret(secret_of(original));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->ca.cert_pem, original.ca.cert_pem);
    EXPECT_EQ(back->ca.key_pem, original.ca.key_pem);
    EXPECT_EQ(back->next_ca.has_value(), original.next_ca.has_value());
    if (original.next_ca) {
      EXPECT_EQ(back->next_ca->cert_pem, original.next_ca->cert_pem);
      EXPECT_EQ(back->next_ca->key_pem, original.next_ca->key_pem);
    }
    EXPECT_EQ(back->next_ca_published_at, original.next_ca_published_at);
    EXPECT_EQ(back->retiring_cas, original.retiring_cas);
    EXPECT_EQ(back->retire_at, original.retire_at);
    EXPECT_EQ(back->leaf.cert_pem, original.leaf.cert_pem);
    EXPECT_EQ(back->leaf.key_pem, original.leaf.key_pem);
    // And once more gives the same Secret.
    EXPECT_EQ(secret_of(*back), secret_of(original));
  }
}

TEST_F(CertificateBundle, TimesRoundUpToTheWholeSecond) {
  auto b = full();
  b.next_ca_published_at = t0 + 10s + 1ms;
  b.retire_at = t0 - 500ms;
  const json secret = secret_of(b);
  EXPECT_EQ(
      secret["metadata"]["annotations"]["mca.k8s.io/next-ca-published-at"],
      "2031-05-06T07:08:20Z");
  EXPECT_EQ(secret["metadata"]["annotations"]["mca.k8s.io/retire-at"],
            "2031-05-06T07:08:09Z");
  auto back = bundle_from_secret(secret);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->next_ca_published_at, t0 + 11s);
  EXPECT_EQ(back->retire_at, t0);
}

TEST_F(CertificateBundle, TrustBundleIsCaThenNextThenRetiringEachOnce) {
  auto b = full();
  // The current CA again among the retiring ones, and one retiring twice.
  b.retiring_cas = {old_->cert_pem, ca_->cert_pem, old_->cert_pem,
                    older_->cert_pem};
  auto parts = tls::split_certificates(trust_bundle(b));
  ASSERT_TRUE(parts);
  std::vector<std::string> prints;
  for (const auto& p : *parts) prints.push_back(fingerprint(p));
  EXPECT_THAT(
      prints,
      ElementsAre(fingerprint(ca_->cert_pem), fingerprint(next_->cert_pem),
                  fingerprint(old_->cert_pem), fingerprint(older_->cert_pem)));
  EXPECT_THAT(trust_bundle(b), Not(HasSubstr("PRIVATE KEY")));

  // Nothing to add beyond the CA.
  EXPECT_EQ(trust_bundle(minimal()), ca_->cert_pem);
  // What does not parse cannot anchor anything and is left out.
  auto broken = minimal();
  broken.retiring_cas = {"not a certificate"};
  EXPECT_EQ(trust_bundle(broken), ca_->cert_pem);
}

TEST(Rfc3339, ParsesWhatPeopleWriteAndRefusesTheRest) {
  EXPECT_EQ(parse_rfc3339("2031-05-06T07:08:09Z"), t0);
  EXPECT_EQ(parse_rfc3339("2031-05-06t07:08:09z"), t0);
  EXPECT_EQ(parse_rfc3339("2031-05-06T07:08:09.25Z"), t0 + 250ms);
  EXPECT_EQ(parse_rfc3339("2031-05-06T09:08:09+02:00"), t0);
  EXPECT_EQ(parse_rfc3339("2031-05-06T06:38:09-00:30"), t0);
  for (const char* bad :
       {"", "soon", "2031-05-06", "2031-05-06T07:08:09", "2031-05-06 07:08:09Z",
        "2031-13-06T07:08:09Z", "2031-02-30T07:08:09Z", "2031-05-06T24:08:09Z",
        "2031-05-06T07:08:09.Z", "2031-05-06T07:08:09Zjunk",
        "2031-05-06T07:08:09+0200"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
  EXPECT_EQ(format_rfc3339(t0), "2031-05-06T07:08:09Z");
  EXPECT_EQ(format_rfc3339(t0 + 1ns), "2031-05-06T07:08:10Z");
}

// A Secret changed one way, and the exact message that change must give.
struct bad_secret_case {
  const char* name;
  std::function<void(json&)> change;
  std::string message;
};

TEST_F(CertificateBundle, EveryBadSecretIsRefusedNamingTheKey) {
  const auto other_ca = make_ca("someone-else");
  const auto foreign_leaf = make_leaf(other_ca);
  const auto b64 = [](const std::string& s) { return util::base64_encode(s); };
  const std::string where = "Secret mca-system/mca-operator-certs: ";

  const std::vector<bad_secret_case> cases = {
      {"no data", [](json& s) { s.erase("data"); }, where + "has no data"},
      {"missing ca.key", [](json& s) { s["data"].erase("ca.key"); },
       where + "ca.key is missing"},
      {"missing tls.crt", [](json& s) { s["data"].erase("tls.crt"); },
       where + "tls.crt is missing"},
      {"tls.crt not base64", [](json& s) { s["data"]["tls.crt"] = "%%%"; },
       where + "tls.crt is not base64"},
      {"ca.key not base64", [](json& s) { s["data"]["ca.key"] = "a!b"; },
       where + "ca.key is not base64"},
      {"ca.crt not a string", [](json& s) { s["data"]["ca.crt"] = 42; },
       where + "ca.crt is not a string"},
      {"ca.crt not PEM", [&](json& s) { s["data"]["ca.crt"] = b64("hello"); },
       where + "ca.crt is not a PEM certificate"},
      {"ca.crt two certificates",
       [&](json& s) {
         s["data"]["ca.crt"] = b64(ca_->cert_pem + other_ca.cert_pem);
       },
       where + "ca.crt holds 2 certificates, expected one"},
      {"ca.crt is a leaf",
       [&](json& s) {
         s["data"]["ca.crt"] = b64(leaf_->cert_pem);
         s["data"]["ca.key"] = b64(leaf_->key_pem);
       },
       where + "ca.crt is not a CA certificate"},
      {"ca.key not a key",
       [&](json& s) { s["data"]["ca.key"] = b64(ca_->cert_pem); },
       where + "ca.key is not an unencrypted PEM private key"},
      {"tls.key does not match",
       [&](json& s) { s["data"]["tls.key"] = b64(ca_->key_pem); },
       where + "tls.key does not match tls.crt"},
      {"ca.key does not match",
       [&](json& s) { s["data"]["ca.key"] = b64(next_->key_pem); },
       where + "ca.key does not match ca.crt"},
      {"leaf from another CA",
       [&](json& s) {
         s["data"]["tls.crt"] = b64(foreign_leaf.cert_pem);
         s["data"]["tls.key"] = b64(foreign_leaf.key_pem);
       },
       where + "tls.crt is not issued by ca.crt"},
      {"next-ca.crt alone", [](json& s) { s["data"].erase("next-ca.key"); },
       where + "next-ca.key is missing (next-ca.crt is there)"},
      {"next-ca.key alone", [](json& s) { s["data"].erase("next-ca.crt"); },
       where + "next-ca.crt is missing (next-ca.key is there)"},
      {"next-ca.key does not match",
       [&](json& s) { s["data"]["next-ca.key"] = b64(ca_->key_pem); },
       where + "next-ca.key does not match next-ca.crt"},
      {"retiring not PEM",
       [&](json& s) { s["data"]["retiring-ca.crt"] = b64("junk"); },
       where + "retiring-ca.crt holds no readable PEM certificate"},
      {"retiring holds a leaf",
       [&](json& s) {
         s["data"]["retiring-ca.crt"] = b64(old_->cert_pem + leaf_->cert_pem);
       },
       where + "retiring-ca.crt: certificate 2 is not a CA certificate"},
      {"retire-at not a time",
       [](json& s) {
         s["metadata"]["annotations"]["mca.k8s.io/retire-at"] = "soon";
       },
       where + "annotation mca.k8s.io/retire-at is not an RFC 3339 time: "
               "\"soon\""},
      {"published-at not a string",
       [](json& s) {
         s["metadata"]["annotations"]["mca.k8s.io/next-ca-published-at"] = 5;
       },
       where + "annotation mca.k8s.io/next-ca-published-at is not an RFC 3339 "
               "time: \"5\""},
  };

  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json secret = secret_of(full());
    c.change(secret);
    auto r = bundle_from_secret(secret);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().source, error_source::config);
    EXPECT_EQ(r.error().message, c.message);
    for (const auto& key : key_texts()) {
      // Any line of a key's body would be a leak.
      const auto line = key.substr(key.find('\n') + 1, 24);
      EXPECT_THAT(r.error().message, Not(HasSubstr(line)));
      EXPECT_THAT(r.error().message, Not(HasSubstr(b64(key).substr(0, 24))));
    }
  }
}

TEST_F(CertificateBundle, ToleratesWhatDoesNotMatter) {
  json secret = secret_of(full());
  // Derived, so not read: a stale or broken one does no harm.
  secret["data"]["ca-bundle.crt"] = util::base64_encode("stale");
  secret["metadata"]["annotations"]["unrelated"] = "x";
  secret["metadata"]["resourceVersion"] = "17";
  EXPECT_TRUE(bundle_from_secret(secret));

  // A published mark without a next CA says nothing.
  secret = secret_of(minimal());
  secret["metadata"]["annotations"]["mca.k8s.io/next-ca-published-at"] =
      "2031-05-06T07:08:09Z";
  auto b = bundle_from_secret(secret);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(b->next_ca_published_at);

  // An empty retiring-ca.crt is no retiring CA.
  secret = secret_of(minimal());
  secret["data"]["retiring-ca.crt"] = "";
  b = bundle_from_secret(secret);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(b->retiring_cas.empty());

  // Expired certificates still read: renewing them is the planner's job.
  auto old_ca = tls::make_certificate_authority(tls::ca_options{
      .common_name = "old", .not_before = t0 - 48h, .validity = 1h});
  ASSERT_TRUE(old_ca);
  auto old_leaf = tls::issue_serving_certificate(
      *old_ca, tls::leaf_options{.common_name = "mca-operator",
                                 .dns_names = {"x"},
                                 .ip_addresses = {},
                                 .not_before = t0 - 48h,
                                 .validity = 1h});
  ASSERT_TRUE(old_leaf);
  certificate_bundle expired;
  expired.ca = *old_ca;
  expired.leaf = *old_leaf;
  EXPECT_TRUE(bundle_from_secret(secret_of(expired)));

  // Missing metadata still gives a message naming what is known.
  secret = secret_of(minimal());
  secret.erase("metadata");
  secret["data"].erase("tls.key");
  auto r = bundle_from_secret(secret);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "Secret (no namespace)/(no name): tls.key is missing");
  EXPECT_FALSE(bundle_from_secret(json::array()));
}

}  // namespace
}  // namespace mca::op
