#include "common/tls/self_signed.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/tls/openssl_handles.hpp"
#include "support/async.hpp"

namespace mca::tls {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ssl_stream = beast::ssl_stream<beast::tcp_stream>;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BN_free>>;
using store_ptr = std::unique_ptr<X509_STORE, openssl_deleter<X509_STORE_free>>;
using store_ctx_ptr =
    std::unique_ptr<X509_STORE_CTX, openssl_deleter<X509_STORE_CTX_free>>;
using general_names_ptr =
    std::unique_ptr<GENERAL_NAMES, openssl_deleter<GENERAL_NAMES_free>>;
using basic_constraints_ptr =
    std::unique_ptr<BASIC_CONSTRAINTS, openssl_deleter<BASIC_CONSTRAINTS_free>>;

// 2031-05-06T07:08:09Z: far from now, so nothing passes by accident of the
// real clock.
constexpr std::time_t fixed_time = 1'935'817'689;

serving_identity_options options_at(std::chrono::system_clock::time_point t) {
  serving_identity_options o;
  o.dns_names = default_sidecar_dns_names();
  o.ip_addresses = {"127.0.0.1", "::1"};
  o.not_before = t;
  return o;
}

serving_identity make(const serving_identity_options& o) {
  auto id = make_serving_identity(o);
  if (!id) {
    ADD_FAILURE() << id.error().message;
    return {};
  }
  return *id;
}

bio_ptr read_bio(const std::string& pem) {
  return bio_ptr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

x509_ptr parse_cert(const std::string& pem) {
  auto bio = read_bio(pem);
  x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_TRUE(cert) << "not a PEM certificate:\n" << pem;
  return cert;
}

pkey_ptr parse_key(const std::string& pem) {
  auto bio = read_bio(pem);
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_TRUE(key) << "not a PEM private key";
  return key;
}

std::time_t to_time_t(const ASN1_TIME* t) {
  std::tm tm{};
  EXPECT_EQ(ASN1_TIME_to_tm(t, &tm), 1);
  return timegm(&tm);
}

std::string common_name(X509* cert) {
  std::array<char, 256> cn{};
  const int n =
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
                                cn.data(), static_cast<int>(cn.size()));
  return n < 0 ? std::string() : std::string(cn.data(), static_cast<size_t>(n));
}

// Verifies `leaf` against a store holding only `ca`, as a TLS client would
// for a server, at time `at`. Returns X509_V_OK or the reason.
int verify(X509* ca, X509* leaf, std::time_t at) {
  store_ptr store(X509_STORE_new());
  EXPECT_EQ(X509_STORE_add_cert(store.get(), ca), 1);
  store_ctx_ptr ctx(X509_STORE_CTX_new());
  EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr), 1);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  X509_STORE_CTX_set_time(ctx.get(), 0, at);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

struct alt_names {
  std::vector<std::string> dns;
  std::vector<std::string> ip;
};

alt_names subject_alt_names(X509* cert) {
  alt_names out;
  general_names_ptr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const auto* s = name->d.dNSName;
      out.dns.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD) {
      const auto* s = name->d.iPAddress;
      const auto* bytes = ASN1_STRING_get0_data(s);
      if (ASN1_STRING_length(s) == 4) {
        asio::ip::address_v4::bytes_type b{};
        std::copy_n(bytes, b.size(), b.begin());
        out.ip.push_back(asio::ip::address_v4(b).to_string());
      } else if (ASN1_STRING_length(s) == 16) {
        asio::ip::address_v6::bytes_type b{};
        std::copy_n(bytes, b.size(), b.begin());
        out.ip.push_back(asio::ip::address_v6(b).to_string());
      } else {
        ADD_FAILURE() << "IP SAN of length " << ASN1_STRING_length(s);
      }
    } else {
      ADD_FAILURE() << "unexpected SAN type " << name->type;
    }
  }
  return out;
}

