#include "operator/model/cluster_target.hpp"

#include <nlohmann/json.hpp>

#include "common/util/base64.hpp"
#include "operator/model/json_fields.hpp"

namespace mca::op {

namespace {

secret_key_ref key_ref(const nlohmann::json& node, const std::string& where,
                       const char* default_key) {
  secret_key_ref ref;
  ref.name = required_string_at(node, "name", where);
  ref.key = string_at(node, "key", where).value_or(default_key);
  if (ref.key.empty()) ref.key = default_key;
  return ref;
}

kubeconfig_secret_credentials kubeconfig_ref(const nlohmann::json& node,
                                             const std::string& where) {
  kubeconfig_secret_credentials k;
  k.secret = key_ref(node, where, "kubeconfig");
  k.context = string_at(node, "context", where).value_or("");
  return k;
}

target_credentials parse_credentials(const nlohmann::json& creds) {
  const std::string where = "spec.credentials";
  if (!creds.is_object()) throw field_error{where + ": is required"};
  int kinds = 0;
  for (const char* k : {"local", "secretRef", "tokenSecretRef",
                        "clientCertificateSecretRef", "tokenRequest"}) {
    if (find(creds, k) != nullptr) ++kinds;
  }
  if (kinds != 1) {
    throw field_error{where +
                      ": exactly one of local, secretRef, tokenSecretRef, "
                      "clientCertificateSecretRef, tokenRequest must be set"};
  }
  if (find(creds, "local") != nullptr) return local_target_credentials{};
  if (const auto* n = find(creds, "secretRef")) {
    return kubeconfig_ref(*n, where + ".secretRef");
  }
  if (const auto* n = find(creds, "tokenSecretRef")) {
    return token_secret_credentials{
        key_ref(*n, where + ".tokenSecretRef", "token")};
  }
  if (const auto* n = find(creds, "clientCertificateSecretRef")) {
    return client_certificate_secret_credentials{
        required_string_at(*n, "name", where + ".clientCertificateSecretRef")};
  }
  const nlohmann::json& n = *find(creds, "tokenRequest");
  const std::string at = where + ".tokenRequest";
  token_request_credentials t;
  t.service_account = required_string_at(n, "serviceAccount", at);
  t.namespace_name = required_string_at(n, "namespace", at);
  t.audiences = string_list_at(n, "audiences", at);
  t.expiration_seconds = integer_at(n, "expirationSeconds", at).value_or(3600);
  if (t.expiration_seconds < 600) {
    throw field_error{at + ".expirationSeconds: must be at least 600"};
  }
  if (const auto* m = find(n, "secretRef")) {
    t.minter = kubeconfig_ref(*m, at + ".secretRef");
  }
  return t;
}

}  // namespace

mca::result<cluster_target> parse_cluster_target(const nlohmann::json& object) {
  cluster_target t;
  try {
    const nlohmann::json* metadata = find(object, "metadata");
    if (metadata == nullptr) throw field_error{"metadata: is required"};
    t.name = required_string_at(*metadata, "name", "metadata");
    t.generation = integer_at(*metadata, "generation", "metadata").value_or(0);
    const nlohmann::json* spec = find(object, "spec");
    if (spec == nullptr) throw field_error{"spec: is required"};
    t.server = required_string_at(*spec, "server", "spec");
    if (t.server.rfind("https://", 0) != 0) {
      throw field_error{"spec.server: must be an https:// URL"};
    }
    if (auto ca = string_at(*spec, "caBundle", "spec")) {
      auto pem = util::base64_decode(*ca);
      if (!pem) throw field_error{"spec.caBundle: is not valid base64"};
      t.ca_bundle_pem = std::move(*pem);
    }
    if (const auto* ref = find(*spec, "caSecretRef")) {
      t.ca_secret = key_ref(*ref, "spec.caSecretRef", "ca.crt");
    }
    t.tls_server_name = string_at(*spec, "tlsServerName", "spec").value_or("");
    t.insecure_skip_tls_verify =
        bool_at(*spec, "insecureSkipTLSVerify", "spec");
    t.impersonate = bool_at(*spec, "impersonate", "spec");
    const nlohmann::json* creds = find(*spec, "credentials");
    t.credentials = parse_credentials(creds ? *creds : nlohmann::json());
    if (const auto* allowed = find(*spec, "allowedNamespaces")) {
      if (find(*allowed, "names") != nullptr) {
        t.allowed.names =
            string_list_at(*allowed, "names", "spec.allowedNamespaces");
      }
      if (const auto* sel = find(*allowed, "selector")) {
        t.allowed.selector =
            parse_label_selector(*sel, "spec.allowedNamespaces.selector");
      }
    }
  } catch (const field_error& e) {
    const std::string who =
        t.name.empty() ? "ClusterTarget" : "ClusterTarget \"" + t.name + "\"";
    return error::of(error_source::config, who + ": " + e.message);
  }
  return t;
}

std::vector<std::string> referenced_secrets(const cluster_target& target) {
  std::vector<std::string> out;
  if (target.ca_secret) out.push_back(target.ca_secret->name);
  std::visit(
      [&](const auto& c) {
        using kind = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<kind, kubeconfig_secret_credentials> ||
                      std::is_same_v<kind, token_secret_credentials>) {
          out.push_back(c.secret.name);
        } else if constexpr (std::is_same_v<
                                 kind, client_certificate_secret_credentials>) {
          out.push_back(c.secret_name);
        } else if constexpr (std::is_same_v<kind, token_request_credentials>) {
          if (c.minter) out.push_back(c.minter->secret.name);
        }
      },
      target.credentials);
  return out;
}

}  // namespace mca::op
