#include "operator/inject/pod_templates.hpp"

#include <string>

#include <gtest/gtest.h>

namespace mca::op {
namespace {

using json = nlohmann::json;

json object(const std::string& kind, json spec = json::object()) {
  return {{"apiVersion", "x/v1"},
          {"kind", kind},
          {"metadata", {{"name", "n"}, {"namespace", "team-a"}}},
          {"spec", std::move(spec)}};
}

TEST(PodTemplates, FindsThePodOfEveryBuiltInKind) {
  const auto pod = find_pod_template(object("Pod"));
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->pointer, "");
  EXPECT_EQ(pod->namespace_name, "team-a");
  for (const char* kind : {"Deployment", "ReplicaSet", "StatefulSet",
                           "DaemonSet", "Job", "ReplicationController"}) {
    const auto ref = find_pod_template(object(kind));
    ASSERT_TRUE(ref) << kind;
    EXPECT_EQ(ref->pointer, "/spec/template") << kind;
    EXPECT_EQ(ref->namespace_name, "team-a");
  }
  EXPECT_EQ(find_pod_template(object("CronJob"))->pointer,
            "/spec/jobTemplate/spec/template");
  json pod_template = object("PodTemplate");
  pod_template.erase("spec");
  pod_template["template"] = {{"spec", {{"containers", json::array()}}}};
  EXPECT_EQ(find_pod_template(pod_template)->pointer, "/template");
}

TEST(PodTemplates, FindsTemplatesOfOtherKindsByShape) {
  const json rollout = object(
      "Rollout",
      {{"template",
        {{"spec", {{"containers", json::array({json{{"name", "a"}}})}}}}}});
  const auto ref = find_pod_template(rollout);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->pointer, "/spec/template");
  // Something called a template that holds no pod is not one.
  EXPECT_FALSE(find_pod_template(
      object("Widget", {{"template", {{"spec", {{"containers", "x"}}}}}})));
  EXPECT_FALSE(find_pod_template(object("Widget", {{"template", "x"}})));
}

TEST(PodTemplates, OtherObjectsHaveNone) {
  EXPECT_FALSE(find_pod_template(object("ConfigMap")));
  EXPECT_FALSE(
      find_pod_template(object("Service", {{"ports", json::array()}})));
  EXPECT_FALSE(find_pod_template(json::array()));
  EXPECT_FALSE(find_pod_template(json("Pod")));
  EXPECT_FALSE(find_pod_template(json{{"kind", 3}}));
  const auto no_namespace = find_pod_template(json{{"kind", "Pod"}});
  ASSERT_TRUE(no_namespace);
  EXPECT_EQ(no_namespace->namespace_name, "");
}

}  // namespace
}  // namespace mca::op