TEST(SelfSigned, LeafVerifiesAgainstTheCaForServerAuth) {
  const auto id =
      make(options_at(std::chrono::system_clock::from_time_t(fixed_time)));
  auto ca = parse_cert(id.ca.cert_pem);
  auto leaf = parse_cert(id.serving.cert_pem);
  ASSERT_TRUE(ca && leaf);

  EXPECT_EQ(verify(ca.get(), leaf.get(), fixed_time + 60), X509_V_OK);
  // Only the CA is trusted: the leaf does not vouch for itself.
  EXPECT_EQ(verify(leaf.get(), leaf.get(), fixed_time + 60),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  EXPECT_EQ(X509_check_issued(ca.get(), leaf.get()), X509_V_OK);
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_get_signature_nid(ca.get()), NID_ecdsa_with_SHA256);
}

TEST(SelfSigned, AnotherCaDoesNotVerifyTheLeaf) {
  const auto o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  const auto a = make(o);
  const auto b = make(o);
  auto other_ca = parse_cert(b.ca.cert_pem);
  auto leaf = parse_cert(a.serving.cert_pem);
  ASSERT_TRUE(other_ca && leaf);
  // Same CA name, different key: the key ids tell them apart.
  EXPECT_NE(verify(other_ca.get(), leaf.get(), fixed_time + 60), X509_V_OK);
}

TEST(SelfSigned, SubjectAltNamesAreExactlyTheGivenOnes) {
  auto o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  o.ip_addresses = {"127.0.0.1", "::1", "10.1.2.3", "fd00::5"};
  const auto id = make(o);
  auto leaf = parse_cert(id.serving.cert_pem);
  ASSERT_TRUE(leaf);
  const auto names = subject_alt_names(leaf.get());
  EXPECT_THAT(names.dns, ::testing::ElementsAre(
                             "localhost", "kubernetes", "kubernetes.default",
                             "kubernetes.default.svc",
                             "kubernetes.default.svc.cluster.local"));
  EXPECT_THAT(names.ip, ::testing::ElementsAre("127.0.0.1", "::1", "10.1.2.3",
                                               "fd00::5"));
  // And OpenSSL's own name checks agree.
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.2", 0), 0);
  EXPECT_EQ(
      X509_check_host(leaf.get(), "kubernetes.default.svc", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "example.com", 0, 0, nullptr), 0);
  // The CA names nobody.
  auto ca = parse_cert(id.ca.cert_pem);
  ASSERT_TRUE(ca);
  EXPECT_TRUE(subject_alt_names(ca.get()).dns.empty());
}

TEST(SelfSigned, KeysAreFreshEcP256AndMatchTheirCertificates) {
  const auto o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  const auto id = make(o);
  for (const auto* pair : {&id.ca, &id.serving}) {
    auto key = parse_key(pair->key_pem);
    auto cert = parse_cert(pair->cert_pem);
    ASSERT_TRUE(key && cert);
    EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);
    std::array<char, 64> group{};
    std::size_t len = 0;
    ASSERT_EQ(
        EVP_PKEY_get_group_name(key.get(), group.data(), group.size(), &len),
        1);
    EXPECT_EQ(std::string(group.data(), len), "prime256v1");
    EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  }
  EXPECT_NE(id.ca.key_pem, id.serving.key_pem);
  EXPECT_NE(make(o).serving.key_pem, id.serving.key_pem);
}

