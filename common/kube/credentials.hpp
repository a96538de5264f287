#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/core/error.hpp"
#include "common/kube/client_config.hpp"

namespace mca::kube {

// What goes on the wire for one request: a bearer token or basic auth in
// the Authorization header, and/or a client certificate in the handshake.
struct credential {
  std::string bearer_token;
  std::string basic_username;
  std::string basic_password;
  std::string client_cert_pem;
  std::string client_key_pem;
  // When the credential stops being valid (exec plugins, tokens); nullopt
  // means until invalidated.
  std::optional<std::chrono::system_clock::time_point> expiry;
};

// The Authorization header value a credential puts on the wire: "Bearer
// <token>", "Basic <base64(user:password)>", or "" (a client certificate
// only, or anonymous).
std::string authorization_value(const credential& cred);

// Supplies the current credential. Implementations cache and refresh as
// their kind requires (a token file when it changes, an exec plugin before
// expiry). Thread-safe: transports on several threads may call get().
class credential_source {
 public:
  virtual ~credential_source() = default;
  // Blocking (may read a file or run a plugin): call off the I/O thread or
  // accept the short block at connection setup.
  virtual result<credential> get() = 0;
  // The API server answered 401 with the credential of `get()`: drop any
  // cache so the next get() fetches afresh (re-runs the exec plugin).
  virtual void invalidate() = 0;
  // For messages and pool keys, never containing the secret itself: e.g.
  // "token file /var/run/.../token" or "exec plugin /usr/bin/aws".
  virtual std::string describe() const = 0;
};

// Builds the source a config's auth asks for: inline token, token file,
// client certificate, basic auth, exec plugin, or none (anonymous).
std::shared_ptr<credential_source> make_credential_source(
    const client_config& config);

// A bearer token file (config.auth.token_file), re-read when it is
// rotated; `now` is the clock it throttles its checks by (tests inject
// one; empty: the steady clock).
std::shared_ptr<credential_source> make_token_file_source(
    std::filesystem::path path,
    std::function<std::chrono::steady_clock::time_point()> now = {});

// An exec credential plugin (client.authentication.k8s.io v1 / v1beta1):
// runs the command with its args and env (plus KUBERNETES_EXEC_INFO),
// parses the ExecCredential it prints (token or client certificate and
// key), caches it until status.expirationTimestamp, and runs it again after
// invalidate(). A plugin that fails, times out or prints something else is
// an error (source config) naming the command and its stderr's first line.
std::shared_ptr<credential_source> make_exec_credential_source(
    exec_config exec, std::string server);

// Parses a plugin's stdout (pure; exposed for tests).
result<credential> parse_exec_credential(
    const std::string& json_text, const std::string& expected_api_version,
    const std::string& command);

}  // namespace mca::kube
