#include "sidecar/proxy/locate.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::sidecar {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using kind = locate_outcome::kind;
using outcome = probe_result::outcome;

probe_result found(const std::string& target) {
  return {target, outcome::found, ""};
}
probe_result missing(const std::string& target) {
  return {target, outcome::not_found, ""};
}
probe_result failed(const std::string& target, const std::string& why) {
  return {target, outcome::failed, "target \"" + target + "\": " + why};
}

const char* to_string(kind k) {
  switch (k) {
    case kind::found:
      return "found";
    case kind::not_found:
      return "not_found";
    case kind::ambiguous:
      return "ambiguous";
    case kind::unavailable:
      return "unavailable";
  }
  return "?";
}

TEST(DecideLocation, Table) {
  struct row {
    std::string label;
    std::vector<probe_result> probes;
    kind want;
    std::string target;                // found
    std::vector<std::string> targets;  // ambiguous
  };
  const row rows[] = {
      {"one_found_alone", {found("east")}, kind::found, "east", {}},
      {"one_found_among_missing",
       {missing("home"), found("east"), missing("west")},
       kind::found,
       "east",
       {}},
      {"one_found_others_failed",
       {failed("home", "connection refused"), found("east"),
        failed("west", "timed out")},
       kind::found,
       "east",
       {}},
      {"two_found",
       {found("east"), missing("home"), found("west")},
       kind::ambiguous,
       "",
       {"east", "west"}},
      {"two_found_one_failed",
       {found("east"), failed("home", "timed out"), found("west")},
       kind::ambiguous,
       "",
       {"east", "west"}},
      {"none_found_one_failed",
       {missing("east"), failed("west", "connection refused")},
       kind::unavailable,
       "",
       {}},
      {"none_found_all_failed",
       {failed("east", "timed out"), failed("west", "connection refused")},
       kind::unavailable,
       "",
       {}},
      {"none_found",
       {missing("east"), missing("west")},
       kind::not_found,
       "",
       {}},
      {"no_candidates", {}, kind::not_found, "", {}},
  };
  for (const row& r : rows) {
    const auto out = decide_location(r.probes, "", "configmaps", "x");
    EXPECT_EQ(out.what, r.want)
        << r.label << ": got " << to_string(out.what) << " " << out.message;
    EXPECT_EQ(out.target, r.target) << r.label;
    EXPECT_EQ(out.targets, r.targets) << r.label;
    if (r.want == kind::found) {
      EXPECT_THAT(out.message, IsEmpty()) << r.label;
    } else {
      EXPECT_THAT(out.message, Not(IsEmpty())) << r.label;
    }
  }
}

TEST(DecideLocation, AmbiguousNamesEveryTargetThatHasIt) {
  const auto out = decide_location(
      {found("east"), missing("home"), found("west"), found("north")}, "",
      "configmaps", "x");
  ASSERT_EQ(out.what, kind::ambiguous) << out.message;
  EXPECT_THAT(out.targets, ElementsAre("east", "west", "north"));
  EXPECT_THAT(out.message, AllOf(HasSubstr(R"(configmaps "x")"),
                                 HasSubstr("east"), HasSubstr("west"),
                                 HasSubstr("north"), Not(HasSubstr("home"))));
}

TEST(DecideLocation, UnavailableNamesTheFailures) {
  const auto out =
      decide_location({missing("home"), failed("east", "connection refused"),
                       failed("west", "TLS handshake failed")},
                      "apps", "deployments", "web");
  ASSERT_EQ(out.what, kind::unavailable) << out.message;
  EXPECT_TRUE(out.target.empty());
  EXPECT_THAT(out.message,
              AllOf(HasSubstr(R"(deployments.apps "web")"),
                    HasSubstr(R"(target "east": connection refused)"),
                    HasSubstr(R"(target "west": TLS handshake failed)")));
  // Not worded as a 404: a client must not conclude the object is gone.
  EXPECT_THAT(out.message, Not(HasSubstr("not found")));
}

TEST(DecideLocation, NotFoundIsWordedAsTheApiServerWordsIt) {
  struct row {
    std::string group;
    std::string resource;
    std::string name;
    std::string want;
  };
  const row rows[] = {
      {"", "configmaps", "x", R"(configmaps "x" not found)"},
      {"apps", "deployments", "web", R"(deployments.apps "web" not found)"},
      {"batch", "cronjobs", "nightly", R"(cronjobs.batch "nightly" not found)"},
  };
  for (const row& r : rows) {
    const auto out = decide_location({missing("east"), missing("west")},
                                     r.group, r.resource, r.name);
    EXPECT_EQ(out.what, kind::not_found) << r.want;
    EXPECT_EQ(out.message, r.want);
    EXPECT_TRUE(out.target.empty());
    EXPECT_TRUE(out.targets.empty());
  }
}

}  // namespace
}  // namespace mca::sidecar
