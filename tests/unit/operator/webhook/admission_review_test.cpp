#include "operator/webhook/admission_review.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/util/base64.hpp"

namespace mca::op {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// What the API server sends for `kubectl run` of a Pod, trimmed to the
// fields the webhook reads plus a few it must tolerate.
json pod_review() {
  return json::parse(R"({
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {
      "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
      "kind": {"group": "", "version": "v1", "kind": "Pod"},
      "resource": {"group": "", "version": "v1", "resource": "pods"},
      "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
      "namespace": "shop",
      "name": "",
      "operation": "CREATE",
      "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                   "uid": "u-1", "groups": ["system:serviceaccounts"]},
      "object": {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"generateName": "web-", "namespace": "shop"},
                 "spec": {"containers": [{"name": "app", "image": "nginx"}]}},
      "oldObject": null,
      "dryRun": false,
      "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    }
  })");
}

TEST(AdmissionReview, ReadsAPodCreate) {
  const auto parsed = parse_admission_review(pod_review().dump());
  ASSERT_TRUE(parsed) << parsed.error().error.message;
  const admission_request& r = *parsed;
  EXPECT_EQ(r.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(r.operation, "CREATE");
  EXPECT_EQ(r.namespace_name, "shop");
  EXPECT_EQ(r.name, "");
  EXPECT_EQ(r.kind_group, "");
  EXPECT_EQ(r.kind_version, "v1");
  EXPECT_EQ(r.kind_kind, "Pod");
  EXPECT_EQ(r.resource, "pods");
  EXPECT_EQ(r.sub_resource, "");
  EXPECT_FALSE(r.dry_run);
  EXPECT_EQ(r.user, "system:serviceaccount:kube-system:replicaset-controller");
  EXPECT_EQ(r.object, pod_review()["request"]["object"]);
  EXPECT_TRUE(r.old_object.is_null());
}

TEST(AdmissionReview, ReadsDryRunAndSubResource) {
  json doc = pod_review();
  doc["request"]["dryRun"] = true;
  doc["request"]["operation"] = "UPDATE";
  doc["request"]["name"] = "web-1";
  doc["request"]["subResource"] = "ephemeralcontainers";
  doc["request"]["oldObject"] = json{{"kind", "Pod"}};
  const auto parsed = parse_admission_review(doc.dump());
  ASSERT_TRUE(parsed) << parsed.error().error.message;
  EXPECT_TRUE(parsed->dry_run);
  EXPECT_EQ(parsed->operation, "UPDATE");
  EXPECT_EQ(parsed->name, "web-1");
  EXPECT_EQ(parsed->sub_resource, "ephemeralcontainers");
  EXPECT_EQ(parsed->old_object, json({{"kind", "Pod"}}));
}

TEST(AdmissionReview, ADeleteHasNoObject) {
  json doc = pod_review();
  doc["request"]["operation"] = "DELETE";
  doc["request"].erase("object");
  const auto parsed = parse_admission_review(doc.dump());
  ASSERT_TRUE(parsed) << parsed.error().error.message;
  EXPECT_TRUE(parsed->object.is_null());
}

struct refusal_case {
  const char* name;
  std::string body;
  std::string message;  // a part of the error message
  std::string uid;      // the uid the error keeps
};

std::string edited(void (*edit)(json&)) {
  json doc = pod_review();
  edit(doc);
  return doc.dump();
}

constexpr const char* pod_uid = "705ab4f5-6393-11e8-b7cc-42010a800002";

TEST(AdmissionReview, RefusesWhatItCannotAnswerSayingWhy) {
  const std::vector<refusal_case> cases = {
      {"empty", "", "has no body", ""},
      {"blank", " \n", "has no body", ""},
      {"not json", "hello", "not JSON (syntax error at byte 1)", ""},
      {"truncated", pod_review().dump().substr(0, 40), "not JSON", ""},
      {"not an object", "[1,2]", "not an object", ""},
      {"v1beta1",
       edited([](json& d) { d["apiVersion"] = "admission.k8s.io/v1beta1"; }),
       "has apiVersion \"admission.k8s.io/v1beta1\"; this webhook speaks only "
       "admission.k8s.io/v1: set admissionReviewVersions: [\"v1\"]",
       pod_uid},
      {"no apiVersion", edited([](json& d) { d.erase("apiVersion"); }),
       "has no apiVersion", pod_uid},
      {"wrong kind", edited([](json& d) { d["kind"] = "Pod"; }),
       "its kind is \"Pod\", not AdmissionReview", pod_uid},
      {"no request", edited([](json& d) { d.erase("request"); }),
       "has no request", ""},
      {"request not an object", edited([](json& d) { d["request"] = 7; }),
       "request is not an object", ""},
      {"no uid", edited([](json& d) { d["request"].erase("uid"); }),
       "request has no uid", ""},
      {"empty uid", edited([](json& d) { d["request"]["uid"] = ""; }),
       "request.uid: must be a non-empty string", ""},
      {"uid not a string", edited([](json& d) { d["request"]["uid"] = 42; }),
       "request.uid: must be a non-empty string", ""},
      {"no operation", edited([](json& d) { d["request"].erase("operation"); }),
       "request.operation: is required", pod_uid},
      {"dryRun not a boolean",
       edited([](json& d) { d["request"]["dryRun"] = "yes"; }),
       "request.dryRun: must be a boolean", pod_uid},
      {"kind not an object",
       edited([](json& d) { d["request"]["kind"] = "Pod"; }),
       "request.kind: must be an object", pod_uid},
      {"namespace not a string",
       edited([](json& d) { d["request"]["namespace"] = json::array(); }),
       "request.namespace: must be a string", pod_uid},
      {"username not a string",
       edited([](json& d) { d["request"]["userInfo"]["username"] = 1; }),
       "request.userInfo.username: must be a string", pod_uid},
      {"too deep",
       std::string(max_admission_json_depth + 1, '[') +
           std::string(max_admission_json_depth + 1, ']'),
       "nested deeper than 128 levels", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto parsed = parse_admission_review(c.body);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().error.source, error_source::client);
    EXPECT_THAT(parsed.error().error.message, HasSubstr(c.message));
    EXPECT_EQ(parsed.error().uid, c.uid);
  }
}

TEST(AdmissionReview, BracketsInsideStringsDoNotCountAsDepth) {
  json doc = pod_review();
  doc["request"]["object"]["metadata"]["annotations"] = {
      {"note", std::string(1000, '[') + "\\\"{"}};
  const auto parsed = parse_admission_review(doc.dump());
  ASSERT_TRUE(parsed) << parsed.error().error.message;
}

TEST(AdmissionReview, ValueOfARefusalThrowsItsError) {
  const auto parsed = parse_admission_review("nope");
  try {
    (void)parsed.value();
    FAIL() << "value() returned";
  } catch (const error_exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("not JSON"));
  }
}

