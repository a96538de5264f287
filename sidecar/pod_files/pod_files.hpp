#pragma once

#include <filesystem>
#include <string>

#include "common/core/error.hpp"

namespace mca::sidecar {

// What a Kubernetes client reads from its service-account directory
// (/var/run/secrets/kubernetes.io/serviceaccount). The sidecar writes its
// own versions into a shared emptyDir mounted there in the app container,
// so the app's in-cluster config trusts and talks to the sidecar.
struct pod_files {
  std::string ca_crt;          // PEM of the sidecar's CA
  std::string namespace_name;  // the pod's namespace
  std::string token;           // see make_placeholder_token
};

// Writes `namespace`, `token` and `ca.crt` into `dir` (created if missing),
// each atomically, in that order: a client that finds ca.crt finds the other
// two, and never reads a half-written file. Errors name the file.
mca::result<void> write_pod_files(const std::filesystem::path& dir,
                                  const pod_files& files);

// "mca-sidecar." and 43 base64url characters (256 random bits). NOT a
// credential: the sidecar drops whatever Authorization the app sends and
// authenticates to each cluster with its own credentials. It exists because
// client libraries refuse an in-cluster config without a token; it is random
// only so that it can never be mistaken for, or collide with, a real one.
std::string make_placeholder_token();

}  // namespace mca::sidecar
