#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mca::kube {

// An exec credential plugin as a kubeconfig user's `exec` stanza names it.
struct exec_config {
  std::string api_version;  // client.authentication.k8s.io/v1 or v1beta1
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;
  bool provide_cluster_info = false;
};

// How to authenticate. Exactly what the kubeconfig (or in-cluster files)
// said; file references are kept as paths where they must be re-read
// (token files rotate), and resolved to PEM where they are read once.
struct auth_config {
  std::string token;                 // inline bearer token
  std::filesystem::path token_file;  // bearer token re-read when it changes
  std::string client_cert_pem;       // from client-certificate(-data)
  std::string client_key_pem;        // from client-key(-data)
  std::string username;              // basic auth
  std::string password;
  std::optional<exec_config> exec;
};

// Everything needed to reach one API server as one identity.
struct client_config {
  std::string server;  // https://host:port, possibly with a path prefix
  std::string ca_pem;  // empty: the system's trust store
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  auth_config auth;
  std::string namespace_name = "default";
  // Where this came from, for error messages: e.g.
  // "kubeconfig /home/me/.kube/config, context east".
  std::string origin;
};

}  // namespace mca::kube
