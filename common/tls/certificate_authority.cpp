#include "common/tls/certificate_authority.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <memory>
#include <utility>

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include "common/tls/openssl_handles.hpp"
#include "common/util/strings.hpp"

namespace mca::tls {
namespace {

using pkey_ctx_ptr =
    std::unique_ptr<EVP_PKEY_CTX, openssl_deleter<EVP_PKEY_CTX_free>>;
using x509_name_ptr =
    std::unique_ptr<X509_NAME, openssl_deleter<X509_NAME_free>>;
using x509_ext_ptr =
    std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION_free>>;
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
using store_ptr = std::unique_ptr<X509_STORE, openssl_deleter<X509_STORE_free>>;
using store_ctx_ptr =
    std::unique_ptr<X509_STORE_CTX, openssl_deleter<X509_STORE_CTX_free>>;

// A bundle of a few dozen certificates is tens of KiB; anything near this
// is not a certificate store, and the cap keeps lengths within an int.
constexpr std::size_t max_pem_bytes = std::size_t{1024} * 1024;

// RFC 5280's upper bound for a common name; OpenSSL refuses longer ones
// with a reason that would not say which input was at fault.
constexpr std::size_t max_common_name = 64;

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

// Only the reason of the last error, for input errors: the routine names in
// the full text help nobody who pasted the wrong file.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown reason";
}

error openssl_failure(std::string_view what) {
  std::string message(what);
  message += " failed: ";
  message += openssl_errors();
  return error::of(error_source::internal, std::move(message));
}

error config_failure(std::string message) {
  return error::of(error_source::config, std::move(message));
}

// The same error with the operation it happened in named first.
error within(std::string_view operation, error e) {
  e.message = std::string(operation) + ": " + e.message;
  return e;
}

// Never prompts: without this, OpenSSL asks for an encrypted key's
// passphrase on the terminal.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/,
                  void* /*userdata*/) {
  return -1;
}

mca::result<bio_ptr> memory_bio(std::string_view text, std::string_view what) {
  if (text.size() > max_pem_bytes) {
    return config_failure(std::string(what) + " is " +
                          std::to_string(text.size()) +
                          " bytes, more than PEM text can sensibly be");
  }
  bio_ptr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return openssl_failure("allocating a buffer");
  return bio;
}

// A memory BIO's contents as a string.
std::string drain(BIO* bio) {
  char* data = nullptr;
  // BIO_get_mem_data is a macro with a C cast; call what it expands to.
  const long size = BIO_ctrl(bio, BIO_CTRL_INFO, 0, static_cast<void*>(&data));
  if (size <= 0 || data == nullptr) return {};
  return {data, static_cast<std::size_t>(size)};
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string utc_text(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> text{};
  const auto n = std::strftime(text.data(), text.size(), "%FT%TZ", &tm);
  return {text.data(), n};
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

std::string name_text(const X509_NAME* name) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return "";
  }
  return drain(bio.get());
}

// --- reading ----------------------------------------------------------------

// Every certificate in `pem`, in order. `what` names the input in errors.
mca::result<std::vector<x509_ptr>> read_certificates(std::string_view pem,
                                                     std::string_view what) {
  auto bio = memory_bio(pem, what);
  if (!bio) return bio.error();
  std::vector<x509_ptr> out;
  for (;;) {
    x509_ptr cert(
        PEM_read_bio_X509(bio->get(), nullptr, no_passphrase, nullptr));
    if (cert) {
      out.push_back(std::move(cert));
      continue;
    }
    // Running out of BEGIN lines is how every PEM file ends; anything else
    // is a damaged block.
    const unsigned long code = ERR_peek_last_error();
    if (ERR_GET_LIB(code) == ERR_LIB_PEM &&
        ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
      ERR_clear_error();
      break;
    }
    return config_failure(std::string(what) + ": certificate " +
                          std::to_string(out.size() + 1) + " cannot be read (" +
                          openssl_reason() + ")");
  }
  if (out.empty()) {
    return config_failure(std::string(what) + " holds no PEM certificate");
  }
  return out;
}

mca::result<x509_ptr> read_first_certificate(std::string_view pem,
                                             std::string_view what) {
  auto all = read_certificates(pem, what);
  if (!all) return all.error();
  return std::move(all->front());
}

