// The /mutate handler over plain AdmissionReview bodies: what it answers and
// what it asks of the CA manager. The ensure hook is a recording test
// double for the ConfigMap write (the real one is covered against an API
// server in tests/integration/operator/webhook_test.cpp).
#include "operator/webhook/injection_webhook.hpp"

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/util/base64.hpp"

namespace mca::op {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;
using json = nlohmann::json;

json review(json object, bool dry_run = false,
            std::string operation = "CREATE") {
  return json{
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "uid-1"},
        {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
        {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
        {"operation", operation},
        {"namespace", "team-a"},
        {"name", "p"},
        {"dryRun", dry_run},
        {"userInfo", {{"username", "alice"}}},
        {"object", std::move(object)}}}};
}

json labelled_pod() {
  return json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", "p"}, {"labels", {{"mca.k8s.io/inject", "true"}}}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "a"}}}}}}};
}

class InjectionWebhook : public ::testing::Test {
 protected:
  injection_webhook make(bool ensure_fails = false) {
    return injection_webhook(
        injection_context{config_,
                          {},
                          {"kube-system"},
                          "0.0.0-test",
                          injection_mode::webhook},
        injection_webhook_hooks{
            [this,
             ensure_fails](std::string ns) -> asio::awaitable<result<void>> {
              ensured_.push_back(ns);
              if (ensure_fails) {
                co_return error::of(error_source::api,
                                    "cannot write ConfigMap team-a/"
                                    "mca-ca-bundle: forbidden");
              }
              co_return result<void>();
            },
            [this](admission_result r, std::chrono::nanoseconds) {
              results_.push_back(r);
            }});
  }

  webhook_http_reply call(injection_webhook& w, std::string body,
                          std::string method = "POST") {
    asio::io_context io;
    webhook_http_request req{std::move(method), "/mutate?timeout=10s",
                             "application/json", std::move(body)};
    auto f = asio::co_spawn(io, w.handle(std::move(req)), asio::use_future);
    io.run();
    return f.get();
  }

  static json response_of(const webhook_http_reply& reply) {
    EXPECT_EQ(reply.status, 200u);
    json r = json::parse(reply.body, nullptr, false);
    EXPECT_TRUE(r.is_object()) << reply.body;
    return r.is_object() ? r["response"] : json();
  }

  injection_config config_;
  std::vector<std::string> ensured_;
  std::vector<admission_result> results_;
};

TEST_F(InjectionWebhook, InjectsALabelledPodAndEnsuresItsNamespaceBundle) {
  auto w = make();
  json r = response_of(call(w, review(labelled_pod()).dump()));
  EXPECT_EQ(r["uid"], "uid-1");
  EXPECT_EQ(r["allowed"], true);
  EXPECT_EQ(r["patchType"], "JSONPatch");
  auto patch = util::base64_decode(r["patch"].get<std::string>());
  ASSERT_TRUE(patch);
  json patched = labelled_pod().patch(json::parse(*patch));
  EXPECT_EQ(patched["spec"]["initContainers"][0]["name"], "mca-sidecar");
  EXPECT_EQ(ensured_, std::vector<std::string>{"team-a"});
  EXPECT_EQ(results_,
            std::vector<admission_result>{admission_result::injected});
}

TEST_F(InjectionWebhook, ADryRunIsInjectedWithoutWritingTheConfigMap) {
  auto w = make();
  json r = response_of(call(w, review(labelled_pod(), true).dump()));
  EXPECT_EQ(r["allowed"], true);
  EXPECT_TRUE(r.contains("patch"));
  EXPECT_TRUE(ensured_.empty());
}

TEST_F(InjectionWebhook, AnUnlabelledPodIsAllowedUnchanged) {
  auto w = make();
  json pod = labelled_pod();
  pod["metadata"].erase("labels");
  json r = response_of(call(w, review(pod).dump()));
  EXPECT_EQ(r["allowed"], true);
  EXPECT_FALSE(r.contains("patch"));
  EXPECT_TRUE(ensured_.empty());
  EXPECT_EQ(results_, std::vector<admission_result>{admission_result::skipped});
}

TEST_F(InjectionWebhook, AnUpdateIsAllowedUntouched) {
  auto w = make();
  json r = response_of(call(w, review(labelled_pod(), false, "UPDATE").dump()));
  EXPECT_EQ(r["allowed"], true);
  EXPECT_FALSE(r.contains("patch"));
}

TEST_F(InjectionWebhook, AHostNetworkPodIsDeniedWithTheReason) {
  auto w = make();
  json pod = labelled_pod();
  pod["spec"]["hostNetwork"] = true;
  json r = response_of(call(w, review(pod).dump()));
  EXPECT_EQ(r["allowed"], false);
  EXPECT_EQ(r["status"]["code"], 400);
  EXPECT_THAT(r["status"]["message"].get<std::string>(),
              HasSubstr("hostNetwork"));
  EXPECT_TRUE(ensured_.empty());
  EXPECT_EQ(results_, std::vector<admission_result>{admission_result::refused});
}

TEST_F(InjectionWebhook, APodThatCannotBePatchedIsDeniedNamingTheField) {
  auto w = make();
  json pod = labelled_pod();
  pod["spec"]["containers"][0]["env"] = "not-a-list";
  json r = response_of(call(w, review(pod).dump()));
  EXPECT_EQ(r["allowed"], false);
  EXPECT_THAT(r["status"]["message"].get<std::string>(),
              HasSubstr("spec.containers[0].env"));
}

TEST_F(InjectionWebhook, AnUnparsableReviewIsDeniedNotA500) {
  auto w = make();
  auto reply = call(w, "{not json");
  json r = response_of(reply);
  EXPECT_EQ(r["allowed"], false);
  EXPECT_EQ(r["status"]["code"], 400);
  EXPECT_FALSE(r["status"]["message"].get<std::string>().empty());
  EXPECT_EQ(results_, std::vector<admission_result>{admission_result::error});
}

TEST_F(InjectionWebhook, AConfigMapThatCannotBeWrittenDeniesWithTheCause) {
  auto w = make(true);
  json r = response_of(call(w, review(labelled_pod()).dump()));
  EXPECT_EQ(r["allowed"], false);
  EXPECT_THAT(r["status"]["message"].get<std::string>(),
              HasSubstr("mca-ca-bundle: forbidden"));
}

TEST_F(InjectionWebhook, OnlyPostIsServed) {
  auto w = make();
  auto reply = call(w, "", "GET");
  EXPECT_EQ(reply.status, 405u);
}

TEST_F(InjectionWebhook, TheFailureReplyIsADeniedReviewWithTheRequestsUid) {
  webhook_http_request req{"POST", "/mutate", "application/json",
                           review(labelled_pod()).dump()};
  auto reply = injection_webhook::failure_reply(req, "handler timed out");
  json r = response_of(reply);
  EXPECT_EQ(r["uid"], "uid-1");
  EXPECT_EQ(r["allowed"], false);
  EXPECT_THAT(r["status"]["message"].get<std::string>(),
              HasSubstr("handler timed out"));
}

}  // namespace
}  // namespace mca::op
