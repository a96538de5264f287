#include "server/mtls_context.hpp"

#include <utility>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/tls/certificate_authority.hpp"
#include "common/tls/openssl_handles.hpp"
#include "common/tls/pem_identity.hpp"

namespace replica_server {
namespace {

using mca::error;
using mca::error_source;
using mca::tls::openssl_reason;

// Client certificates are issued by the configured CA directly or through
// an intermediate or two; longer chains are a mistake or an attack.
constexpr int max_chain_depth = 4;

int record_index() {
  // Registered once per process; thread-safe (a function-local static).
  static const int index =
      SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string name_text(const X509_NAME* name) {
  if (name == nullptr) return {};
  mca::tls::bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string time_text(const ASN1_TIME* t) {
  if (t == nullptr) return {};
  mca::tls::bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), t) != 1) return {};
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// OpenSSL has decided; we only write down why, for the log line the
// connection writes when the handshake fails. Returning `ok` unchanged
// keeps OpenSSL's decision, and its alert to the client.
int verify_callback(int ok, X509_STORE_CTX* store) {
  if (ok == 1) return ok;
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return ok;
  auto* record =
      static_cast<verify_failure*>(SSL_get_ex_data(ssl, record_index()));
  if (record == nullptr || record->code != 0) return ok;
  record->code = X509_STORE_CTX_get_error(store);
  record->reason = X509_verify_cert_error_string(record->code);
  record->depth = X509_STORE_CTX_get_error_depth(store);
  if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
    record->subject = name_text(X509_get_subject_name(cert));
    record->issuer = name_text(X509_get_issuer_name(cert));
    record->not_before = time_text(X509_get0_notBefore(cert));
    record->not_after = time_text(X509_get0_notAfter(cert));
  }
  return ok;
}

// Adds every certificate of one bundle to the trust store and to the CA
// names the server's CertificateRequest lists.
mca::result<void> trust_bundle(SSL_CTX* ctx, const pem_source& bundle,
                               std::vector<std::string>& subjects) {
  auto certs = mca::tls::split_certificates(bundle.pem);
  if (!certs) {
    return error::of(error_source::config, "client CA bundle " + bundle.origin +
                                               ": " + certs.error().message);
  }
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const auto& pem : *certs) {
    mca::tls::bio_ptr bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    mca::tls::x509_ptr cert(
        bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
            : nullptr);
    if (!cert) {
      return error::of(
          error_source::config,
          "client CA bundle " + bundle.origin + ": " + openssl_reason());
    }
    // The same CA named twice (in two files) is harmless.
    if (X509_STORE_add_cert(store, cert.get()) != 1) ERR_clear_error();
    if (SSL_CTX_add_client_CA(ctx, cert.get()) != 1) ERR_clear_error();
    subjects.push_back(name_text(X509_get_subject_name(cert.get())));
  }
  return {};
}

}  // namespace

mtls_context::~mtls_context() { SSL_CTX_free(ctx_); }

mca::result<std::shared_ptr<const mtls_context>> mtls_context::create(
    const mtls_settings& settings) {
  ERR_clear_error();
  if (settings.client_cas.empty()) {
    return error::of(error_source::config,
                     "no client CA: mutual TLS needs at least one CA whose "
                     "client certificates are accepted");
  }
  mca::tls::ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    return error::of(error_source::internal,
                     "cannot make a TLS context: " + openssl_reason());
  }
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
    return error::of(
        error_source::internal,
        "this OpenSSL cannot be limited to TLS 1.3: " + openssl_reason());
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  // No ALPN callback: a client offering h2 and http/1.1 (curl) then gets
  // no protocol named and speaks HTTP/1.1, the only one served.

  auto served = mca::tls::use_pem_pair(
      ctx.get(), settings.certificate.pem, settings.key.pem,
      mca::tls::pem_names{
          .certificate = "the certificate in " + settings.certificate.origin,
          .key = "the key in " + settings.key.origin,
          .certificate_after_key =
              "the certificate in " + settings.certificate.origin});
  if (!served) return served.error();

  std::vector<std::string> subjects;
  for (const auto& bundle : settings.client_cas) {
    if (auto trusted = trust_bundle(ctx.get(), bundle, subjects); !trusted) {
      return trusted.error();
    }
  }
  SSL_CTX_set_verify(ctx.get(),
                     SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     verify_callback);
  SSL_CTX_set_verify_depth(ctx.get(), max_chain_depth);
  // A certificate made for servers only (extendedKeyUsage serverAuth) does
  // not identify a client.
  if (SSL_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT) != 1) {
    return error::of(error_source::internal,
                     "cannot require clientAuth: " + openssl_reason());
  }
  ERR_clear_error();
  return std::shared_ptr<const mtls_context>(
      new mtls_context(ctx.release(), std::move(subjects)));
}

void record_verify_failure(SSL* ssl, verify_failure* record) noexcept {
  SSL_set_ex_data(ssl, record_index(), record);
}

std::optional<peer_identity> peer_of(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  peer_identity id;
  id.subject = name_text(X509_get_subject_name(cert));
  id.issuer = name_text(X509_get_issuer_name(cert));
  return id;
}

}  // namespace replica_server
