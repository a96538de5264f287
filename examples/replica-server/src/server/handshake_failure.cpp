#include "server/handshake_failure.hpp"

#include <openssl/x509_vfy.h>

namespace replica_server {
namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

std::string describe_refusal(const verify_failure& verify,
                             std::string_view tls_reason) {
  if (verify.code != 0) {
    std::string out = "client certificate refused: " + verify.reason +
                      " (subject \"" + verify.subject + "\", issuer \"" +
                      verify.issuer + "\", depth " +
                      std::to_string(verify.depth);
    // The window matters only when it is the problem.
    const bool window = verify.code == X509_V_ERR_CERT_HAS_EXPIRED ||
                        verify.code == X509_V_ERR_CERT_NOT_YET_VALID;
    if (window && !verify.not_after.empty()) {
      out += ", valid from " + verify.not_before + " to " + verify.not_after;
    }
    return out + ")";
  }
  if (contains(tls_reason, "peer did not return a certificate")) {
    return "no client certificate presented";
  }
  // OpenSSL's words for a ClientHello without TLS 1.3 in it.
  if (contains(tls_reason, "unsupported protocol") ||
      contains(tls_reason, "no protocols available") ||
      contains(tls_reason, "version too low")) {
    return "the client does not offer TLS 1.3 (" + std::string(tls_reason) +
           ")";
  }
  if (contains(tls_reason, "http request")) {
    return "the client spoke plain HTTP to the TLS port";
  }
  return "TLS handshake failed: " + std::string(tls_reason);
}

}  // namespace replica_server
