#include "log/logging.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace replica_server {
namespace {

TEST(LogFormat, Parses) {
  EXPECT_EQ(parse_log_format("text"), log_format::text);
  EXPECT_EQ(parse_log_format("json"), log_format::json);
  EXPECT_EQ(parse_log_format("JSON"), std::nullopt);
  EXPECT_EQ(parse_log_format(""), std::nullopt);
}

struct escape_case {
  std::string in;
  std::string out;
};

class JsonEscape : public ::testing::TestWithParam<escape_case> {};

TEST_P(JsonEscape, MakesAValidJsonString) {
  const auto& c = GetParam();
  const std::string escaped = json_escape(c.in);
  EXPECT_EQ(escaped, c.out);
  // Whatever went in, the line is JSON.
  const auto parsed =
      nlohmann::json::parse("\"" + escaped + "\"", nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << escaped;
}

INSTANTIATE_TEST_SUITE_P(
    Table, JsonEscape,
    ::testing::Values(
        escape_case{"plain", "plain"},
        escape_case{"say \"hi\"", "say \\\"hi\\\""},
        escape_case{"a\\b", "a\\\\b"},
        escape_case{"line\nnext\r\t", "line\\nnext\\r\\t"},
        escape_case{std::string("nul\0x", 5), "nul\\u0000x"},
        escape_case{"\x1b[31m", "\\u001b[31m"},
        escape_case{"caf\xC3\xA9 \xE2\x86\x92 \xF0\x9F\x98\x80",
                    "caf\xC3\xA9 \xE2\x86\x92 \xF0\x9F\x98\x80"},
        escape_case{"bad \xff", "bad \xEF\xBF\xBD"},
        escape_case{"cut \xE2\x86", "cut \xEF\xBF\xBD\xEF\xBF\xBD"},
        escape_case{"overlong \xC0\xAF", "overlong \xEF\xBF\xBD\xEF\xBF\xBD"},
        escape_case{"surrogate \xED\xA0\x80",
                    "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}));

}  // namespace
}  // namespace replica_server
