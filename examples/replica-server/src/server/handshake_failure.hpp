#pragma once

#include <string>
#include <string_view>

#include "server/mtls_context.hpp"

namespace replica_server {

// Why a client's TLS handshake was refused, in words an operator reading
// the log understands (pure). `verify` is what the verify callback
// recorded (code 0: the chain was not the problem); `tls_reason` is the
// handshake's error text (OpenSSL's reason, or Asio's for a timeout or a
// closed connection). Examples:
//   client certificate refused: certificate has expired (subject
//     "CN=replica-client-expired", issuer "CN=replica-server-ca", depth 0,
//     valid from Jan  1 00:00:00 2020 GMT to Jan  2 00:00:00 2020 GMT)
//   no client certificate presented
//   the client does not offer TLS 1.3 (unsupported protocol)
std::string describe_refusal(const verify_failure& verify,
                             std::string_view tls_reason);

}  // namespace replica_server
