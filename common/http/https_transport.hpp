#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "common/core/error.hpp"
#include "common/http/transport.hpp"
#include "common/kube/credentials.hpp"

namespace mca::http {

struct tls_settings {
  std::string ca_pem;       // empty: the system trust store
  std::string server_name;  // verified name and SNI; empty: the URL's host
  bool insecure_skip_verify = false;
  // Where the CA came from, for verification errors ("kubeconfig X").
  std::string ca_origin;
};

struct https_options {
  std::size_t max_idle_connections = 8;
  std::chrono::seconds idle_timeout{90};
  std::string user_agent = "mca";
};

// An HTTP/1.1 transport over TLS (https:// servers only) with
// keep-alive and a pool of idle connections per TLS identity (a client
// certificate from an exec plugin can change; bearer tokens do not need a
// new connection). Retries once on a fresh connection when a pooled one
// turns out closed, and once after a 401 with a refreshed credential.
result<std::shared_ptr<transport>> make_https_transport(
    const boost::asio::any_io_executor& executor, const std::string& server,
    tls_settings tls, std::shared_ptr<kube::credential_source> credentials,
    https_options options = {});

}  // namespace mca::http
