#include "common/tls/self_signed.hpp"

#include <array>
#include <ctime>
#include <memory>
#include <string_view>
#include <utility>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util/strings.hpp"

namespace mca::tls {
namespace {

// Binds an OpenSSL free function to a unique_ptr, so every object is
// released on every early return.
template <auto free_fn>
struct openssl_deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    free_fn(p);
  }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY_free>>;
using pkey_ctx_ptr =
    std::unique_ptr<EVP_PKEY_CTX, openssl_deleter<EVP_PKEY_CTX_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509_free>>;
using x509_name_ptr =
    std::unique_ptr<X509_NAME, openssl_deleter<X509_NAME_free>>;
using x509_ext_ptr =
    std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO_free_all>>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BN_free>>;
using asn1_integer_ptr =
    std::unique_ptr<ASN1_INTEGER, openssl_deleter<ASN1_INTEGER_free>>;
using general_name_ptr =
    std::unique_ptr<GENERAL_NAME, openssl_deleter<GENERAL_NAME_free>>;
using general_names_ptr =
    std::unique_ptr<GENERAL_NAMES, openssl_deleter<GENERAL_NAMES_free>>;
using ia5_string_ptr =
    std::unique_ptr<ASN1_IA5STRING, openssl_deleter<ASN1_IA5STRING_free>>;
using octet_string_ptr =
    std::unique_ptr<ASN1_OCTET_STRING, openssl_deleter<ASN1_OCTET_STRING_free>>;

// Drains OpenSSL's thread-local error queue, so the message carries the
// reason and a later failure does not report this one's leftovers.
std::string openssl_errors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    if (!out.empty()) out += "; ";
    out += text.data();
  }
  return out.empty() ? std::string("no OpenSSL error recorded") : out;
}

error openssl_failure(std::string_view what) {
  std::string message = "making the sidecar's serving certificate: ";
  message += what;
  message += " failed: ";
  message += openssl_errors();
  return error::of(error_source::internal, std::move(message));
}

error config_failure(std::string message) {
  return error::of(
      error_source::config,
      "making the sidecar's serving certificate: " + std::move(message));
}

mca::result<pkey_ptr> make_p256_key() {
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx) return openssl_failure("creating an EC key context");
  if (EVP_PKEY_keygen_init(ctx.get()) != 1) {
    return openssl_failure("initialising EC key generation");
  }
  if (EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1) {
    return openssl_failure("selecting curve P-256");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return openssl_failure("generating a P-256 key");
  }
  return pkey_ptr(raw);
}

// RFC 5280 asks for unpredictable serials (up to 20 octets); 128 random
// bits make two certificates from the same CA name never collide, which
// matters because every sidecar start mints a CA with the same name.
mca::result<void> set_random_serial(X509* cert) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return openssl_failure("drawing a random serial number");
  }
  // Unsigned big-endian, so the serial is never negative.
  bignum_ptr bn(
      BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn) return openssl_failure("converting the serial number");
  asn1_integer_ptr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return openssl_failure("encoding the serial number");
  if (X509_set_serialNumber(cert, serial.get()) != 1) {
    return openssl_failure("setting the serial number");
  }
  return {};
}

mca::result<void> set_validity(X509* cert,
                               const serving_identity_options& options) {
  const auto start = std::chrono::system_clock::to_time_t(options.not_before);
  const auto end = std::chrono::system_clock::to_time_t(options.not_before +
                                                        options.validity);
  if (ASN1_TIME_set(X509_getm_notBefore(cert), start) == nullptr) {
    return openssl_failure("setting notBefore");
  }
  if (ASN1_TIME_set(X509_getm_notAfter(cert), end) == nullptr) {
    return openssl_failure("setting notAfter");
  }
  return {};
}

mca::result<void> set_subject(X509* cert, const std::string& common_name) {
  x509_name_ptr name(X509_NAME_new());
  if (!name) return openssl_failure("allocating a subject name");
  if (X509_NAME_add_entry_by_txt(
          name.get(), "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name.data()),
          static_cast<int>(common_name.size()), -1, 0) != 1) {
    return openssl_failure("setting common name " + quote(common_name));
  }
  // The subject name is copied, so `name` is still ours to free.
  if (X509_set_subject_name(cert, name.get()) != 1) {
    return openssl_failure("setting the subject name");
  }
  return {};
}

