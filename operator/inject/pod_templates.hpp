#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mca::op {

// Where a Kubernetes object keeps the pod it runs (or stamps out).
struct pod_template_ref {
  // JSON pointer to the pod-like object (metadata + spec): "" for a Pod,
  // "/template" for a PodTemplate, "/spec/template" for workloads,
  // "/spec/jobTemplate/spec/template" for a CronJob.
  std::string pointer;
  // The object's metadata.namespace (empty when it has none): pods made from
  // a template live where the object does.
  std::string namespace_name;
};

// Pod, PodTemplate, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
// ReplicationController and CronJob by kind (even when the template itself
// is missing, so the caller can say so); any other kind when it has
// .spec.template.spec.containers (Argo Rollouts, OpenKruise...). nullopt for
// everything else. Pure.
std::optional<pod_template_ref> find_pod_template(const nlohmann::json& object);

}  // namespace mca::op
