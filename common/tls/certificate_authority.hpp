#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.hpp"
#include "common/tls/self_signed.hpp"

namespace mca::tls {

// Building blocks for a small private CA: mint a CA, issue serving
// certificates from it, and read back what a stored certificate says.
// Everything is ECDSA P-256 with SHA-256, PEM in and PEM out, and stateless:
// the caller keeps the keys (in memory or in a Secret). Safe from any
// thread; each call starts from and leaves an empty OpenSSL error queue.
//
// Errors: source config for bad input (an IP literal that is not one, text
// that is not PEM, a key that does not match), source internal for OpenSSL
// failures, with OpenSSL's reason. No message ever contains key material.

struct ca_options {
  std::string common_name = "mca-operator-ca";
  // Injected rather than read from the clock, so tests and the rotation
  // planner decide the window. Usually a little before now, for skew.
  std::chrono::system_clock::time_point not_before;
  std::chrono::seconds validity{0};
};

// A fresh P-256 key and a self-signed CA certificate for it:
// basicConstraints CA:TRUE (critical), keyUsage keyCertSign and cRLSign
// (critical), a subjectKeyIdentifier, a random 128-bit serial.
mca::result<key_and_cert> make_certificate_authority(const ca_options& options);

struct leaf_options {
  std::string common_name = "mca-operator";
  // Every name and address a client may dial: modern clients check only
  // the subjectAltName. At least one of the two must be non-empty.
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // IPv4 or IPv6 literals
  std::chrono::system_clock::time_point not_before;
  std::chrono::seconds validity{0};
};

// A fresh P-256 key and a serving certificate for it signed by `ca`:
// basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
// serverAuth, the given subjectAltNames, subject and authority key ids.
// notAfter is capped at the CA's notAfter, since no client accepts a chain
// past its root's end; a window that the cap empties is a config error.
mca::result<key_and_cert> issue_serving_certificate(
    const key_and_cert& ca, const leaf_options& options);

// What a certificate says, for decisions and logs.
struct certificate_facts {
  std::string subject;  // one line, RFC 2253 ("CN=mca-operator")
  std::string issuer;   // likewise
  std::chrono::system_clock::time_point not_before, not_after;
  bool is_ca = false;  // basicConstraints CA:TRUE
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // canonical text ("::1")
  std::string fingerprint;                // SHA-256 of the DER, lowercase hex
};

// The first certificate in `pem`.
mca::result<certificate_facts> inspect_certificate(std::string_view pem);

// Every certificate in `pem`, each re-encoded as its own PEM block. Text
// between blocks and blocks of other kinds (keys, say) are skipped, so the
// result never carries anything but certificates. No certificate at all,
// or a damaged one, is an error.
mca::result<std::vector<std::string>> split_certificates(std::string_view pem);

// Whether `key_pem` holds one unencrypted private key (PKCS#8 or
// traditional). The message names only OpenSSL's reason, never the text.
mca::result<void> check_private_key(std::string_view key_pem);

// Whether `key_pem` is the private key of the first certificate in
// `cert_pem`.
mca::result<void> check_key_matches(std::string_view cert_pem,
                                    std::string_view key_pem);

// Whether the first certificate in `cert_pem` names the first one in
// `issuer_pem` as its issuer (name and key id) and carries its signature.
// Ignores validity windows, so it answers "who signed this" for expired
// certificates too.
mca::result<void> check_issued_by(std::string_view cert_pem,
                                  std::string_view issuer_pem);

// What a TLS client trusting only `ca_bundle_pem` concludes about the
// server certificate `leaf_pem` at time `at`: X509_verify_cert for the
// serverAuth purpose, every certificate's window checked at `at` (OpenSSL
// counts a certificate as expired from its notAfter second on). No host
// name check; the error says OpenSSL's verify reason.
mca::result<void> verify_issued_by(std::string_view leaf_pem,
                                   std::string_view ca_bundle_pem,
                                   std::chrono::system_clock::time_point at);

}  // namespace mca::tls
