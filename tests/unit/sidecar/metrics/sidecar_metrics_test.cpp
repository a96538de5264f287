#include "sidecar/metrics/sidecar_metrics.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/version/build_info.hpp"

namespace mca::sidecar {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

// prometheus-cpp keeps labels in a std::map, so they come out sorted by
// name whatever order they were given in.
TEST(SidecarMetrics, RequestsAndDurations) {
  sidecar_metrics m;
  m.record_request("east", "get", "configmaps", 200, 3ms);
  m.record_request("east", "get", "configmaps", 200, 40ms);
  m.record_request("west", "list", "deployments.apps", 503, 2s);
  const std::string text = m.render();
  EXPECT_THAT(text, HasSubstr("# TYPE mca_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("mca_requests_total{cluster=\"east\",code="
                              "\"200\",resource=\"configmaps\",verb=\"get\"} "
                              "2\n"));
  EXPECT_THAT(text, HasSubstr("mca_requests_total{cluster=\"west\",code="
                              "\"503\",resource=\"deployments.apps\",verb="
                              "\"list\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("# TYPE mca_request_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("mca_request_duration_seconds_count{cluster="
                              "\"east\",verb=\"get\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("mca_request_duration_seconds_sum{cluster="
                              "\"east\",verb=\"get\"} 0.043"));
  EXPECT_THAT(text, HasSubstr("mca_request_duration_seconds_bucket{cluster="
                              "\"east\",verb=\"get\",le=\"0.0005\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("mca_request_duration_seconds_bucket{cluster="
                              "\"east\",verb=\"get\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("mca_request_duration_seconds_bucket{cluster="
                              "\"east\",verb=\"get\",le=\"0.05\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("mca_request_duration_seconds_bucket{cluster="
                              "\"west\",verb=\"list\",le=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("mca_request_duration_seconds_bucket{cluster="
                              "\"west\",verb=\"list\",le=\"30\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("mca_request_duration_seconds_bucket{cluster="
                              "\"west\",verb=\"list\",le=\"+Inf\"} 1\n"));
}

TEST(SidecarMetrics, ErrorsStreamsAndRules) {
  sidecar_metrics m;
  std::string text = m.render();
  // Both kinds exist at 0 before any stream.
  EXPECT_THAT(text, HasSubstr("mca_active_streams{kind=\"watch\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("mca_active_streams{kind=\"upgrade\"} 0\n"));

  m.record_upstream_error("east", "connect");
  m.record_upstream_error("east", "connect");
  m.record_upstream_error("west", "tls");
  m.stream_opened("watch");
  m.stream_opened("watch");
  m.stream_closed("watch");
  m.stream_opened("upgrade");
  m.record_rule_match("team-a/p", "east-by-label");
  m.record_rule_match("team-a/p", "east-by-label");
  m.record_rule_match("team-a/p", "rules[3]");
  text = m.render();
  EXPECT_THAT(text, HasSubstr("mca_upstream_errors_total{cluster=\"east\","
                              "reason=\"connect\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("mca_upstream_errors_total{cluster=\"west\","
                              "reason=\"tls\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE mca_active_streams gauge\n"));
  EXPECT_THAT(text, HasSubstr("mca_active_streams{kind=\"watch\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("mca_active_streams{kind=\"upgrade\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("mca_rule_matches_total{policy=\"team-a/p\","
                              "rule=\"east-by-label\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("mca_rule_matches_total{policy=\"team-a/p\","
                              "rule=\"rules[3]\"} 1\n"));
}

TEST(SidecarMetrics, TableInfoKeepsOnlyTheVersionInForce) {
  sidecar_metrics m;
  EXPECT_THAT(m.render(), Not(HasSubstr("mca_routing_table_info{")));
  m.table_loaded("v1");
  EXPECT_THAT(m.render(),
              HasSubstr("mca_routing_table_info{version=\"v1\"} 1\n"));
  m.table_loaded("v2");
  const std::string text = m.render();
  EXPECT_THAT(text, HasSubstr("mca_routing_table_info{version=\"v2\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("version=\"v1\"")));
  m.table_loaded("v2");
  EXPECT_THAT(m.render(),
              HasSubstr("mca_routing_table_info{version=\"v2\"} 1\n"));
}

TEST(SidecarMetrics, TableAgeIsComputedAtScrapeTime) {
  std::chrono::system_clock::time_point now{std::chrono::hours(1000)};
  sidecar_metrics m([&now] { return now; });
  // No table yet: no age, rather than a misleading 0.
  EXPECT_THAT(m.render(), Not(HasSubstr("mca_routing_table_age_seconds ")));
  m.table_loaded("v1");
  now += 90s;
  EXPECT_THAT(m.render(), HasSubstr("mca_routing_table_age_seconds 90\n"));
  now += 500ms;
  EXPECT_THAT(m.render(), HasSubstr("mca_routing_table_age_seconds 90.5\n"));
  m.table_loaded("v2");
  EXPECT_THAT(m.render(), HasSubstr("mca_routing_table_age_seconds 0\n"));
  // A clock stepped backwards never shows a negative age.
  now -= 10s;
  EXPECT_THAT(m.render(), HasSubstr("mca_routing_table_age_seconds 0\n"));
}

TEST(SidecarMetrics, BuildInfo) {
  sidecar_metrics m;
  const build_info build = current_build();
  EXPECT_THAT(
      m.render(),
      HasSubstr("mca_build_info{commit=\"" + std::string(build.git_commit) +
                "\",version=\"" + std::string(build.version) + "\"} 1\n"));
}

TEST(SidecarMetrics, ResourcesPastTheSeriesCapBecomeOther) {
  sidecar_metrics m([] { return std::chrono::system_clock::now(); }, 2);
  m.record_request("east", "get", "pods", 200, 1ms);
  m.record_request("east", "get", "secrets", 200, 1ms);
  m.record_request("east", "get", "widgets.example.com", 200, 1ms);
  m.record_request("east", "get", "gadgets.example.com", 200, 1ms);
  // Series that existed before the cap keep counting.
  m.record_request("east", "get", "pods", 200, 1ms);
  // "other" series do not count against the cap themselves.
  m.record_request("east", "list", "more.example.com", 404, 1ms);
  const std::string text = m.render();
  EXPECT_THAT(text, HasSubstr("{cluster=\"east\",code=\"200\",resource="
                              "\"pods\",verb=\"get\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("{cluster=\"east\",code=\"200\",resource="
                              "\"secrets\",verb=\"get\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("{cluster=\"east\",code=\"200\",resource="
                              "\"other\",verb=\"get\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("{cluster=\"east\",code=\"404\",resource="
                              "\"other\",verb=\"list\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("example.com")));
}

TEST(SidecarMetrics, DefaultCapBoundsSeries) {
  sidecar_metrics m;
  for (std::size_t i = 0; i < sidecar_metrics::default_max_request_series + 50;
       ++i) {
    m.record_request("east", "get", "r" + std::to_string(i), 200, 1ms);
  }
  const std::string text = m.render();
  const std::string last =
      "r" + std::to_string(sidecar_metrics::default_max_request_series - 1);
  EXPECT_THAT(text, HasSubstr("resource=\"" + last + "\""));
  EXPECT_THAT(
      text,
      Not(HasSubstr(
          "resource=\"r" +
          std::to_string(sidecar_metrics::default_max_request_series) + "\"")));
  EXPECT_THAT(text, HasSubstr("{cluster=\"east\",code=\"200\",resource="
                              "\"other\",verb=\"get\"} 50\n"));
}

TEST(SidecarMetrics, RecordingWhileScrapingFromOtherThreads) {
  sidecar_metrics m;
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop) {
      m.render();
      m.table_loaded(m.render().size() % 2 == 0 ? "a" : "b");
    }
  });
  std::vector<std::thread> workers;
  workers.reserve(4);
  constexpr int per_worker = 2000;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&m, w] {
      for (int i = 0; i < per_worker; ++i) {
        m.record_request("east", "get", "r" + std::to_string(i % 7), 200, 1ms);
        m.record_rule_match("p", "rule" + std::to_string(w));
        m.stream_opened("watch");
        m.stream_closed("watch");
      }
    });
  }
  for (auto& t : workers) t.join();
  stop = true;
  scraper.join();
  const std::string text = m.render();
  EXPECT_THAT(text, HasSubstr("mca_request_duration_seconds_count{cluster="
                              "\"east\",verb=\"get\"} " +
                              std::to_string(4 * per_worker) + "\n"));
  EXPECT_THAT(text, HasSubstr("mca_active_streams{kind=\"watch\"} 0\n"));
  EXPECT_THAT(
      text, HasSubstr("rule=\"rule3\"} " + std::to_string(per_worker) + "\n"));
}

TEST(SidecarMetrics, OperatorConnectionAndPushes) {
  sidecar_metrics m;
  std::string text = m.render();
  // Present at 0 before the first stream and the first push.
  EXPECT_THAT(text, HasSubstr("# TYPE mca_operator_connected gauge\n"
                              "mca_operator_connected 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE mca_operator_pushes_total counter\n"));
  EXPECT_THAT(text, HasSubstr("mca_operator_pushes_total{result=\"ack\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("mca_operator_pushes_total{result=\"nack\"} 0\n"));
  m.operator_connected(true);
  m.operator_push(true);
  m.operator_push(true);
  m.operator_push(false);
  text = m.render();
  EXPECT_THAT(text, HasSubstr("mca_operator_connected 1\n"));
  EXPECT_THAT(text, HasSubstr("mca_operator_pushes_total{result=\"ack\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("mca_operator_pushes_total{result=\"nack\"} 1\n"));
  m.operator_connected(false);
  EXPECT_THAT(m.render(), HasSubstr("mca_operator_connected 0\n"));
}

}  // namespace
}  // namespace mca::sidecar
