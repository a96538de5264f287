#pragma once

#include <filesystem>

#include "common/core/error.hpp"
#include "common/kube/client_config.hpp"
#include "common/routing/routing_table.hpp"

namespace mca::routing {

// Where `local` credentials come from: the sidecar's own service-account
// directory (its projected token and the cluster's CA), not the emptyDir it
// writes for the app.
struct local_identity {
  std::filesystem::path service_account_dir =
      "/var/run/secrets/kubernetes.io/serviceaccount";
};

// How to reach one target: its server and TLS settings from the spec, and
// its credentials resolved to what the kube client understands. Reads the
// files the spec names (CA, client certificate, kubeconfig) once; a token
// file, local or given, stays a path so its rotation is picked up.
//
// The CA is the spec's caFile/caData, else the kubeconfig cluster's CA (for
// kubeconfig credentials) or the local service account's ca.crt (for local
// credentials), else the system trust store. Errors (source config) name the
// target and the file.
mca::result<kube::client_config> client_config_for(const target_spec& target,
                                                   const local_identity& local);

}  // namespace mca::routing
