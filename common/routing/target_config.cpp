#include "common/routing/target_config.hpp"

#include <string>
#include <type_traits>
#include <utility>

#include "common/kube/kubeconfig.hpp"
#include "common/util/strings.hpp"
#include "common/util/text_file.hpp"

namespace mca::routing {
namespace {

mca::result<std::string> read_file(const std::string& target,
                                   const std::string& what,
                                   const std::filesystem::path& path) {
  auto text = util::read_text_file(path);
  if (!text) {
    return error::of(
        error_source::config,
        "target " + quote(target) + ": " + what + ": " + text.error().message);
  }
  return text;
}

}  // namespace

mca::result<kube::client_config> client_config_for(
    const target_spec& target, const local_identity& local) {
  kube::client_config config;
  config.server = target.server;
  config.tls_server_name = target.tls_server_name;
  config.insecure_skip_tls_verify = target.insecure_skip_tls_verify;
  config.origin = "target " + quote(target.name);
  if (!target.ca_data.empty()) {
    config.ca_pem = target.ca_data;
  } else if (!target.ca_file.empty()) {
    auto ca = read_file(target.name, "caFile", target.ca_file);
    if (!ca) return ca.error();
    config.ca_pem = std::move(*ca);
    config.origin += " caFile " + target.ca_file;
  }

  auto resolved = std::visit(
      [&](const auto& c) -> mca::result<void> {
        using kind = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<kind, local_credentials>) {
          config.auth.token_file = local.service_account_dir / "token";
          if (config.ca_pem.empty() && !config.insecure_skip_tls_verify) {
            auto ca = read_file(target.name, "the local service account's CA",
                                local.service_account_dir / "ca.crt");
            if (!ca) return ca.error();
            config.ca_pem = std::move(*ca);
            config.origin += " (local service account)";
          }
        } else if constexpr (std::is_same_v<kind, token_credentials>) {
          if (!c.file.empty()) {
            config.auth.token_file = c.file;
          } else {
            config.auth.token = c.value;
          }
        } else if constexpr (std::is_same_v<kind,
                                            client_certificate_credentials>) {
          if (!c.cert_data.empty()) {
            config.auth.client_cert_pem = c.cert_data;
            config.auth.client_key_pem = c.key_data;
            return {};
          }
          auto cert = read_file(target.name, "client certificate", c.cert_file);
          if (!cert) return cert.error();
          auto key = read_file(target.name, "client key", c.key_file);
          if (!key) return key.error();
          config.auth.client_cert_pem = std::move(*cert);
          config.auth.client_key_pem = std::move(*key);
        } else {
          kube::kubeconfig_options options;
          options.files = {c.file};
          if (!c.context.empty()) options.context = c.context;
          auto kc = kube::load_kubeconfig(options);
          if (!kc) {
            return error::of(error_source::config,
                             "target " + quote(target.name) +
                                 " credentials: " + kc.error().message);
          }
          config.auth = std::move(kc->auth);
          if (config.ca_pem.empty() && target.ca_file.empty()) {
            config.ca_pem = std::move(kc->ca_pem);
            config.origin += " (CA of " + kc->origin + ")";
          }
        }
        return {};
      },
      target.credentials);
  if (!resolved) return resolved.error();
  return config;
}

}  // namespace mca::routing