TEST(SelfSigned, ValidityWindowStartsAtTheInjectedTime) {
  auto o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  const auto id = make(o);
  for (const auto* pem : {&id.ca.cert_pem, &id.serving.cert_pem}) {
    auto cert = parse_cert(*pem);
    ASSERT_TRUE(cert);
    EXPECT_EQ(to_time_t(X509_get0_notBefore(cert.get())), fixed_time);
    EXPECT_EQ(to_time_t(X509_get0_notAfter(cert.get())),
              fixed_time + std::time_t{365} * 24 * 3600);
  }

  o.validity = 1h;
  const auto short_lived = make(o);
  auto ca = parse_cert(short_lived.ca.cert_pem);
  auto leaf = parse_cert(short_lived.serving.cert_pem);
  ASSERT_TRUE(ca && leaf);
  EXPECT_EQ(to_time_t(X509_get0_notAfter(leaf.get())), fixed_time + 3600);
  EXPECT_EQ(verify(ca.get(), leaf.get(), fixed_time - 1),
            X509_V_ERR_CERT_NOT_YET_VALID);
  EXPECT_EQ(verify(ca.get(), leaf.get(), fixed_time + 3601),
            X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST(SelfSigned, ExtensionsMakeACaAndAServingLeaf) {
  auto o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  o.ca_common_name = "test-ca";
  o.common_name = "test-serving";
  const auto id = make(o);
  auto ca = parse_cert(id.ca.cert_pem);
  auto leaf = parse_cert(id.serving.cert_pem);
  ASSERT_TRUE(ca && leaf);

  EXPECT_EQ(common_name(ca.get()), "test-ca");
  EXPECT_EQ(common_name(leaf.get()), "test-serving");
  EXPECT_EQ(X509_get_version(ca.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_version(leaf.get()), X509_VERSION_3);

  // CA: critical basicConstraints CA:TRUE, may sign certificates and CRLs.
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  int critical = -1;
  basic_constraints_ptr ca_bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(ca.get(), NID_basic_constraints, &critical, nullptr)));
  ASSERT_TRUE(ca_bc);
  EXPECT_NE(ca_bc->ca, 0);
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(X509_get_key_usage(ca.get()), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
  ASSERT_NE(X509_get0_subject_key_id(ca.get()), nullptr);

  // Leaf: not a CA, signs handshakes, serves TLS only.
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  basic_constraints_ptr leaf_bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(leaf.get(), NID_basic_constraints, &critical, nullptr)));
  ASSERT_TRUE(leaf_bc);
  EXPECT_EQ(leaf_bc->ca, 0);
  EXPECT_EQ(X509_get_key_usage(leaf.get()), KU_DIGITAL_SIGNATURE);
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()), XKU_SSL_SERVER);
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_CLIENT, 0), 0);

  // The leaf names its issuer's key.
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(leaf.get());
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(ca.get())), 0);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(leaf.get()),
                          X509_get_subject_name(ca.get())),
            0);
}

TEST(SelfSigned, SerialsAreRandom128BitNumbers) {
  const auto o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    const auto id = make(o);
    for (const auto* pem : {&id.ca.cert_pem, &id.serving.cert_pem}) {
      auto cert = parse_cert(*pem);
      ASSERT_TRUE(cert);
      bignum_ptr serial(
          ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
      ASSERT_TRUE(serial);
      EXPECT_FALSE(BN_is_negative(serial.get()));
      EXPECT_LE(BN_num_bits(serial.get()), 128);
      // 2^-64 chance of a false failure per certificate.
      EXPECT_GT(BN_num_bits(serial.get()), 64);
      char* hex = BN_bn2hex(serial.get());
      seen.emplace_back(hex);
      OPENSSL_free(hex);
    }
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
}

TEST(SelfSigned, BadOptionsAreConfigErrorsNamingTheProblem) {
  auto o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  o.ip_addresses = {"127.0.0.1", "localhost"};
  auto r = make_serving_identity(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message,
              ::testing::HasSubstr("\"localhost\" is not an IPv4 or IPv6"));

  o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  o.dns_names.clear();
  o.ip_addresses.clear();
  r = make_serving_identity(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("at least one DNS name"));

  o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  o.validity = 0s;
  r = make_serving_identity(o);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("validity"));

  // A name with a comma stays one (odd) name instead of becoming two.
  o = options_at(std::chrono::system_clock::from_time_t(fixed_time));
  o.dns_names = {"a.example,DNS:b.example"};
  o.ip_addresses.clear();
  const auto id = make(o);
  auto leaf = parse_cert(id.serving.cert_pem);
  ASSERT_TRUE(leaf);
  EXPECT_THAT(subject_alt_names(leaf.get()).dns,
              ::testing::ElementsAre("a.example,DNS:b.example"));
}

TEST(SelfSigned, DefaultSidecarDnsNames) {
  EXPECT_THAT(
      default_sidecar_dns_names(),
      ::testing::ElementsAre("localhost", "kubernetes", "kubernetes.default",
                             "kubernetes.default.svc",
                             "kubernetes.default.svc.cluster.local"));
}

// --- A real TLS handshake ------------------------------------------------

struct handshake_outcome {
  boost::system::error_code ec;
  long verify_result = X509_V_OK;
};