mca::result<pkey_ptr> read_private_key(std::string_view pem,
                                       std::string_view what) {
  auto bio = memory_bio(pem, what);
  if (!bio) return bio.error();
  pkey_ptr key(
      PEM_read_bio_PrivateKey(bio->get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    // OpenSSL's reason ("no start line", "bad decrypt") names the problem
    // without quoting the input, so it is safe next to a key.
    return config_failure(std::string(what) +
                          " is not an unencrypted PEM private key (" +
                          openssl_reason() + ")");
  }
  return key;
}

mca::result<std::string> certificate_pem(X509* cert) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return openssl_failure("writing a certificate as PEM");
  }
  auto out = drain(bio.get());
  if (out.empty()) return openssl_failure("reading back a certificate's PEM");
  return out;
}

// --- writing ----------------------------------------------------------------

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
// bits make two certificates from CAs of the same name never collide.
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

mca::result<void> set_validity(X509* cert, std::time_t start, std::time_t end) {
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

mca::result<void> check_common_name(const std::string& common_name) {
  if (common_name.empty()) return config_failure("the common name is empty");
  if (common_name.size() > max_common_name) {
    return config_failure("the common name " + quote(common_name) +
                          " is longer than 64 characters");
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
mca::result<void> add_subject_alt_names(X509* cert,
                                        const leaf_options& options) {
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

// What every certificate shares: v3, serial, window, subject and key.
mca::result<x509_ptr> new_certificate(const std::string& common_name,
                                      std::time_t start, std::time_t end,
                                      EVP_PKEY* key) {
  x509_ptr cert(X509_new());
  if (!cert) return openssl_failure("allocating a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return openssl_failure("setting the certificate version");
  }
  if (auto r = set_random_serial(cert.get()); !r) return r.error();
  if (auto r = set_validity(cert.get(), start, end); !r) return r.error();
  if (auto r = set_subject(cert.get(), common_name); !r) return r.error();
  if (X509_set_pubkey(cert.get(), key) != 1) {
    return openssl_failure("setting the public key");
  }
  return cert;
}

mca::result<key_and_cert> to_pem(EVP_PKEY* key, X509* cert) {
  bio_ptr key_bio(BIO_new(BIO_s_mem()));
  if (!key_bio) return openssl_failure("allocating a buffer");
  // PKCS#8, unencrypted: the Secret (or the sidecar's memory) protects it.
  if (PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return openssl_failure("writing the private key as PEM");
  }
  auto cert_pem = certificate_pem(cert);
  if (!cert_pem) return cert_pem.error();
  key_and_cert out{drain(key_bio.get()), std::move(*cert_pem)};
  if (out.key_pem.empty()) return openssl_failure("reading back the key's PEM");
  return out;
}

mca::result<void> check_validity(std::chrono::seconds validity) {
  if (validity <= std::chrono::seconds::zero()) {
    return config_failure("the validity must be positive, not " +
                          std::to_string(validity.count()) + " s");
  }
  return {};
}

mca::result<key_and_cert> build_certificate_authority(
    const ca_options& options) {
  if (auto r = check_common_name(options.common_name); !r) return r.error();
  if (auto r = check_validity(options.validity); !r) return r.error();
  auto key = make_p256_key();
  if (!key) return key.error();
  const auto start = std::chrono::system_clock::to_time_t(options.not_before);
  const auto end = std::chrono::system_clock::to_time_t(options.not_before +
                                                        options.validity);
  auto cert = new_certificate(options.common_name, start, end, key->get());
  if (!cert) return cert.error();
  X509* ca = cert->get();
  // Self-signed: the issuer is the subject.
  if (X509_set_issuer_name(ca, X509_get_subject_name(ca)) != 1) {
    return openssl_failure("setting the issuer name");
  }
  for (auto [nid, value] : {
           std::pair{NID_basic_constraints, "critical,CA:TRUE"},
           std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
           std::pair{NID_subject_key_identifier, "hash"},
       }) {
    if (auto r = add_extension(ca, ca, nid, value); !r) return r.error();
  }
  if (X509_sign(ca, key->get(), EVP_sha256()) <= 0) {
    return openssl_failure("signing the certificate");
  }
  return to_pem(key->get(), ca);
}

mca::result<key_and_cert> build_serving_certificate(
    const key_and_cert& ca, const leaf_options& options) {
  if (auto r = check_common_name(options.common_name); !r) return r.error();
  if (auto r = check_validity(options.validity); !r) return r.error();
  auto ca_cert = read_first_certificate(ca.cert_pem, "the CA certificate");
  if (!ca_cert) return ca_cert.error();
  auto ca_key = read_private_key(ca.key_pem, "the CA key");
  if (!ca_key) return ca_key.error();
  // Cheap, and a mix-up here would otherwise surface only as clients
  // refusing a certificate that looks right.
  if (X509_check_private_key(ca_cert->get(), ca_key->get()) != 1) {
    ERR_clear_error();
    return config_failure("the CA key does not match the CA certificate");
  }
  if ((X509_get_extension_flags(ca_cert->get()) & EXFLAG_CA) == 0) {
    return config_failure("the CA certificate is not a CA (no CA:TRUE)");
  }

  const auto start = std::chrono::system_clock::to_time_t(options.not_before);
  const auto ca_end = std::chrono::system_clock::to_time_t(
      to_time_point(X509_get0_notAfter(ca_cert->get())));
  const auto end = std::min(std::chrono::system_clock::to_time_t(
                                options.not_before + options.validity),
                            ca_end);
  if (end <= start) {
    return config_failure("the CA expires at " + utc_text(ca_end) +
                          ", which leaves no window after notBefore " +
                          utc_text(start));
  }

  auto key = make_p256_key();
  if (!key) return key.error();
  auto cert = new_certificate(options.common_name, start, end, key->get());
  if (!cert) return cert.error();
  X509* leaf = cert->get();
  if (X509_set_issuer_name(leaf, X509_get_subject_name(ca_cert->get())) != 1) {
    return openssl_failure("setting the issuer name");
  }
  // digitalSignature alone: with ECDSA keys TLS never uses key encipherment.
  for (auto [nid, value] : {
           std::pair{NID_basic_constraints, "critical,CA:FALSE"},
           std::pair{NID_key_usage, "critical,digitalSignature"},
           std::pair{NID_ext_key_usage, "serverAuth"},
           std::pair{NID_subject_key_identifier, "hash"},
           std::pair{NID_authority_key_identifier, "keyid:always"},
       }) {
    if (auto r = add_extension(leaf, ca_cert->get(), nid, value); !r) {
      return r.error();
    }
  }
  if (auto r = add_subject_alt_names(leaf, options); !r) return r.error();
  if (X509_sign(leaf, ca_key->get(), EVP_sha256()) <= 0) {
    return openssl_failure("signing the certificate");
  }
  return to_pem(key->get(), leaf);
}

void read_subject_alt_names(X509* cert, certificate_facts& facts) {
  general_names_ptr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();  // "no such extension" is not a failure
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* s = name->d.dNSName;
      facts.dns_names.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = name->d.iPAddress;
      const int length = ASN1_STRING_length(s);
      const int family =
          length == 4 ? AF_INET : (length == 16 ? AF_INET6 : AF_UNSPEC);
      std::array<char, INET6_ADDRSTRLEN> text{};
      if (family != AF_UNSPEC &&
          inet_ntop(family, ASN1_STRING_get0_data(s), text.data(),
                    static_cast<socklen_t>(text.size())) != nullptr) {
        facts.ip_addresses.emplace_back(text.data());
      }
    }
  }
}

}  // namespace

mca::result<key_and_cert> make_certificate_authority(
    const ca_options& options) {
  // Start from an empty queue so errors name only this call's failures.
  ERR_clear_error();
  auto out = build_certificate_authority(options);
  if (!out) {
    return within("making CA certificate " + quote(options.common_name),
                  out.error());
  }
  return out;
}

mca::result<key_and_cert> issue_serving_certificate(
    const key_and_cert& ca, const leaf_options& options) {
  ERR_clear_error();
  auto out = build_serving_certificate(ca, options);
  if (!out) {
    return within("issuing serving certificate " + quote(options.common_name),
                  out.error());
  }
  return out;
}

mca::result<certificate_facts> inspect_certificate(std::string_view pem) {
  ERR_clear_error();
  auto cert = read_first_certificate(pem, "the text");
  if (!cert) return cert.error();
  X509* c = cert->get();
  certificate_facts facts;
  facts.subject = name_text(X509_get_subject_name(c));
  facts.issuer = name_text(X509_get_issuer_name(c));
  facts.not_before = to_time_point(X509_get0_notBefore(c));
  facts.not_after = to_time_point(X509_get0_notAfter(c));
  facts.is_ca = (X509_get_extension_flags(c) & EXFLAG_CA) != 0;
  read_subject_alt_names(c, facts);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (X509_digest(c, EVP_sha256(), md.data(), &md_len) != 1) {
    return openssl_failure("hashing the certificate");
  }
  facts.fingerprint = hex(md.data(), md_len);
  return facts;
}

mca::result<std::vector<std::string>> split_certificates(std::string_view pem) {
  ERR_clear_error();
  auto certs = read_certificates(pem, "the text");
  if (!certs) return certs.error();
  std::vector<std::string> out;
  out.reserve(certs->size());
  for (const auto& cert : *certs) {
    auto text = certificate_pem(cert.get());
    if (!text) return text.error();
    out.push_back(std::move(*text));
  }
  return out;
}

mca::result<void> check_private_key(std::string_view key_pem) {
  ERR_clear_error();
  auto key = read_private_key(key_pem, "the text");
  if (!key) return key.error();
  return {};
}

mca::result<void> check_key_matches(std::string_view cert_pem,
                                    std::string_view key_pem) {
  ERR_clear_error();
  auto cert = read_first_certificate(cert_pem, "the certificate");
  if (!cert) return cert.error();
  auto key = read_private_key(key_pem, "the key");
  if (!key) return key.error();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return config_failure("the private key does not match the certificate");
  }
  return {};
}

