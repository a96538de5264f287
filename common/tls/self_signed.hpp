#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/core/error.hpp"

namespace mca::tls {

// A private key (PKCS#8) and its certificate, both PEM.
struct key_and_cert {
  std::string key_pem;
  std::string cert_pem;
};

// A throwaway CA and the serving certificate it signed. The sidecar makes a
// fresh pair at every start and hands only the CA certificate to the app, so
// nothing here outlives the pod and there is nothing to rotate or revoke.
struct serving_identity {
  key_and_cert ca;
  key_and_cert serving;
};

struct serving_identity_options {
  std::string ca_common_name = "mca-sidecar-ca";
  std::string common_name = "mca-sidecar";
  // Names a client may dial; every one goes into the subjectAltName, which
  // is all modern clients (Go's crypto/tls included) check.
  std::vector<std::string> dns_names;
  // IPv4 or IPv6 literals, e.g. "127.0.0.1", "::1".
  std::vector<std::string> ip_addresses;
  // Injected rather than read from the clock, so tests can pin the window.
  // Callers usually pass a little before now to tolerate clock skew.
  std::chrono::system_clock::time_point not_before;
  std::chrono::seconds validity = std::chrono::hours(24 * 365);
};

// Fresh ECDSA P-256 keys, a self-signed CA and a serving certificate signed
// by it with SHA-256. Errors name the step that failed (config for a bad
// name or address, internal for OpenSSL failures, with OpenSSL's reason).
mca::result<serving_identity> make_serving_identity(
    const serving_identity_options& options);

// The names in-cluster clients use for the API server, so a client set up
// with any of them accepts the sidecar's certificate.
std::vector<std::string> default_sidecar_dns_names();

}  // namespace mca::tls
