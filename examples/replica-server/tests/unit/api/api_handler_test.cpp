#include "api/api_handler.hpp"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace replica_server {
namespace {

namespace asio = boost::asio;

// The cache as a map, synced or not.
class fake_cache final : public deployment_reader {
 public:
  bool synced() const override { return synced_; }
  std::string sync_problem() const override { return "first list running"; }
  std::optional<deployment_summary> find(
      const std::string& ns, const std::string& name) const override {
    auto it = items_.find(ns + "/" + name);
    if (it == items_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<deployment_summary> list() const override {
    std::vector<deployment_summary> out;
    for (const auto& [key, d] : items_) out.push_back(d);
    return out;
  }

  void add(const deployment_summary& d) {
    items_[d.namespace_name + "/" + d.name] = d;
  }
  bool synced_ = true;

 private:
  std::map<std::string, deployment_summary> items_;
};

// Records what it was asked to write and answers as told.
class fake_writer final : public replica_writer {
 public:
  asio::awaitable<api_result<void>> set_replicas(std::string ns,
                                                 std::string name,
                                                 std::int32_t count) override {
    calls.push_back(ns + "/" + name + "=" + std::to_string(count));
    if (failure) co_return *failure;
    co_return api_result<void>{};
  }
  std::vector<std::string> calls;
  std::optional<api_error> failure;
};

class fake_health final : public health_checker {
 public:
  asio::awaitable<health_report> check() override { co_return report; }
  health_report report{true, ""};
};

class ApiHandler : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_.add({"prod", "web", 3});
    cache_.add({"dev", "api", 1});
  }

  api_reply handle(std::string method, std::string target,
                   std::string body = "",
                   std::string content_type = "application/json") {
    api_request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.content_type = std::move(content_type);
    asio::io_context io;
    auto reply =
        asio::co_spawn(io, api_.handle(std::move(req)), asio::use_future);
    io.run();
    return reply.get();
  }

  fake_cache cache_;
  fake_writer writer_;
  fake_health health_;
  api_handler api_{cache_, writer_, health_};
};

constexpr const char* web = "/api/v1/namespaces/prod/deployments/web/replicas";

TEST_F(ApiHandler, GetReplicasReadsTheCache) {
  const auto r = handle("GET", web);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"namespace":"prod","name":"web","replicaCount":3})");
  EXPECT_TRUE(writer_.calls.empty());
}

TEST_F(ApiHandler, AnUncachedDeploymentIs404) {
  const auto r =
      handle("GET", "/api/v1/namespaces/prod/deployments/nope/replicas");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"deployment prod/nope not found"})");
}

TEST_F(ApiHandler, ListReadsTheCache) {
  const auto r = handle("GET", "/api/v1/deployments");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"([{"namespace":"dev","name":"api","replicaCount":1},)"
                    R"({"namespace":"prod","name":"web","replicaCount":3}])");
}

TEST_F(ApiHandler, ReadsWaitForTheFirstListWith503) {
  cache_.synced_ = false;
  for (const auto* target : {"/api/v1/deployments", web}) {
    const auto r = handle("GET", target);
    EXPECT_EQ(r.status, 503) << target;
    EXPECT_EQ(
        r.body,
        R"({"error":"the deployment cache is not synced yet (first list running); retry shortly"})");
    ASSERT_EQ(r.headers.size(), 1U);
    EXPECT_EQ(r.headers[0].name, "Retry-After");
  }
}

TEST_F(ApiHandler, PutWritesThroughTheWriter) {
  const auto r = handle("PUT", web, R"({"replicaCount": 5})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"message":"Replica count updated successfully."})");
  EXPECT_EQ(writer_.calls, std::vector<std::string>{"prod/web=5"});
}

// A write is not checked against the cache: a Deployment created a moment
// ago may not be cached yet, and the API server knows best.
TEST_F(ApiHandler, PutOfAnUncachedDeploymentStillAsksTheApi) {
  writer_.failure = api_error::of(404, "deployment prod/new not found");
  const auto r =
      handle("PUT", "/api/v1/namespaces/prod/deployments/new/replicas",
             R"({"replicaCount": 1})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"deployment prod/new not found"})");
  EXPECT_EQ(writer_.calls, std::vector<std::string>{"prod/new=1"});
}

TEST_F(ApiHandler, AnInvalidBodyNeverReachesTheWriter) {
  EXPECT_EQ(handle("PUT", web, R"({"replicaCount": -2})").status, 400);
  EXPECT_EQ(handle("PUT", web, R"({"replicaCount": 1})", "text/plain").status,
            415);
  EXPECT_TRUE(writer_.calls.empty());
}

TEST_F(ApiHandler, WriterFailuresKeepTheirStatus) {
  writer_.failure = api_error::of(503, "the Kubernetes API is unreachable");
  const auto r = handle("PUT", web, R"({"replicaCount": 2})");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"error":"the Kubernetes API is unreachable"})");
}

TEST_F(ApiHandler, Health) {
  auto r = handle("GET", "/api/v1/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"healthy","kubernetes":"connected"})");
  health_.report = {false, "the Kubernetes API is not reachable: refused"};
  r = handle("GET", "/api/v1/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(
      r.body,
      R"({"status":"unhealthy","error":"the Kubernetes API is not reachable: refused"})");
}

TEST_F(ApiHandler, RoutingErrorsAreErrorReplies) {
  auto r = handle("GET", "/api/v1/nope");
  EXPECT_EQ(r.status, 404);
  r = handle("DELETE", web);
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1U);
  EXPECT_EQ(r.headers[0].value, "GET, PUT");
}

TEST(AnswerRead, IsPure) {
  fake_cache cache;
  cache.add({"a", "b", 0});
  route r;
  r.what = endpoint::get_replicas;
  r.namespace_name = "a";
  r.name = "b";
  EXPECT_EQ(answer_read(r, cache).body,
            R"({"namespace":"a","name":"b","replicaCount":0})");
}

}  // namespace
}  // namespace replica_server