// One extension from OpenSSL's config syntax ("critical,CA:TRUE"): the
// parser handles the keyid and bit-string encodings we would otherwise
// hand-roll. `issuer` is the certificate whose key id an
// authorityKeyIdentifier refers to.
mca::result<void> add_extension(X509* cert, X509* issuer, int nid,
                                const char* value) {
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  x509_ext_ptr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext) {
    return openssl_failure(std::string("building extension ") +
                           OBJ_nid2sn(nid) + " = " + quote(value));
  }
  if (X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_failure(std::string("adding extension ") + OBJ_nid2sn(nid));
  }
  return {};
}

mca::result<void> push_name(GENERAL_NAMES* names, general_name_ptr name) {
  if (sk_GENERAL_NAME_push(names, name.get()) == 0) {
    return openssl_failure("adding a subjectAltName entry");
  }
  // The stack owns it now.
  (void)name.release();
  return {};
}

// Built entry by entry rather than through the config syntax, so a name
// containing a comma cannot smuggle in extra entries, and a bad address is
// reported as such.
mca::result<void> add_subject_alt_names(
    X509* cert, const serving_identity_options& options) {
  if (options.dns_names.empty() && options.ip_addresses.empty()) {
    return config_failure(
        "at least one DNS name or IP address is needed for the "
        "subjectAltName");
  }
  general_names_ptr names(sk_GENERAL_NAME_new_null());
  if (!names) return openssl_failure("allocating the subjectAltName");
  for (const auto& dns : options.dns_names) {
    if (dns.empty()) return config_failure("a DNS name is empty");
    ia5_string_ptr text(ASN1_IA5STRING_new());
    if (!text || ASN1_STRING_set(text.get(), dns.data(),
                                 static_cast<int>(dns.size())) != 1) {
      return openssl_failure("encoding DNS name " + quote(dns));
    }
    general_name_ptr name(GENERAL_NAME_new());
    if (!name) return openssl_failure("allocating a subjectAltName entry");
    GENERAL_NAME_set0_value(name.get(), GEN_DNS, text.release());
    if (auto r = push_name(names.get(), std::move(name)); !r) return r;
  }
  for (const auto& ip : options.ip_addresses) {
    octet_string_ptr address(a2i_IPADDRESS(ip.c_str()));
    if (!address) {
      ERR_clear_error();
      return config_failure(quote(ip) + " is not an IPv4 or IPv6 address");
    }
    general_name_ptr name(GENERAL_NAME_new());
    if (!name) return openssl_failure("allocating a subjectAltName entry");
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, address.release());
    if (auto r = push_name(names.get(), std::move(name)); !r) return r;
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return openssl_failure("adding the subjectAltName");
  }
  return {};
}

// What both certificates share: v3, serial, window, subject and key.
mca::result<x509_ptr> new_certificate(const serving_identity_options& options,
                                      const std::string& common_name,
                                      EVP_PKEY* key) {
  x509_ptr cert(X509_new());
  if (!cert) return openssl_failure("allocating a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return openssl_failure("setting the certificate version");
  }
  if (auto r = set_random_serial(cert.get()); !r) return r.error();
  if (auto r = set_validity(cert.get(), options); !r) return r.error();
  if (auto r = set_subject(cert.get(), common_name); !r) return r.error();
  if (X509_set_pubkey(cert.get(), key) != 1) {
    return openssl_failure("setting the public key");
  }
  return cert;
}

mca::result<void> sign(X509* cert, EVP_PKEY* key, std::string_view what) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return openssl_failure(std::string("signing the ") + std::string(what));
  }
  return {};
}

