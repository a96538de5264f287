#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "common/core/error.hpp"

namespace replica_server {

// PEM text and where it came from (a file name, for messages).
struct pem_source {
  std::string origin;
  std::string pem;
};

struct mtls_settings {
  pem_source certificate;  // the server's, intermediates after the leaf
  pem_source key;
  // Every certificate in every bundle is a trust anchor for clients.
  std::vector<pem_source> client_cas;
};

// The first thing wrong with a client's certificate chain, as OpenSSL's
// verification saw it. Filled in by the context's verify callback for a
// connection that asked for it with record_verify_failure().
struct verify_failure {
  int code = 0;            // X509_V_ERR_*; 0: nothing failed
  std::string reason;      // "certificate has expired"
  int depth = 0;           // 0: the client's own certificate
  std::string subject;     // of the certificate at `depth`, RFC 2253
  std::string issuer;      // likewise
  std::string not_before;  // "Jan  1 00:00:00 2020 GMT"
  std::string not_after;
};

// Who a client proved to be.
struct peer_identity {
  std::string subject;
  std::string issuer;
};

// The TLS server configuration of the API (RFD 156, mTLS):
//   - TLS 1.3 only (SSL_CTX_set_min_proto_version): a client offering 1.2
//     or less fails the handshake;
//   - a client certificate is required (SSL_VERIFY_PEER |
//     SSL_VERIFY_FAIL_IF_NO_PEER_CERT) and must chain to one of the client
//     CAs, be within its validity window (every certificate of the chain),
//     and, if it has an extended key usage, allow clientAuth;
//   - no session tickets or cache: every connection is verified afresh,
//     so a certificate that expired since a previous session is refused.
// Built once; connections take references with SSL_new.
class mtls_context {
 public:
  // Errors (source config) name the file at fault: not PEM, no
  // certificate in a CA bundle, an encrypted key, a key that does not
  // match. Never any key material.
  static mca::result<std::shared_ptr<const mtls_context>> create(
      const mtls_settings& settings);

  ~mtls_context();
  mtls_context(const mtls_context&) = delete;
  mtls_context& operator=(const mtls_context&) = delete;
  mtls_context(mtls_context&&) = delete;
  mtls_context& operator=(mtls_context&&) = delete;

  SSL_CTX* native_handle() const noexcept { return ctx_; }
  // The subjects of the trusted client CAs, for the start-up log.
  const std::vector<std::string>& client_ca_subjects() const noexcept {
    return ca_subjects_;
  }

 private:
  mtls_context(SSL_CTX* ctx, std::vector<std::string> subjects) noexcept
      : ctx_(ctx), ca_subjects_(std::move(subjects)) {}

  SSL_CTX* ctx_;  // owned
  std::vector<std::string> ca_subjects_;
};

// Makes the verify callback record the first failure of `ssl`'s handshake
// in `*record`, which must outlive the handshake.
void record_verify_failure(SSL* ssl, verify_failure* record) noexcept;

// The verified client certificate's names, after a successful handshake.
std::optional<peer_identity> peer_of(SSL* ssl);

}  // namespace replica_server
