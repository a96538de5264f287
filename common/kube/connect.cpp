#include "common/kube/connect.hpp"

#include "common/kube/credentials.hpp"

namespace mca::kube {

result<std::shared_ptr<http::transport>> make_transport(
    const boost::asio::any_io_executor& executor, const client_config& config,
    http::https_options options) {
  http::tls_settings tls;
  tls.ca_pem = config.ca_pem;
  tls.server_name = config.tls_server_name;
  tls.insecure_skip_verify = config.insecure_skip_tls_verify;
  tls.ca_origin = config.origin;
  return http::make_https_transport(executor, config.server, std::move(tls),
                                    make_credential_source(config),
                                    std::move(options));
}

}  // namespace mca::kube
