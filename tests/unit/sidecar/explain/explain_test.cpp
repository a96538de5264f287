#include "sidecar/explain/explain.hpp"

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::sidecar {
namespace {

using ::testing::HasSubstr;

routing::routing_table sample() {
  std::ifstream in(std::string(MCA_SOURCE_DIR) + "/config/samples/routes.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  auto t = routing::routing_table::parse(ss.str(), "routes.yaml");
  EXPECT_TRUE(t) << t.error().message;
  return std::move(*t);
}

std::string run(const explain_input& in) {
  auto text = explain(sample(), in);
  EXPECT_TRUE(text) << text.error().message;
  return text ? *text : "";
}

TEST(Explain, CreateRoutesByTheBodysLabels) {
  auto text =
      run({"POST", "/api/v1/namespaces/team-a/configmaps", "application/json",
           R"({"metadata":{"name":"cm","labels":{"cluster":"east"}}})", ""});
  EXPECT_THAT(text, HasSubstr("verb:        create\n"));
  EXPECT_THAT(text, HasSubstr("name:        cm\n"));
  EXPECT_THAT(text, HasSubstr("labels:      cluster=east (from the body)\n"));
  EXPECT_THAT(text,
              HasSubstr("decision:    route to east (rule east-by-label)\n"));
}

TEST(Explain, GetByNameMustLocate) {
  auto text =
      run({"GET", "/api/v1/namespaces/team-a/configmaps/cm", "", "", ""});
  EXPECT_THAT(text, HasSubstr("labels:      unknown"));
  EXPECT_THAT(text, HasSubstr("decision:    locate among east, west, home"));
}

TEST(Explain, SecretsStayHomeByPathAlone) {
  auto text = run({"GET", "/api/v1/namespaces/team-a/secrets/s", "", "", ""});
  EXPECT_THAT(text,
              HasSubstr("decision:    route to home (rule secrets-stay-home)"));
}

TEST(Explain, RejectRuleAndDefault) {
  auto rejected = run({"DELETE", "/api/v1/namespaces/team-a/pods", "", "", ""});
  EXPECT_THAT(
      rejected,
      HasSubstr("decision:    reject with 403: deleting whole collections"));
  auto discovery = run({"GET", "/apis", "", "", ""});
  EXPECT_THAT(discovery, HasSubstr("(not a resource)"));
  EXPECT_THAT(discovery,
              HasSubstr("decision:    route to home (defaultTarget)"));
}

TEST(Explain, MalformedRequestIsAnError) {
  auto text = explain(sample(), {"GET", "/api/v1/../secrets", "", "", ""});
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().source, error_source::client);
}

TEST(ExplainCli, UsageErrorsExitTwoAndBadRoutesFileExitsOne) {
  std::ostringstream out, err;
  const char* no_args[] = {"explain"};
  EXPECT_EQ(run_explain(1, no_args, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("needs --routes, METHOD and TARGET"));
  const char* missing[] = {"explain", "--routes", "/nonexistent/routes.yaml",
                           "GET", "/api"};
  err.str("");
  EXPECT_EQ(run_explain(5, missing, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("/nonexistent/routes.yaml"));
}

}  // namespace
}  // namespace mca::sidecar
