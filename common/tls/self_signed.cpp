#include "common/tls/self_signed.hpp"

#include <utility>

#include "common/tls/certificate_authority.hpp"

namespace mca::tls {
namespace {

error sidecar_failure(error e) {
  e.message = "making the sidecar's serving certificate: " + e.message;
  return e;
}

}  // namespace

mca::result<serving_identity> make_serving_identity(
    const serving_identity_options& options) {
  // Both checks come before any key is generated, so a bad option costs
  // nothing and is reported as itself.
  if (options.validity <= std::chrono::seconds::zero()) {
    return sidecar_failure(error::of(
        error_source::config, "the validity must be positive, not " +
                                  std::to_string(options.validity.count()) +
                                  " s"));
  }
  if (options.dns_names.empty() && options.ip_addresses.empty()) {
    return sidecar_failure(
        error::of(error_source::config,
                  "at least one DNS name or IP address is needed for the "
                  "subjectAltName"));
  }

  auto ca = make_certificate_authority(ca_options{
      .common_name = options.ca_common_name,
      .not_before = options.not_before,
      .validity = options.validity,
  });
  if (!ca) return sidecar_failure(ca.error());
  // The same window as the CA's, so the cap never shortens it.
  auto serving =
      issue_serving_certificate(*ca, leaf_options{
                                         .common_name = options.common_name,
                                         .dns_names = options.dns_names,
                                         .ip_addresses = options.ip_addresses,
                                         .not_before = options.not_before,
                                         .validity = options.validity,
                                     });
  if (!serving) return sidecar_failure(serving.error());
  return serving_identity{std::move(*ca), std::move(*serving)};
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
