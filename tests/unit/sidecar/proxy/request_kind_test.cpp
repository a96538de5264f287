#include "sidecar/proxy/request_kind.hpp"

#include <string_view>

#include <gtest/gtest.h>

#include "common/routing/request_classifier.hpp"

namespace mca::sidecar {
namespace {

struct kind_row {
  std::string_view method;
  std::string_view target;
  bool long_running;
  std::string_view stream;  // stream_kind, checked when long_running
};

constexpr kind_row kind_rows[] = {
    // Ordinary requests end when their response does.
    {"GET", "/api/v1/namespaces/default/configmaps", false, ""},
    {"GET", "/api/v1/configmaps?labelSelector=cluster%3Dwest", false, ""},
    {"GET", "/apis/apps/v1/namespaces/default/deployments", false, ""},
    {"GET", "/api/v1/namespaces/default/configmaps/x", false, ""},
    {"GET", "/api/v1/configmaps?watch=false", false, ""},
    {"GET", "/api/v1/configmaps?watch=0", false, ""},
    {"POST", "/api/v1/namespaces/default/configmaps", false, ""},
    {"PUT", "/api/v1/namespaces/default/configmaps/x", false, ""},
    {"PATCH", "/api/v1/namespaces/default/configmaps/x", false, ""},
    {"DELETE", "/api/v1/namespaces/default/configmaps/x", false, ""},
    {"DELETE", "/api/v1/namespaces/default/configmaps", false, ""},
    {"GET", "/api/v1/namespaces/default/pods/p/status", false, ""},
    {"GET", "/healthz", false, ""},
    {"GET", "/apis", false, ""},
    // Watches: the query form, the legacy /watch/ path, and a named GET.
    {"GET", "/api/v1/configmaps?watch=true", true, "watch"},
    {"GET", "/api/v1/namespaces/default/configmaps?watch=1", true, "watch"},
    {"GET", "/apis/apps/v1/deployments?watch=true&resourceVersion=5", true,
     "watch"},
    {"GET", "/api/v1/watch/configmaps", true, "watch"},
    {"GET", "/api/v1/watch/namespaces/default/configmaps", true, "watch"},
    {"GET", "/api/v1/watch/namespaces/default/configmaps/x", true, "watch"},
    {"GET", "/api/v1/namespaces/default/configmaps/x?watch=1", true, "watch"},
    {"GET", "/api/v1/namespaces/default/configmaps/x?watch=true", true,
     "watch"},
    // Logs: only a followed log holds the connection.
    {"GET", "/api/v1/namespaces/default/pods/p/log", false, ""},
    {"GET", "/api/v1/namespaces/default/pods/p/log?container=c", false, ""},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=false", false, ""},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=0", false, ""},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=true", true,
     "follow"},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=1", true, "follow"},
    // The API server reads the flag as Go's query conversion does: present
    // and neither "0" nor "false" (any case) is true, even with no value.
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=TRUE", true,
     "follow"},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=yes", true, "follow"},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=", true, "follow"},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow", true, "follow"},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=%74rue", true,
     "follow"},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=False", false, ""},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=FALSE", false, ""},
    // The first occurrence wins, as with url.Values.Get.
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=false&follow=true",
     false, ""},
    {"GET", "/api/v1/namespaces/default/pods/p/log?follow=true&follow=false",
     true, "follow"},
    {"GET", "/api/v1/namespaces/default/pods/p/log?nofollow=true", false, ""},
    {"GET",
     "/api/v1/namespaces/default/pods/p/log?container=c&follow=true"
     "&tailLines=10",
     true, "follow"},
    // The connect verbs upgrade, whatever the method.
    {"POST", "/api/v1/namespaces/default/pods/p/exec?command=ls&stdout=true",
     true, "upgrade"},
    {"GET", "/api/v1/namespaces/default/pods/p/exec?command=sh&stdin=true",
     true, "upgrade"},
    {"POST", "/api/v1/namespaces/default/pods/p/attach?stdout=true", true,
     "upgrade"},
    {"GET", "/api/v1/namespaces/default/pods/p/attach", true, "upgrade"},
    {"POST", "/api/v1/namespaces/default/pods/p/portforward?ports=80", true,
     "upgrade"},
    {"GET", "/api/v1/namespaces/default/pods/p/portforward", true, "upgrade"},
    {"GET", "/api/v1/namespaces/default/pods/p/proxy/metrics", true, "upgrade"},
    {"GET", "/api/v1/namespaces/default/services/s/proxy", true, "upgrade"},
};

TEST(RequestKind, LongRunningAndStreamKind) {
  for (const kind_row& r : kind_rows) {
    const auto info = routing::classify(r.method, r.target);
    ASSERT_TRUE(info.has_value())
        << r.method << " " << r.target << ": " << info.error().message;
    EXPECT_EQ(is_long_running(*info, r.target), r.long_running)
        << r.method << " " << r.target << " (verb "
        << routing::to_string(info->kind) << ")";
    if (r.long_running) {
      EXPECT_EQ(stream_kind(*info), r.stream) << r.method << " " << r.target;
    }
  }
}

TEST(RequestKind, FollowIsReadFromTheTargetGiven) {
  // The follow flag is not part of request_info: it is read from the target
  // passed alongside.
  const auto info =
      routing::classify("GET", "/api/v1/namespaces/default/pods/p/log");
  ASSERT_TRUE(info.has_value());
  EXPECT_FALSE(is_long_running(*info, "/api/v1/namespaces/default/pods/p/log"));
  EXPECT_TRUE(is_long_running(
      *info, "/api/v1/namespaces/default/pods/p/log?follow=true"));
  // The flag only means something for logs.
  const auto get =
      routing::classify("GET", "/api/v1/namespaces/default/configmaps/x");
  ASSERT_TRUE(get.has_value());
  EXPECT_FALSE(is_long_running(
      *get, "/api/v1/namespaces/default/configmaps/x?follow=true"));
}

TEST(RequestKind, StreamKindNamesTheThreeMetrics) {
  const auto kind_of = [](std::string_view method, std::string_view target) {
    const auto info = routing::classify(method, target);
    EXPECT_TRUE(info.has_value()) << target;
    return info ? stream_kind(*info) : std::string_view{};
  };
  EXPECT_EQ(kind_of("GET", "/api/v1/pods?watch=true"), "watch");
  EXPECT_EQ(kind_of("GET", "/api/v1/namespaces/n/pods/p/log?follow=true"),
            "follow");
  EXPECT_EQ(kind_of("POST", "/api/v1/namespaces/n/pods/p/exec"), "upgrade");
  EXPECT_EQ(kind_of("POST", "/api/v1/namespaces/n/pods/p/attach"), "upgrade");
  EXPECT_EQ(kind_of("POST", "/api/v1/namespaces/n/pods/p/portforward"),
            "upgrade");
}

}  // namespace
}  // namespace mca::sidecar