TEST(AdmissionReview, AllowedWithAPatchCarriesItAsBase64JsonPatch) {
  const json patch = json::parse(
      R"([{"op":"add","path":"/metadata/annotations","value":{"a":"b"}}])");
  const json out =
      json::parse(admission_allowed("uid-1", &patch, {"sidecar added"}));
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(out["kind"], "AdmissionReview");
  const json& response = out["response"];
  EXPECT_EQ(response["uid"], "uid-1");
  EXPECT_EQ(response["allowed"], true);
  EXPECT_EQ(response["patchType"], "JSONPatch");
  const auto decoded =
      util::base64_decode(response["patch"].get<std::string>());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, patch.dump());  // compact
  EXPECT_EQ(json::parse(*decoded), patch);
  EXPECT_EQ(response["warnings"], json::array({"sidecar added"}));
}

TEST(AdmissionReview, AllowedWithoutAPatchHasNoPatchFields) {
  const json empty = json::array();
  for (const json* patch : {static_cast<const json*>(nullptr), &empty}) {
    const json out = json::parse(admission_allowed("uid-2", patch, {}));
    const json& response = out["response"];
    EXPECT_EQ(response["uid"], "uid-2");
    EXPECT_EQ(response["allowed"], true);
    EXPECT_FALSE(response.contains("patch"));
    EXPECT_FALSE(response.contains("patchType"));
    EXPECT_FALSE(response.contains("warnings"));
  }
}

TEST(AdmissionReview, DeniedCarriesAFailureStatus) {
  const json out = json::parse(admission_denied(
      "uid-3", 403, "Forbidden", "pods with hostNetwork cannot be injected"));
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(out["kind"], "AdmissionReview");
  const json& response = out["response"];
  EXPECT_EQ(response["uid"], "uid-3");
  EXPECT_EQ(response["allowed"], false);
  EXPECT_FALSE(response.contains("patch"));
  EXPECT_EQ(response["status"],
            json({{"code", 403},
                  {"reason", "Forbidden"},
                  {"message", "pods with hostNetwork cannot be injected"},
                  {"status", "Failure"}}));
}

TEST(AdmissionReview, DeniedNeverThrowsOnBytesThatAreNotUtf8) {
  std::string out;
  ASSERT_NO_THROW(out = admission_denied("", 0, "", "bad \xff byte"));
  const json doc = json::parse(out);
  EXPECT_THAT(doc["response"]["status"]["message"].get<std::string>(),
              HasSubstr("bad "));
  EXPECT_FALSE(doc["response"]["status"].contains("code"));
  EXPECT_FALSE(doc["response"]["status"].contains("reason"));
  EXPECT_THAT(out, Not(HasSubstr("\xff")));
}

}  // namespace
}  // namespace mca::op
