#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "operator/config/operator_config.hpp"

namespace mca::op {

// Names the injector owns in a pod. A container or volume of the same name
// is taken to be ours (from an earlier injection, or edited since) and
// brought back to what the configuration says.
inline constexpr std::string_view sidecar_container_name = "mca-sidecar";
inline constexpr std::string_view inject_label = "mca.k8s.io/inject";
inline constexpr std::string_view inject_annotation = "mca.k8s.io/inject";
inline constexpr std::string_view status_annotation = "mca.k8s.io/status";

enum class injection_mode {
  webhook,  // only pods labelled mca.k8s.io/inject: "true"
  cli,      // every pod not opted out, labelling it so the operator sees it
};

struct injection_context {
  // operator_address must already be resolved (resolved_operator_address).
  const injection_config& config;
  // The namespace the pod is created in (the admission request's; the pod's
  // own metadata.namespace is often absent at admission).
  std::string namespace_name;
  // The configuration's excluded namespaces plus the operator's own.
  std::vector<std::string> excluded_namespaces;
  std::string version;  // MCA version, recorded in mca.k8s.io/status
  injection_mode mode = injection_mode::webhook;
};

enum class injection_outcome {
  injected,   // `patch` brings the pod to the injected state
  unchanged,  // already injected and intact: `patch` is empty
  skipped,    // not for us (not labelled, opted out, excluded namespace)
  refused,    // for us, but it cannot or must not be injected
};

struct injection_result {
  injection_outcome outcome = injection_outcome::unchanged;
  // Why it was skipped or refused, for a person: refusals name the field
  // ("spec.containers[1].env: must be an array").
  std::string reason;
  nlohmann::json patch = nlohmann::json::array();  // RFC 6902
  // The containers and init containers (not the sidecar) that use the
  // sidecar, in pod order, init containers first; set when injected or
  // unchanged.
  std::vector<std::string> containers;
};

const char* to_string(injection_outcome outcome) noexcept;

// The JSON patch that injects the MCA sidecar into `pod` (a Pod or a pod
// template: anything with metadata and spec), computed against the pod as
// it is so that it only adds, replaces or removes what differs: running it
// again on the patched pod gives `unchanged`, and a pod another webhook has
// altered since is repaired in place, never given a second sidecar.
//
// What the patched pod looks like (ARCHITECTURE.md §5):
// - the sidecar is spec.initContainers[0] with restartPolicy Always (a
//   native sidecar, started before the app's init containers); an
//   mca-sidecar anywhere else (later in initContainers, or in containers) is
//   removed, and a pod whose only container is mca-sidecar is refused;
// - every other container and init container gets KUBERNETES_SERVICE_HOST
//   127.0.0.1 and KUBERNETES_SERVICE_PORT(_HTTPS) 6443 and reads its
//   service-account directory from the sidecar's emptyDir, so in-cluster
//   clients talk to the sidecar; ephemeral containers are left alone;
// - the sidecar's own volumes, and annotation mca.k8s.io/status.
//
// Fields of the sidecar and volumes are compared as "everything we set is
// there with our value": what the API server adds by defaulting
// (terminationMessagePath, protocol, timeoutSeconds...) is not a change.
//
// Pure: no I/O, never throws for any input JSON.
injection_result inject_pod(const nlohmann::json& pod,
                            const injection_context& ctx);

}  // namespace mca::op
