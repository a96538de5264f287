#include "api/route_parser.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace replica_server {
namespace {

using ::testing::HasSubstr;

struct route_case {
  std::string method;
  std::string target;
  int status;  // 0: routed
  endpoint what = endpoint::health;
  std::string ns = {};
  std::string name = {};
};

// GoogleTest finds it by name.
// NOLINTNEXTLINE(readability-identifier-naming)
void PrintTo(const route_case& c, std::ostream* os) {
  *os << c.method << " " << c.target;
}

class RouteParser : public ::testing::TestWithParam<route_case> {};

TEST_P(RouteParser, DecidesTheEndpoint) {
  const auto& c = GetParam();
  const auto r = parse_route(c.method, c.target);
  if (c.status == 0) {
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->what, c.what);
    EXPECT_EQ(r->namespace_name, c.ns);
    EXPECT_EQ(r->name, c.name);
  } else {
    ASSERT_FALSE(r) << to_string(r->what);
    EXPECT_EQ(r.error().status, c.status) << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
  }
}

// A function, not a global std::string: no constructor that may throw
// before main.
std::string replicas_of(const std::string& suffix = "") {
  return "/api/v1/namespaces/prod/deployments/web/replicas" + suffix;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RouteParser,
    ::testing::Values(
        route_case{"GET", "/api/v1/health", 0, endpoint::health},
        route_case{"GET", "/api/v1/deployments", 0, endpoint::list_deployments},
        route_case{"GET", "/api/v1/deployments?watch=1", 0,
                   endpoint::list_deployments},
        route_case{"GET", replicas_of(), 0, endpoint::get_replicas, "prod",
                   "web"},
        route_case{"PUT", replicas_of(), 0, endpoint::set_replicas, "prod",
                   "web"},
        route_case{"GET", replicas_of("?x=1"), 0, endpoint::get_replicas,
                   "prod", "web"},
        route_case{"GET", "/api/v1/namespaces/prod/deployments/web.v2/replicas",
                   0, endpoint::get_replicas, "prod", "web.v2"},
        // Escapes are decoded before the name is checked.
        route_case{"GET", "/api/v1/namespaces/pro%64/deployments/web/replicas",
                   0, endpoint::get_replicas, "prod", "web"},
        // Unknown paths.
        route_case{"GET", "/", 404}, route_case{"GET", "/api/v1", 404},
        route_case{"GET", "/api/v1/", 404},
        route_case{"GET", "/api/v2/health", 404},
        route_case{"GET", "/api/v1/health/", 404},
        route_case{"GET", "/api/v1//health", 404},
        route_case{"GET", "/api/v1/deployments/", 404},
        route_case{"GET", "/api/v1/namespaces/prod/deployments/web", 404},
        route_case{"GET", replicas_of("/"), 404},
        route_case{"GET", "/api/v1/namespaces//deployments/web/replicas", 404},
        route_case{"GET", "/api/v1/a/b/c/d/e/f/g/h/i/j/k", 404},
        route_case{"GET", "api/v1/health", 404},
        // Invalid names.
        route_case{"GET", "/api/v1/namespaces/Prod/deployments/web/replicas",
                   400},
        route_case{"GET", "/api/v1/namespaces/prod/deployments/Web/replicas",
                   400},
        route_case{"GET", "/api/v1/namespaces/a.b/deployments/web/replicas",
                   400},
        route_case{"PUT", "/api/v1/namespaces/prod/deployments/a%2Fb/replicas",
                   400},
        route_case{"GET", "/api/v1/namespaces/prod/deployments/web%/replicas",
                   400},
        route_case{"GET", "/api/v1/namespaces/prod/deployments/web%zz/replicas",
                   400},
        // Methods.
        route_case{"POST", "/api/v1/deployments", 405},
        route_case{"PUT", "/api/v1/health", 405},
        route_case{"DELETE", replicas_of(), 405},
        route_case{"PATCH", replicas_of(), 405},
        route_case{"HEAD", replicas_of(), 405}));

TEST(RouteParserErrors, A405NamesTheAllowedMethods) {
  const auto r = parse_route("DELETE", replicas_of());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().allow, (std::vector<std::string>{"GET", "PUT"}));
  EXPECT_THAT(r.error().message, HasSubstr("use GET or PUT"));
  EXPECT_EQ(parse_route("POST", "/api/v1/health").error().allow,
            (std::vector<std::string>{"GET"}));
}

TEST(RouteParserErrors, AnInvalidNameSaysWhichAndWhy) {
  const auto r =
      parse_route("GET", "/api/v1/namespaces/prod/deployments/Web/replicas");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "invalid deployment name \"Web\": must consist of lower case "
            "alphanumeric characters, '-' or '.', and start and end every "
            "dot-separated part with an alphanumeric character");
}

TEST(RouteParserErrors, ALongPathIsNotEchoedWhole) {
  const std::string target = "/api/v1/" + std::string(5000, 'x');
  const auto r = parse_route("GET", target);
  ASSERT_FALSE(r);
  EXPECT_LT(r.error().message.size(), 200U) << r.error().message;
}

}  // namespace
}  // namespace replica_server
