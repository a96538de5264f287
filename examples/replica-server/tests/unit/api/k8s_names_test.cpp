#include "api/k8s_names.hpp"

#include <string>

#include <gtest/gtest.h>

namespace replica_server {
namespace {

struct name_case {
  std::string value;
  bool label_ok;
  bool subdomain_ok;
};

class KubernetesNames : public ::testing::TestWithParam<name_case> {};

TEST_P(KubernetesNames, FollowDns1123) {
  const auto& c = GetParam();
  EXPECT_EQ(!dns1123_label_problem(c.value).has_value(), c.label_ok)
      << c.value << ": " << dns1123_label_problem(c.value).value_or("valid");
  EXPECT_EQ(!dns1123_subdomain_problem(c.value).has_value(), c.subdomain_ok)
      << c.value << ": "
      << dns1123_subdomain_problem(c.value).value_or("valid");
}

INSTANTIATE_TEST_SUITE_P(
    Table, KubernetesNames,
    ::testing::Values(
        name_case{"web", true, true}, name_case{"a", true, true},
        name_case{"0", true, true}, name_case{"web-1", true, true},
        name_case{"web.v2", false, true}, name_case{"a.b.c", false, true},
        name_case{"", false, false}, name_case{"-web", false, false},
        name_case{"web-", false, false}, name_case{"Web", false, false},
        name_case{"we_b", false, false}, name_case{"a/b", false, false},
        name_case{"a..b", false, false}, name_case{".a", false, false},
        name_case{"a.", false, false}, name_case{"a.-b", false, false},
        name_case{"web\n", false, false},
        name_case{std::string(63, 'a'), true, true},
        name_case{std::string(64, 'a'), false, true},
        name_case{std::string(253, 'a'), false, true},
        name_case{std::string(254, 'a'), false, false}));

TEST(KubernetesNamesMessages, SayWhatIsWrong) {
  EXPECT_EQ(dns1123_label_problem(std::string(64, 'a')),
            "must be no more than 63 characters");
  EXPECT_EQ(dns1123_label_problem("Web"),
            "must consist of lower case alphanumeric characters or '-'");
  EXPECT_EQ(dns1123_label_problem("web-"),
            "must start and end with an alphanumeric character");
  EXPECT_EQ(dns1123_subdomain_problem("a..b"),
            "must not have empty parts between dots");
}

}  // namespace
}  // namespace replica_server
