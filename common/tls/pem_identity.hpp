#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "common/core/error.hpp"

namespace mca::tls {

// A certificate chain or a key is a few KiB; text this large is a mistake,
// not PEM. The cap also keeps lengths within what OpenSSL takes (an int).
inline constexpr std::size_t max_pem_bytes = std::size_t{1024} * 1024;

// How error messages name the two inputs of use_pem_pair: noun phrases that
// start a sentence, e.g. {"the certificate in /etc/tls/tls.crt", "the key in
// /etc/tls/tls.key"} or {"the webhook's serving certificate", "the
// webhook's serving key"}.
struct pem_names {
  std::string certificate;
  std::string key;
  // How the message for a key that does not match names the certificate,
  // after the key ("<key> does not match <this>"), e.g. "its certificate".
  // Empty: `certificate`.
  std::string certificate_after_key = {};
};

// What a client sees of the certificate a context serves, as
// inspect_certificate (common/tls/certificate_authority.hpp) reads it.
struct served_certificate {
  std::string fingerprint;  // SHA-256 of the leaf's DER, lowercase hex
  std::string subject;      // the leaf's subject, RFC 2253, one line
  std::chrono::system_clock::time_point not_after;
};

// Loads a serving identity into `ctx`: the first certificate of `cert_pem`
// as the leaf, every certificate after it as an intermediate, and the one
// unencrypted private key (PKCS#8 or traditional) of `key_pem`, which must
// be the leaf's. Protocol versions, suites and ALPN stay the caller's.
//
// Errors (source config) name the input at fault with `names`: larger than
// max_pem_bytes, not PEM, a damaged certificate after the leaf, an
// encrypted key, a key that does not match the certificate; source internal
// for OpenSSL failures. They carry OpenSSL's reason but never any of the
// key's text. On an error `ctx` may hold part of the pair: discard it.
// Starts from and leaves an empty OpenSSL error queue.
mca::result<served_certificate> use_pem_pair(SSL_CTX* ctx,
                                             std::string_view cert_pem,
                                             std::string_view key_pem,
                                             const pem_names& names);

// OpenSSL's reason for the failure just seen (just the reason: the routine
// names help nobody who supplied the wrong file), or "unknown OpenSSL
// error". Empties this thread's error queue, so the next failure does not
// report this one.
std::string openssl_reason();

}  // namespace mca::tls
