#include "common/kube/watch_decoder.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mca::kube {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct expected_event {
  watch_event_type type;
  nlohmann::json object;
};

// A stream with every event type, separated by assorted whitespace, whose
// strings hold braces, escaped quotes and a trailing escaped backslash.
struct sample_stream {
  std::string text;
  // [begin, end) of each event in text.
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::vector<expected_event> events;
};

sample_stream make_sample() {
  const std::vector<std::pair<std::string, std::string>> pieces = {
      {R"({"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a{b}","resourceVersion":"1"},"data":{"k":"say \"}{\" then \\"}}})",
       "\n"},
      {R"({"type": "MODIFIED", "object": {"kind": "ConfigMap", "metadata": {"name": "a{b}", "resourceVersion": "2"}, "data": {"k": "}}}\\\"{{{"}}})",
       " \r\n\t "},
      {R"({"type":"DELETED","object":{"kind":"ConfigMap","metadata":{"name":"a{b}","resourceVersion":"3"},"data":{"k":"\u007b"}}})",
       ""},
      {R"({"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"4"}}})",
       "\n\n"},
      {R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (4)","reason":"Expired","code":410}})json",
       "\n"},
  };
  sample_stream s;
  for (const auto& [event, separator] : pieces) {
    s.spans.emplace_back(s.text.size(), s.text.size() + event.size());
    s.text += event;
    s.text += separator;
  }
  s.events = {
      {watch_event_type::added,
       {{"kind", "ConfigMap"},
        {"metadata", {{"name", "a{b}"}, {"resourceVersion", "1"}}},
        {"data", {{"k", R"(say "}{" then \)"}}}}},
      {watch_event_type::modified,
       {{"kind", "ConfigMap"},
        {"metadata", {{"name", "a{b}"}, {"resourceVersion", "2"}}},
        {"data", {{"k", R"(}}}\"{{{)"}}}}},
      {watch_event_type::deleted,
       {{"kind", "ConfigMap"},
        {"metadata", {{"name", "a{b}"}, {"resourceVersion", "3"}}},
        {"data", {{"k", "{"}}}}},
      {watch_event_type::bookmark,
       {{"kind", "ConfigMap"}, {"metadata", {{"resourceVersion", "4"}}}}},
      {watch_event_type::error,
       {{"kind", "Status"},
        {"apiVersion", "v1"},
        {"metadata", nlohmann::json::object()},
        {"status", "Failure"},
        {"message", "too old resource version: 1 (4)"},
        {"reason", "Expired"},
        {"code", 410}}},
  };
  return s;
}

void expect_events(const std::vector<watch_event>& actual,
                   const std::vector<expected_event>& expected,
                   const std::string& context) {
  ASSERT_EQ(actual.size(), expected.size()) << context;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].type, expected[i].type) << context << ", event " << i;
    EXPECT_EQ(actual[i].object, expected[i].object)
        << context << ", event " << i;
  }
}

// Feeds `text` and returns the error message, or "" when none.
std::string feed_error(watch_decoder& decoder, std::string_view text,
                       std::vector<watch_event>& out) {
  auto r = decoder.feed(text, out);
  if (r) return {};
  EXPECT_EQ(r.error().source, error_source::decode);
  return r.error().message;
}

TEST(WatchDecoder, ToStringNamesEveryType) {
  EXPECT_STREQ(to_string(watch_event_type::added), "ADDED");
  EXPECT_STREQ(to_string(watch_event_type::modified), "MODIFIED");
  EXPECT_STREQ(to_string(watch_event_type::deleted), "DELETED");
  EXPECT_STREQ(to_string(watch_event_type::bookmark), "BOOKMARK");
  EXPECT_STREQ(to_string(watch_event_type::error), "ERROR");
}

TEST(WatchDecoder, DecodesAWholeStream) {
  const auto sample = make_sample();
  watch_decoder decoder;
  std::vector<watch_event> out;
  ASSERT_TRUE(decoder.feed(sample.text, out));
  expect_events(out, sample.events, "whole");
  EXPECT_TRUE(decoder.at_boundary());
}

TEST(WatchDecoder, DecodesOneByteAtATime) {
  const auto sample = make_sample();
  watch_decoder decoder;
  std::vector<watch_event> out;
  for (std::size_t i = 0; i < sample.text.size(); ++i) {
    ASSERT_TRUE(decoder.feed(std::string_view(sample.text).substr(i, 1), out))
        << "at byte " << i;
    // After i + 1 bytes, a boundary unless inside an event.
    const auto fed = i + 1;
    bool inside = false;
    for (const auto& [begin, end] : sample.spans) {
      inside = inside || (begin < fed && fed < end);
    }
    EXPECT_EQ(decoder.at_boundary(), !inside) << "after " << fed << " bytes";
  }
  expect_events(out, sample.events, "byte at a time");
}

TEST(WatchDecoder, DecodesTheSameWhereverTheStreamIsSplit) {
  const auto sample = make_sample();
  const std::string_view text(sample.text);
  for (std::size_t split = 0; split <= text.size(); ++split) {
    watch_decoder decoder;
    std::vector<watch_event> out;
    ASSERT_TRUE(decoder.feed(text.substr(0, split), out)) << "split " << split;
    ASSERT_TRUE(decoder.feed(text.substr(split), out)) << "split " << split;
    expect_events(out, sample.events, "split at " + std::to_string(split));
    EXPECT_TRUE(decoder.at_boundary()) << "split " << split;
  }
}

