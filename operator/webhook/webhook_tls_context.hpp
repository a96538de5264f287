#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "common/core/error.hpp"

namespace mca::op {

// The TLS server configuration the admission webhook serves with: one
// certificate (with any intermediates after it) and its key; TLS 1.2 or
// 1.3 (1.2 with forward-secret AEAD suites only); ALPN "http/1.1" when the
// client offers it and none otherwise, so a client offering only "h2" still
// completes the handshake and falls back to HTTP/1.1, as Go's client does;
// no session tickets or session cache; no renegotiation.
//
// Built once and never changed afterwards: connections may create SSL
// objects from it (SSL_new only takes a reference) while a newer one
// replaces it for later handshakes, e.g. behind an atomic shared_ptr.
class webhook_tls_context {
 public:
  // Errors (source config) say which half is wrong: a certificate or key
  // that is not PEM, an encrypted key, a key that does not match the
  // certificate. They never contain key material.
  static mca::result<std::shared_ptr<const webhook_tls_context>> create(
      std::string_view cert_pem, std::string_view key_pem);

  ~webhook_tls_context();
  webhook_tls_context(const webhook_tls_context&) = delete;
  webhook_tls_context& operator=(const webhook_tls_context&) = delete;
  webhook_tls_context(webhook_tls_context&&) = delete;
  webhook_tls_context& operator=(webhook_tls_context&&) = delete;

  // For SSL_new. The context itself must not be changed through it.
  SSL_CTX* native_handle() const noexcept { return ctx_; }
  // SHA-256 of the leaf certificate's DER, lowercase hex: what a client
  // sees, for logs and for telling two certificates apart.
  const std::string& fingerprint() const noexcept { return fingerprint_; }
  // The leaf's subject, one line (e.g. "CN=mca-webhook").
  const std::string& subject() const noexcept { return subject_; }
  std::chrono::system_clock::time_point not_after() const noexcept {
    return not_after_;
  }

 private:
  webhook_tls_context(SSL_CTX* ctx, std::string fingerprint,
                      std::string subject,
                      std::chrono::system_clock::time_point not_after) noexcept;

  SSL_CTX* ctx_;  // owned
  std::string fingerprint_;
  std::string subject_;
  std::chrono::system_clock::time_point not_after_;
};

}  // namespace mca::op
