#include "operator/webhook/webhook_tls_context.hpp"

#include <array>
#include <cstring>
#include <ctime>
#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/tls/openssl_handles.hpp"

// The helpers below resemble those of operator/grpc/certificate_files.cpp;
// they are kept local because the gRPC ones name files in their messages
// and live in that file's anonymous namespace.

namespace mca::op {
namespace {

using tls::bio_ptr;
using tls::pkey_ptr;
using tls::ssl_ctx_ptr;
using tls::x509_ptr;

// A chain or a key is a few KiB; anything this large is a mistake.
constexpr std::size_t max_pem_bytes = std::size_t{1024} * 1024;

// TLS 1.2 suites with forward secrecy and an AEAD: what Go's crypto/tls
// (the API server) prefers anyway. TLS 1.3 suites are all of that kind.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// OpenSSL's reason for the failure just seen; empties the error queue so
// that the next failure does not report this one.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

error config_error(std::string message) {
  return error::of(error_source::config, std::move(message));
}

// Without this, OpenSSL would prompt on the terminal for an encrypted
// key's passphrase.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/,
                  void* /*userdata*/) {
  return -1;
}

bio_ptr memory_bio(std::string_view text) {
  // Capped at max_pem_bytes by the caller, so the length fits an int.
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

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

std::string hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0x0f]);
  }
  return out;
}

std::string subject_of(X509* cert) {
  bio_ptr out(BIO_new(BIO_s_mem()));
  if (!out || X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0,
                                 XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return "";
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : "";
}

std::chrono::system_clock::time_point not_after_of(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

mca::result<x509_ptr> use_chain(SSL_CTX* ctx, std::string_view pem) {
  auto bio = memory_bio(pem);
  x509_ptr leaf(
      bio ? PEM_read_bio_X509_AUX(bio.get(), nullptr, no_passphrase, nullptr)
          : nullptr);
  if (!leaf) {
    return config_error(
        "the webhook's serving certificate is not a PEM certificate: " +
        openssl_reason());
  }
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return config_error("the webhook's serving certificate cannot be used: " +
                        openssl_reason());
  }
  for (;;) {
    x509_ptr extra(
        PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
    if (!extra) break;
    if (SSL_CTX_add0_chain_cert(ctx, extra.get()) != 1) {
      return config_error(
          "an intermediate certificate after the webhook's serving "
          "certificate cannot be used: " +
          openssl_reason());
    }
    static_cast<void>(extra.release());  // the context owns it now
  }
  // The loop ends at the end of the text ("no start line"); anything else
  // is a broken certificate after the leaf.
  const unsigned long code = ERR_peek_last_error();
  if (code != 0 && !(ERR_GET_LIB(code) == ERR_LIB_PEM &&
                     ERR_GET_REASON(code) == PEM_R_NO_START_LINE)) {
    return config_error(
        "an intermediate certificate after the webhook's serving "
        "certificate is not a PEM certificate: " +
        openssl_reason());
  }
  ERR_clear_error();
  return leaf;
}

mca::result<void> use_key(SSL_CTX* ctx, X509* leaf, std::string_view pem) {
  auto bio = memory_bio(pem);
  pkey_ptr key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
          : nullptr);
  if (!key) {
    const std::string why = openssl_reason();
    if (pem.find("ENCRYPTED") != std::string_view::npos) {
      return config_error(
          "the webhook's serving key is encrypted; the operator needs it "
          "unencrypted");
    }
    return config_error("the webhook's serving key is not a PEM private key: " +
                        why);
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return config_error(
        "the webhook's serving key does not match its certificate (a "
        "certificate and key from different pairs?)");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return config_error("the webhook's serving key cannot be used: " +
                        openssl_reason());
  }
  return {};
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
  if (cert_pem.size() > max_pem_bytes || key_pem.size() > max_pem_bytes) {
    return config_error(
        "the webhook's serving certificate or key is larger than a PEM "
        "file can be (1 MiB)");
  }
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

  auto leaf = use_chain(ctx.get(), cert_pem);
  if (!leaf) return leaf.error();
  if (auto used = use_key(ctx.get(), leaf->get(), key_pem); !used) {
    return used.error();
  }

  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (X509_digest(leaf->get(), EVP_sha256(), md.data(), &md_len) != 1) {
    return error::of(
        error_source::internal,
        "cannot hash the webhook's serving certificate: " + openssl_reason());
  }
  std::string subject = subject_of(leaf->get());
  const auto not_after = not_after_of(leaf->get());
  return std::shared_ptr<const webhook_tls_context>(new webhook_tls_context(
      ctx.release(), hex(md.data(), md_len), std::move(subject), not_after));
}

}  // namespace mca::op