TEST(WatchDecoder, EmptyFeedsAndWhitespaceAreBoundaries) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  EXPECT_TRUE(decoder.at_boundary());
  ASSERT_TRUE(decoder.feed("", out));
  ASSERT_TRUE(decoder.feed(" \n\r\t\n", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(decoder.at_boundary());
}

TEST(WatchDecoder, PartialEventIsNotABoundary) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  ASSERT_TRUE(decoder.feed(R"({"type":"ADDED","object":{"a":"}"})", out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(decoder.at_boundary());
  ASSERT_TRUE(decoder.feed("}\n", out));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].object, nlohmann::json({{"a", "}"}}));
  EXPECT_TRUE(decoder.at_boundary());
}

TEST(WatchDecoder, MalformedJsonIsAnError) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  auto message =
      feed_error(decoder, R"({"type":"ADDED","object":{"a":tru}})", out);
  EXPECT_THAT(message, HasSubstr("malformed"));
  EXPECT_THAT(message, HasSubstr("tru"));
  EXPECT_FALSE(decoder.at_boundary());
}

TEST(WatchDecoder, UnknownTypeIsAnError) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  auto message = feed_error(decoder, R"({"type":"RENAMED","object":{}})", out);
  EXPECT_THAT(message, HasSubstr("RENAMED"));
  EXPECT_TRUE(out.empty());
}

TEST(WatchDecoder, TypeMustBeAString) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  EXPECT_THAT(feed_error(decoder, R"({"type":1,"object":{}})", out),
              HasSubstr("type"));
}

TEST(WatchDecoder, MissingObjectIsAnError) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  EXPECT_THAT(feed_error(decoder, R"({"type":"ADDED"})", out),
              HasSubstr("object"));
}

TEST(WatchDecoder, ObjectMustBeAnObject) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  EXPECT_THAT(feed_error(decoder, R"({"type":"ADDED","object":[1,2]})", out),
              HasSubstr("object"));
}

TEST(WatchDecoder, GarbageBetweenEventsIsAnError) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  auto message = feed_error(decoder,
                            "{\"type\":\"ADDED\",\"object\":{}}\nnot json\n"
                            "{\"type\":\"ADDED\",\"object\":{}}",
                            out);
  EXPECT_THAT(message, HasSubstr("between events"));
  EXPECT_THAT(message, HasSubstr("not json"));
  // The event before the garbage was complete and is delivered.
  EXPECT_EQ(out.size(), 1U);
}

TEST(WatchDecoder, StrayClosingBraceIsAnError) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  EXPECT_THAT(feed_error(decoder, "{\"type\":\"ADDED\",\"object\":{}}}", out),
              HasSubstr("between events"));
}

TEST(WatchDecoder, EventAtTheBoundIsAccepted) {
  const std::string event = R"({"type":"ADDED","object":{"k":"v"}})";
  watch_decoder decoder(event.size());
  std::vector<watch_event> out;
  ASSERT_TRUE(decoder.feed(event + "\n" + event, out));
  EXPECT_EQ(out.size(), 2U);
}

TEST(WatchDecoder, EventOverTheBoundIsAnError) {
  const std::string event = R"({"type":"ADDED","object":{"k":"v"}})";
  watch_decoder decoder(event.size() - 1);
  std::vector<watch_event> out;
  auto message = feed_error(decoder, event, out);
  EXPECT_THAT(message, HasSubstr("larger than"));
  EXPECT_TRUE(out.empty());
}

TEST(WatchDecoder, UnterminatedEventFailsOnceOverTheBound) {
  // An event that never ends must not grow the buffer without limit.
  watch_decoder decoder(1000);
  std::vector<watch_event> out;
  ASSERT_TRUE(decoder.feed(R"({"type":"ADDED","object":{"k":")", out));
  const std::string chunk(100, 'x');
  std::size_t feeds = 0;
  while (decoder.feed(chunk, out)) {
    ASSERT_LT(++feeds, 20U);
  }
  EXPECT_GE(feeds, 9U);
}

TEST(WatchDecoder, ErrorExcerptIsBounded) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  const std::string secretish(10000, 's');
  auto message = feed_error(
      decoder, R"({"type":"ADDED","object":{"k":")" + secretish + "\"x}}", out);
  EXPECT_THAT(message, HasSubstr("malformed"));
  EXPECT_LT(message.size(), 250U);
}

TEST(WatchDecoder, ErrorExcerptEscapesBinary) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  auto message = feed_error(decoder, std::string("\x01\xff", 2), out);
  EXPECT_THAT(message, HasSubstr("\\x01\\xff"));
  EXPECT_THAT(message, Not(HasSubstr("\xff")));
}

TEST(WatchDecoder, UnusableAfterAnError) {
  watch_decoder decoder;
  std::vector<watch_event> out;
  ASSERT_FALSE(decoder.feed("x", out));
  EXPECT_FALSE(decoder.feed(R"({"type":"ADDED","object":{}})", out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace mca::kube
