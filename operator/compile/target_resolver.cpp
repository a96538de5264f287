#include "operator/compile/target_resolver.hpp"

#include "common/kube/kubeconfig.hpp"
#include "common/util/base64.hpp"

namespace mca::op {

namespace {

error config_error(const cluster_target& t, const std::string& what) {
  return error::of(error_source::config,
                   "ClusterTarget \"" + t.name + "\": " + what);
}

// The credentials object of the table and, from a kubeconfig, its CA and
// server name.
struct resolved_auth {
  nlohmann::json credentials;
  std::string ca_pem;
  std::string tls_server_name;
};

mca::result<resolved_auth> from_kubeconfig(
    const cluster_target& t, const kubeconfig_secret_credentials& ref,
    const target_inputs& in) {
  auto text = secret_value(in.secrets(ref.secret.name), ref.secret.name,
                           ref.secret.key);
  if (!text) return config_error(t, text.error().message);
  const std::string origin = "kubeconfig in Secret \"" + ref.secret.name +
                             "\" key \"" + ref.secret.key + "\"";
  // No base directory: a relative path in a Secret has nothing to be
  // relative to, so it fails to read and the error names it.
  auto config = kube::parse_kubeconfig(
      *text, origin, "/nonexistent-secret-dir",
      ref.context.empty() ? std::nullopt
                          : std::optional<std::string>(ref.context));
  if (!config) return config_error(t, config.error().message);
  const auto& auth = config->auth;
  if (auth.exec) {
    return config_error(t, origin +
                               " uses an exec plugin, which would have to run "
                               "in every pod; use a token or a client "
                               "certificate, or tokenRequest");
  }
  if (!auth.token_file.empty()) {
    return config_error(t, origin + " names a token file (" +
                               auth.token_file.string() +
                               "), which pods do not have; put the token "
                               "itself in the kubeconfig");
  }
  if (!auth.username.empty()) {
    return config_error(t, origin +
                               " uses basic authentication, which MCA does "
                               "not forward; use a token or a client "
                               "certificate");
  }
  resolved_auth out;
  out.ca_pem = config->ca_pem;
  out.tls_server_name = config->tls_server_name;
  if (!auth.token.empty()) {
    out.credentials = {{"token", {{"value", auth.token}}}};
  } else if (!auth.client_cert_pem.empty()) {
    out.credentials = {{"clientCertificate",
                        {{"certData", auth.client_cert_pem},
                         {"keyData", auth.client_key_pem}}}};
  } else {
    return config_error(t, origin + " has no credentials for its user");
  }
  return out;
}

mca::result<resolved_auth> resolve_auth(const cluster_target& t,
                                        const target_inputs& in) {
  return std::visit(
      [&](const auto& c) -> mca::result<resolved_auth> {
        using kind = std::decay_t<decltype(c)>;
        resolved_auth out;
        if constexpr (std::is_same_v<kind, local_target_credentials>) {
          out.credentials = {{"local", nlohmann::json::object()}};
        } else if constexpr (std::is_same_v<kind,
                                            kubeconfig_secret_credentials>) {
          return from_kubeconfig(t, c, in);
        } else if constexpr (std::is_same_v<kind, token_secret_credentials>) {
          auto token = secret_value(in.secrets(c.secret.name), c.secret.name,
                                    c.secret.key);
          if (!token) return config_error(t, token.error().message);
          while (!token->empty() &&
                 (token->back() == '\n' || token->back() == '\r')) {
            token->pop_back();
          }
          out.credentials = {{"token", {{"value", *token}}}};
        } else if constexpr (std::is_same_v<
                                 kind, client_certificate_secret_credentials>) {
          const nlohmann::json* secret = in.secrets(c.secret_name);
          auto cert = secret_value(secret, c.secret_name, "tls.crt");
          if (!cert) return config_error(t, cert.error().message);
          auto key = secret_value(secret, c.secret_name, "tls.key");
          if (!key) return config_error(t, key.error().message);
          out.credentials = {
              {"clientCertificate", {{"certData", *cert}, {"keyData", *key}}}};
        } else {
          if (!in.minted_token) {
            return config_error(t, "no token minted yet for service account " +
                                       c.namespace_name + "/" +
                                       c.service_account);
          }
          out.credentials = {{"token", {{"value", *in.minted_token}}}};
        }
        return out;
      },
      t.credentials);
}

}  // namespace

mca::result<std::string> secret_value(const nlohmann::json* secret,
                                      const std::string& secret_name,
                                      const std::string& key) {
  const std::string where =
      "Secret \"" + secret_name + "\" key \"" + key + "\"";
  if (secret == nullptr) {
    return error::of(error_source::config,
                     "Secret \"" + secret_name +
                         "\" does not exist in the operator's namespace");
  }
  const auto data = secret->find("data");
  if (data == secret->end() || !data->is_object() || !data->contains(key) ||
      !(*data)[key].is_string()) {
    return error::of(error_source::config, where + " is missing");
  }
  auto value = util::base64_decode((*data)[key].get<std::string>());
  if (!value) {
    return error::of(error_source::config, where + " is not valid base64");
  }
  if (value->empty()) {
    return error::of(error_source::config, where + " is empty");
  }
  return *std::move(value);
}

mca::result<nlohmann::json> resolve_target(const cluster_target& target,
                                           const target_inputs& inputs) {
  auto auth = resolve_auth(target, inputs);
  if (!auth) return auth.error();
  nlohmann::json entry{{"name", target.name},
                       {"server", target.server},
                       {"credentials", auth->credentials}};
  std::string ca = target.ca_bundle_pem;
  if (ca.empty() && target.ca_secret) {
    auto pem = secret_value(inputs.secrets(target.ca_secret->name),
                            target.ca_secret->name, target.ca_secret->key);
    if (!pem) return config_error(target, pem.error().message);
    ca = *std::move(pem);
  }
  if (ca.empty()) ca = auth->ca_pem;
  if (target.insecure_skip_tls_verify) {
    entry["insecureSkipTLSVerify"] = true;
  } else if (!ca.empty()) {
    entry["caData"] = ca;
  }
  std::string server_name = target.tls_server_name;
  if (server_name.empty()) server_name = auth->tls_server_name;
  if (!server_name.empty()) entry["tlsServerName"] = server_name;
  // In place: a json converts implicitly to almost anything, the error
  // type included, so plain conversion would be ambiguous.
  return mca::result<nlohmann::json>(boost::system::in_place_value,
                                     std::move(entry));
}

}  // namespace mca::op