// Accepts one connection and completes (or fails) the server handshake.
asio::awaitable<void> serve_one(tcp::acceptor acceptor,
                                std::shared_ptr<ssl::context> ctx) {
  auto [aec, socket] = co_await acceptor.async_accept(use_tuple);
  if (aec) co_return;
  ssl_stream stream(std::move(socket), *ctx);
  beast::get_lowest_layer(stream).expires_after(10s);
  co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
}

// Connects to 127.0.0.1:`port` trusting only `ca_pem` and checking that the
// server's certificate is valid for `host` (an IP literal or a DNS name
// sent as SNI), as a Kubernetes client does.
asio::awaitable<handshake_outcome> connect_and_verify(unsigned short port,
                                                      std::string ca_pem,
                                                      std::string host) {
  auto executor = co_await asio::this_coro::executor;
  ssl::context ctx(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx.add_certificate_authority(asio::buffer(ca_pem), ec);
  EXPECT_FALSE(ec) << ec.message();
  ctx.set_verify_mode(ssl::verify_peer);
  ssl_stream stream(executor, ctx);
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(10s);
  auto [cec] = co_await lowest.async_connect(
      tcp::endpoint(asio::ip::address_v4::loopback(), port), use_tuple);
  if (cec) co_return handshake_outcome{cec, X509_V_OK};

  SSL* handle = stream.native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(handle);
  boost::system::error_code parse_ec;
  asio::ip::make_address(host, parse_ec);
  if (!parse_ec) {
    EXPECT_EQ(X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()), 1);
  } else {
    // SSL_set_tlsext_host_name is a macro with a C cast; call what it does.
    SSL_ctrl(handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host.c_str()));
    EXPECT_EQ(X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0), 1);
  }
  auto [hec] =
      co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  co_return handshake_outcome{hec, SSL_get_verify_result(handle)};
}

handshake_outcome handshake(const serving_identity& server_id,
                            const std::string& client_ca_pem,
                            const std::string& host) {
  asio::io_context io;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->use_certificate_chain(asio::buffer(server_id.serving.cert_pem), ec);
  EXPECT_FALSE(ec) << ec.message();
  ctx->use_private_key(asio::buffer(server_id.serving.key_pem),
                       ssl::context::pem, ec);
  EXPECT_FALSE(ec) << ec.message();
  tcp::acceptor acceptor(io,
                         tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const auto port = acceptor.local_endpoint().port();
  asio::co_spawn(io, serve_one(std::move(acceptor), ctx), asio::detached);
  return test::run_sync(io, connect_and_verify(port, client_ca_pem, host),
                        std::chrono::seconds(20));
}

serving_identity current_identity() {
  return make(options_at(std::chrono::system_clock::now() - 1min));
}

TEST(SelfSignedHandshake, ClientTrustingTheCaConnectsByIp) {
  const auto id = current_identity();
  const auto out = handshake(id, id.ca.cert_pem, "127.0.0.1");
  EXPECT_FALSE(out.ec) << out.ec.message();
  EXPECT_EQ(out.verify_result, X509_V_OK)
      << X509_verify_cert_error_string(out.verify_result);
}

TEST(SelfSignedHandshake, ClientTrustingTheCaConnectsByServiceName) {
  const auto id = current_identity();
  const auto out = handshake(id, id.ca.cert_pem, "kubernetes.default.svc");
  EXPECT_FALSE(out.ec) << out.ec.message();
  EXPECT_EQ(out.verify_result, X509_V_OK)
      << X509_verify_cert_error_string(out.verify_result);
}

TEST(SelfSignedHandshake, ClientTrustingAnotherCaFails) {
  const auto id = current_identity();
  const auto other = current_identity();
  const auto out = handshake(id, other.ca.cert_pem, "127.0.0.1");
  EXPECT_TRUE(out.ec);
  EXPECT_EQ(out.verify_result, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
      << X509_verify_cert_error_string(out.verify_result);
}

TEST(SelfSignedHandshake, NameNotInTheCertificateFails) {
  const auto id = current_identity();
  const auto out = handshake(id, id.ca.cert_pem, "api.example.com");
  EXPECT_TRUE(out.ec);
  EXPECT_EQ(out.verify_result, X509_V_ERR_HOSTNAME_MISMATCH)
      << X509_verify_cert_error_string(out.verify_result);
}

}  // namespace
}  // namespace mca::tls
