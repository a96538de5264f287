#include "operator/webhook/webhook_tls_context.hpp"

#include <cstring>
#include <utility>

#include <openssl/err.h>

#include "common/tls/openssl_handles.hpp"
#include "common/tls/pem_identity.hpp"

namespace mca::op {
namespace {

using tls::openssl_reason;
using tls::ssl_ctx_ptr;

// TLS 1.2 suites with forward secrecy and an AEAD: what Go's crypto/tls
// (the API server) prefers anyway. TLS 1.3 suites are all of that kind.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// We speak HTTP/1.1 only. Answering "no ALPN" rather than a fatal alert to
// a client that offers only h2 lets it fall back instead of failing.
int select_http11(SSL* /*ssl*/, const unsigned char** out,
                  unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void* /*arg*/) {
  static constexpr std::string_view http11 = "http/1.1";
  for (unsigned i = 0; i < inlen;) {
    const unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == http11.size() &&
        std::memcmp(in + i + 1, http11.data(), len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

webhook_tls_context::webhook_tls_context(
    SSL_CTX* ctx, std::string fingerprint, std::string subject,
    std::chrono::system_clock::time_point not_after) noexcept
    : ctx_(ctx),
      fingerprint_(std::move(fingerprint)),
      subject_(std::move(subject)),
      not_after_(not_after) {}

webhook_tls_context::~webhook_tls_context() { SSL_CTX_free(ctx_); }

mca::result<std::shared_ptr<const webhook_tls_context>>
webhook_tls_context::create(std::string_view cert_pem,
                            std::string_view key_pem) {
  ERR_clear_error();
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    return error::of(error_source::internal,
                     "cannot make a TLS context: " + openssl_reason());
  }
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), tls12_ciphers) != 1) {
    return error::of(error_source::internal,
                     "this OpenSSL cannot be limited to TLS 1.2 and later "
                     "with AEAD suites: " +
                         openssl_reason());
  }
  // Resumption would gain little (the API server keeps connections alive)
  // and every certificate rotation makes a new context, which would refuse
  // the old tickets anyway. Renegotiation is only a way to make the server
  // work.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // Keep-alive connections sit idle between reviews; their record buffers
  // go back to the allocator meanwhile.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_http11, nullptr);

  auto served = tls::use_pem_pair(
      ctx.get(), cert_pem, key_pem,
      tls::pem_names{.certificate = "the webhook's serving certificate",
                     .key = "the webhook's serving key",
                     .certificate_after_key = "its certificate"});
  if (!served) return served.error();
  return std::shared_ptr<const webhook_tls_context>(
      new webhook_tls_context(ctx.release(), std::move(served->fingerprint),
                              std::move(served->subject), served->not_after));
}

}  // namespace mca::op