// A memory BIO's contents as a string.
std::string drain(BIO* bio) {
  char* data = nullptr;
  // BIO_get_mem_data is a macro with a C cast; call what it expands to.
  const long size = BIO_ctrl(bio, BIO_CTRL_INFO, 0, static_cast<void*>(&data));
  if (size <= 0 || data == nullptr) return {};
  return {data, static_cast<std::size_t>(size)};
}

mca::result<key_and_cert> to_pem(EVP_PKEY* key, X509* cert) {
  bio_ptr key_bio(BIO_new(BIO_s_mem()));
  bio_ptr cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio) return openssl_failure("allocating a buffer");
  // PKCS#8, unencrypted: the key only ever lives in the sidecar's memory.
  if (PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return openssl_failure("writing the private key as PEM");
  }
  if (PEM_write_bio_X509(cert_bio.get(), cert) != 1) {
    return openssl_failure("writing the certificate as PEM");
  }
  key_and_cert out{drain(key_bio.get()), drain(cert_bio.get())};
  if (out.key_pem.empty() || out.cert_pem.empty()) {
    return openssl_failure("reading back the PEM text");
  }
  return out;
}

}  // namespace

mca::result<serving_identity> make_serving_identity(
    const serving_identity_options& options) {
  if (options.validity <= std::chrono::seconds::zero()) {
    return config_failure("the validity must be positive, not " +
                          std::to_string(options.validity.count()) + " s");
  }
  // Start from an empty queue so errors name only this call's failures.
  ERR_clear_error();

  auto ca_key = make_p256_key();
  if (!ca_key) return ca_key.error();
  auto ca = new_certificate(options, options.ca_common_name, ca_key->get());
  if (!ca) return ca.error();
  X509* ca_cert = ca->get();
  // Self-signed: the issuer is the subject.
  if (X509_set_issuer_name(ca_cert, X509_get_subject_name(ca_cert)) != 1) {
    return openssl_failure("setting the CA's issuer name");
  }
  for (auto [nid, value] : {
           std::pair{NID_basic_constraints, "critical,CA:TRUE"},
           std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
           std::pair{NID_subject_key_identifier, "hash"},
       }) {
    if (auto r = add_extension(ca_cert, ca_cert, nid, value); !r) {
      return r.error();
    }
  }
  if (auto r = sign(ca_cert, ca_key->get(), "CA certificate"); !r) {
    return r.error();
  }

  auto leaf_key = make_p256_key();
  if (!leaf_key) return leaf_key.error();
  auto leaf = new_certificate(options, options.common_name, leaf_key->get());
  if (!leaf) return leaf.error();
  X509* leaf_cert = leaf->get();
  if (X509_set_issuer_name(leaf_cert, X509_get_subject_name(ca_cert)) != 1) {
    return openssl_failure("setting the serving certificate's issuer name");
  }
  // digitalSignature alone: with ECDSA keys TLS never uses key encipherment.
  for (auto [nid, value] : {
           std::pair{NID_basic_constraints, "critical,CA:FALSE"},
           std::pair{NID_key_usage, "critical,digitalSignature"},
           std::pair{NID_ext_key_usage, "serverAuth"},
           std::pair{NID_subject_key_identifier, "hash"},
           std::pair{NID_authority_key_identifier, "keyid:always"},
       }) {
    if (auto r = add_extension(leaf_cert, ca_cert, nid, value); !r) {
      return r.error();
    }
  }
  if (auto r = add_subject_alt_names(leaf_cert, options); !r) {
    return r.error();
  }
  if (auto r = sign(leaf_cert, ca_key->get(), "serving certificate"); !r) {
    return r.error();
  }

  auto ca_pem = to_pem(ca_key->get(), ca_cert);
  if (!ca_pem) return ca_pem.error();
  auto leaf_pem = to_pem(leaf_key->get(), leaf_cert);
  if (!leaf_pem) return leaf_pem.error();
  return serving_identity{std::move(*ca_pem), std::move(*leaf_pem)};
}

std::vector<std::string> default_sidecar_dns_names() {
  return {
      "localhost",
      "kubernetes",
      "kubernetes.default",
      "kubernetes.default.svc",
      "kubernetes.default.svc.cluster.local",
  };
}

}  // namespace mca::tls
