#include "server/handshake_failure.hpp"

#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

namespace replica_server {
namespace {

verify_failure failure(int code, std::string reason) {
  verify_failure f;
  f.code = code;
  f.reason = std::move(reason);
  f.depth = 0;
  f.subject = "CN=client";
  f.issuer = "CN=ca";
  f.not_before = "Jan  1 00:00:00 2020 GMT";
  f.not_after = "Jan  2 00:00:00 2020 GMT";
  return f;
}

TEST(DescribeRefusal, ACertificateProblemNamesTheCertificate) {
  EXPECT_EQ(
      describe_refusal(
          failure(X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired"),
          "certificate verify failed (SSL routines)"),
      "client certificate refused: certificate has expired (subject "
      "\"CN=client\", issuer \"CN=ca\", depth 0, valid from Jan  1 00:00:00 "
      "2020 GMT to Jan  2 00:00:00 2020 GMT)");
  EXPECT_EQ(
      describe_refusal(failure(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                               "unable to get local issuer certificate"),
                       "certificate verify failed (SSL routines)"),
      "client certificate refused: unable to get local issuer certificate "
      "(subject \"CN=client\", issuer \"CN=ca\", depth 0)");
}

struct reason_case {
  std::string tls_reason;
  std::string expected;
};

class DescribeRefusalReasons : public ::testing::TestWithParam<reason_case> {};

TEST_P(DescribeRefusalReasons, SayItInWords) {
  EXPECT_EQ(describe_refusal(verify_failure{}, GetParam().tls_reason),
            GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DescribeRefusalReasons,
    ::testing::Values(
        reason_case{"peer did not return a certificate (SSL routines)",
                    "no client certificate presented"},
        reason_case{"unsupported protocol (SSL routines)",
                    "the client does not offer TLS 1.3 (unsupported protocol "
                    "(SSL routines))"},
        reason_case{"no protocols available",
                    "the client does not offer TLS 1.3 (no protocols "
                    "available)"},
        reason_case{"http request (SSL routines)",
                    "the client spoke plain HTTP to the TLS port"},
        reason_case{"stream truncated",
                    "TLS handshake failed: stream truncated"}));

}  // namespace
}  // namespace replica_server
