#include "common/tls/pem_identity.hpp"

#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/tls/certificate_authority.hpp"
#include "common/tls/openssl_handles.hpp"

namespace mca::tls {
namespace {

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

// The leaf, then each intermediate the text holds after it.
mca::result<x509_ptr> use_chain(SSL_CTX* ctx, std::string_view pem,
                                const std::string& name) {
  auto bio = memory_bio(pem);
  x509_ptr leaf(
      bio ? PEM_read_bio_X509_AUX(bio.get(), nullptr, no_passphrase, nullptr)
          : nullptr);
  if (!leaf) {
    return config_error(name +
                        " is not a PEM certificate: " + openssl_reason());
  }
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return config_error(name + " cannot be used: " + openssl_reason());
  }
  for (;;) {
    x509_ptr extra(
        PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
    if (!extra) break;
    if (SSL_CTX_add0_chain_cert(ctx, extra.get()) != 1) {
      return config_error("an intermediate certificate after " + name +
                          " cannot be used: " + openssl_reason());
    }
    static_cast<void>(extra.release());  // the context owns it now
  }
  // The loop ends at the end of the text ("no start line"); anything else
  // is a broken certificate after the leaf.
  const unsigned long code = ERR_peek_last_error();
  if (code != 0 && !(ERR_GET_LIB(code) == ERR_LIB_PEM &&
                     ERR_GET_REASON(code) == PEM_R_NO_START_LINE)) {
    return config_error("an intermediate certificate after " + name +
                        " is not a PEM certificate: " + openssl_reason());
  }
  ERR_clear_error();
  return leaf;
}

// Messages name the key and quote OpenSSL's reason, never the key's text.
mca::result<void> use_key(SSL_CTX* ctx, X509* leaf, std::string_view pem,
                          const pem_names& names) {
  auto bio = memory_bio(pem);
  pkey_ptr key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
          : nullptr);
  if (!key) {
    const std::string why = openssl_reason();
    if (pem.find("ENCRYPTED") != std::string_view::npos) {
      return config_error(names.key +
                          " is encrypted; the operator needs it unencrypted");
    }
    return config_error(names.key + " is not a PEM private key: " + why);
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    const std::string& certificate = names.certificate_after_key.empty()
                                         ? names.certificate
                                         : names.certificate_after_key;
    return config_error(names.key + " does not match " + certificate +
                        " (a certificate and key from different pairs?)");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return config_error(names.key + " cannot be used: " + openssl_reason());
  }
  return {};
}

// What the leaf says, read by inspect_certificate so that fingerprints,
// subjects and dates mean the same everywhere. The leaf is written out
// again rather than `cert_pem` passed on: the leaf may be a "TRUSTED
// CERTIFICATE" block, which inspect_certificate would skip.
mca::result<served_certificate> facts_of(X509* leaf, const std::string& name) {
  bio_ptr out(BIO_new(BIO_s_mem()));
  char* data = nullptr;
  long size = 0;
  if (out && PEM_write_bio_X509(out.get(), leaf) == 1) {
    // BIO_get_mem_data is a macro with a C cast; call what it expands to.
    size = BIO_ctrl(out.get(), BIO_CTRL_INFO, 0, static_cast<void*>(&data));
  }
  if (size <= 0 || data == nullptr) {
    return error::of(error_source::internal,
                     "cannot write out " + name + ": " + openssl_reason());
  }
  auto facts = inspect_certificate(
      std::string_view(data, static_cast<std::size_t>(size)));
  if (!facts) {
    return error::of(error_source::internal,
                     "cannot read back " + name + ": " + facts.error().message);
  }
  return served_certificate{
      .fingerprint = std::move(facts->fingerprint),
      .subject = std::move(facts->subject),
      .not_after = facts->not_after,
  };
}

}  // namespace

std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

mca::result<served_certificate> use_pem_pair(SSL_CTX* ctx,
                                             std::string_view cert_pem,
                                             std::string_view key_pem,
                                             const pem_names& names) {
  static constexpr std::string_view too_large =
      " is larger than a PEM file can be (1 MiB)";
  if (cert_pem.size() > max_pem_bytes) {
    return config_error(names.certificate + std::string(too_large));
  }
  if (key_pem.size() > max_pem_bytes) {
    return config_error(names.key + std::string(too_large));
  }
  ERR_clear_error();
  auto leaf = use_chain(ctx, cert_pem, names.certificate);
  if (!leaf) return leaf.error();
  if (auto used = use_key(ctx, leaf->get(), key_pem, names); !used) {
    return used.error();
  }
  return facts_of(leaf->get(), names.certificate);
}

}  // namespace mca::tls