mca::result<void> check_issued_by(std::string_view cert_pem,
                                  std::string_view issuer_pem) {
  ERR_clear_error();
  auto cert = read_first_certificate(cert_pem, "the certificate");
  if (!cert) return cert.error();
  auto issuer = read_first_certificate(issuer_pem, "the issuer");
  if (!issuer) return issuer.error();
  // Names, key ids and the issuer's keyCertSign, but not the signature.
  if (const int code = X509_check_issued(issuer->get(), cert->get());
      code != X509_V_OK) {
    return config_failure(std::string("the certificate is not issued by ") +
                          name_text(X509_get_subject_name(issuer->get())) +
                          " (" + X509_verify_cert_error_string(code) + ")");
  }
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer->get());
  if (issuer_key == nullptr || X509_verify(cert->get(), issuer_key) != 1) {
    ERR_clear_error();
    return config_failure(
        std::string("the certificate's signature does not verify with ") +
        name_text(X509_get_subject_name(issuer->get())) + "'s key");
  }
  return {};
}

mca::result<void> verify_issued_by(std::string_view leaf_pem,
                                   std::string_view ca_bundle_pem,
                                   std::chrono::system_clock::time_point at) {
  ERR_clear_error();
  auto leaf = read_first_certificate(leaf_pem, "the certificate");
  if (!leaf) return leaf.error();
  auto cas = read_certificates(ca_bundle_pem, "the CA bundle");
  if (!cas) return cas.error();
  store_ptr store(X509_STORE_new());
  if (!store) return openssl_failure("allocating a certificate store");
  for (const auto& ca : *cas) {
    // The store takes its own reference.
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) {
      return openssl_failure("adding a CA to the store");
    }
  }
  store_ctx_ptr ctx(X509_STORE_CTX_new());
  if (!ctx ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf->get(), nullptr) != 1) {
    return openssl_failure("preparing the verification");
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  const auto when = std::chrono::system_clock::to_time_t(at);
  X509_STORE_CTX_set_time(ctx.get(), 0, when);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int code = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return config_failure(name_text(X509_get_subject_name(leaf->get())) +
                          " does not verify against the CA bundle at " +
                          utc_text(when) + ": " +
                          X509_verify_cert_error_string(code));
  }
  return {};
}

}  // namespace mca::tls
