#include "sidecar/proxy/status_response.hpp"

#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/core/error.hpp"

namespace mca::sidecar {
namespace {

using json = nlohmann::json;

json parsed(const std::string& body) {
  auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << body;
  return j;
}

TEST(StatusJson, IsAKubernetesFailureStatus) {
  const json j = parsed(status_json(404, R"(configmaps "x" not found)"));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.at("kind"), "Status");
  EXPECT_EQ(j.at("apiVersion"), "v1");
  EXPECT_EQ(j.at("metadata"), json::object());
  EXPECT_EQ(j.at("status"), "Failure");
  EXPECT_EQ(j.at("code"), 404);
  EXPECT_TRUE(j.at("code").is_number_integer());
  EXPECT_EQ(j.at("reason"), "NotFound");
  EXPECT_EQ(j.at("message"), R"(configmaps "x" not found)");
}

TEST(StatusJson, AGivenReasonWins) {
  const json j = parsed(status_json(409, "in two clusters", "AlreadyExists"));
  EXPECT_EQ(j.at("code"), 409);
  EXPECT_EQ(j.at("reason"), "AlreadyExists");
  EXPECT_EQ(j.at("message"), "in two clusters");
}

// Only the fields a test sets; the others stay empty.
status_details object(std::string name, std::string group, std::string kind) {
  status_details d;
  d.name = std::move(name);
  d.group = std::move(group);
  d.kind = std::move(kind);
  return d;
}

TEST(StatusJson, DetailsNameTheObject) {
  const json j = parsed(status_json(404, R"(deployments.apps "web" not found)",
                                    "", object("web", "apps", "deployments")));
  EXPECT_EQ(j.at("kind"), "Status");
  EXPECT_EQ(j.at("status"), "Failure");
  EXPECT_EQ(j.at("code"), 404);
  EXPECT_EQ(j.at("reason"), "NotFound");
  EXPECT_EQ(
      j.at("details"),
      json({{"name", "web"}, {"group", "apps"}, {"kind", "deployments"}}));

  // The core group is left out, as the API server leaves it out.
  const json core = parsed(status_json(409, "in two clusters", "Conflict",
                                       object("x", "", "configmaps")));
  EXPECT_EQ(core.at("reason"), "Conflict");
  EXPECT_EQ(core.at("details"), json({{"name", "x"}, {"kind", "configmaps"}}));

  // No details at all: no `details` field, as without them.
  EXPECT_FALSE(
      parsed(status_json(503, "m", "", status_details{})).contains("details"));
  EXPECT_FALSE(parsed(status_json(503, "m")).contains("details"));
}

TEST(StatusJson, ACauseIsOneCausesEntry) {
  status_details d = object("x", "", "configmaps");
  d.cause_field = "metadata.labels";
  d.cause_reason = "FieldValueForbidden";
  d.cause_message = "no rule routes this object";
  const json j = parsed(status_json(422, "configmaps \"x\" is invalid", "", d));
  EXPECT_EQ(j.at("reason"), "Invalid");
  const json& details = j.at("details");
  EXPECT_EQ(details.at("name"), "x");
  EXPECT_EQ(details.at("kind"), "configmaps");
  EXPECT_EQ(details.at("causes"),
            json::array({{{"reason", "FieldValueForbidden"},
                          {"message", "no rule routes this object"},
                          {"field", "metadata.labels"}}}));
  // Without a field there is no cause.
  EXPECT_FALSE(parsed(status_json(422, "m", "", object("x", "", "configmaps")))
                   .at("details")
                   .contains("causes"));
}

TEST(StatusJson, DetailsWithInvalidUtf8DoNotThrow) {
  std::string body;
  ASSERT_NO_THROW(body =
                      status_json(404, "m", "", object("bad\xff", "", "pods")));
  EXPECT_EQ(parsed(body).at("details").at("kind"), "pods");
}

TEST(StatusJson, EscapesTheMessage) {
  const std::string message = "quote \" backslash \\ newline \n tab \t end";
  const json j = parsed(status_json(400, message));
  EXPECT_EQ(j.at("message"), message);
}

TEST(StatusJson, InvalidUtf8InTheMessageDoesNotThrow) {
  const std::string message = "bad path /api/\xff\xfe/x and \xc3";
  std::string body;
  ASSERT_NO_THROW(body = status_json(400, message));
  const json j = parsed(body);
  ASSERT_TRUE(j.contains("message"));
  const auto text = j.at("message").get<std::string>();
  // The invalid bytes are replaced (U+FFFD), the rest kept.
  EXPECT_NE(text.find("bad path /api/"), std::string::npos) << text;
  EXPECT_NE(text.find("/x and "), std::string::npos) << text;
  EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos) << text;
  EXPECT_EQ(text.find('\xff'), std::string::npos) << text;
  EXPECT_EQ(j.at("code"), 400);
  EXPECT_EQ(j.at("reason"), "BadRequest");
}

TEST(StatusReason, Table) {
  struct row {
    int code;
    std::string_view reason;
  };
  constexpr row rows[] = {
      {400, "BadRequest"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "NotFound"},
      {405, "MethodNotAllowed"},
      {409, "Conflict"},
      {410, "Gone"},
      {413, "RequestEntityTooLarge"},
      {415, "UnsupportedMediaType"},
      {422, "Invalid"},
      {429, "TooManyRequests"},
      {431, "BadRequest"},
      {500, "InternalError"},
      {502, "InternalError"},
      {503, "ServiceUnavailable"},
      {504, "Timeout"},
      {418, "BadRequest"},     // any other client error
      {599, "InternalError"},  // any other server error
  };
  for (const row& r : rows) {
    EXPECT_EQ(status_reason_for(r.code), r.reason) << r.code;
    // The body carries the same reason when none is given.
    const json j = parsed(status_json(r.code, "m"));
    EXPECT_EQ(j.at("reason"), r.reason) << r.code;
    EXPECT_EQ(j.at("code"), r.code);
  }
}

TEST(StatusCodeFor, BySource) {
  struct row {
    std::string_view label;
    error e;
    int want;
  };
  const auto with_status = [](error_source source, int code) {
    error e = error::of(source, "request body too large");
    e.status.code = code;
    return e;
  };
  const row rows[] = {
      {"client", error::of(error_source::client, "bad path"), 400},
      {"client_with_413", with_status(error_source::client, 413), 413},
      {"client_with_431", with_status(error_source::client, 431), 431},
      // Only an HTTP error code counts as the error's own status.
      {"client_with_200", with_status(error_source::client, 200), 400},
      {"client_with_600", with_status(error_source::client, 600), 400},
      {"config", error::of(error_source::config, "target \"east\": no CA"),
       502},
      {"transport_refused",
       error::of(error_source::transport,
                 "connect to east.example:6443: Connection refused"),
       503},
      {"transport_reset",
       error::of(error_source::transport, "read: connection reset by peer"),
       503},
      {"transport_timed_out",
       error::of(error_source::transport,
                 "connect to east.example:6443 timed out after 5s"),
       504},
      {"transport_tls",
       error::of(error_source::transport,
                 "TLS handshake with east.example:6443 failed: "
                 "certificate verify failed"),
       502},
      {"api", error::of(error_source::api, "the server said no"), 502},
      {"decode", error::of(error_source::decode, "malformed response"), 502},
      {"internal", error::of(error_source::internal, "out of memory"), 500},
  };
  for (const row& r : rows) {
    EXPECT_EQ(status_code_for(r.e), r.want) << r.label;
  }
}

}  // namespace
}  // namespace mca::sidecar
