#include "sidecar/admin/admin_server.hpp"

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "sidecar/metrics/sidecar_metrics.hpp"

namespace mca::sidecar {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct reply {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::string content_length;
  std::string allow;
  bool keep_alive = false;
};

// A blocking client, one request per call unless a connection is reused.
// Beast's sync calls ignore the stream's deadline, so the socket gets a
// kernel receive timeout instead: a broken server fails the test, never
// hangs it.
class client {
 public:
  explicit client(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{5, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv,
                 sizeof tv);
  }

  reply send(bhttp::verb method, const std::string& target,
             const std::string& body = "",
             const std::string& extra_header = "") {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!extra_header.empty()) req.set("X-Big", extra_header);
    req.body() = body;
    if (!body.empty()) req.prepare_payload();
    bhttp::write(socket_, req);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(std::uint64_t{16} * 1024 * 1024);
    parser.skip(method == bhttp::verb::head);
    bhttp::read(socket_, buffer_, parser);
    const auto& res = parser.get();
    reply out;
    out.status = res.result_int();
    out.body = res.body();
    out.content_type = std::string(res[bhttp::field::content_type]);
    out.content_length = std::string(res[bhttp::field::content_length]);
    out.allow = std::string(res[bhttp::field::allow]);
    out.keep_alive = res.keep_alive();
    return out;
  }

  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

reply get(std::uint16_t port, const std::string& target) {
  return client(port).send(bhttp::verb::get, target);
}

class AdminServer : public ::testing::Test {
 protected:
  AdminServer()
      : server_(
            admin_endpoint{"127.0.0.1", 0, 2s},
            [this] {
              const std::lock_guard lock(mutex_);
              return ready_;
            },
            [this] {
              const std::lock_guard lock(mutex_);
              if (routes_throw_) throw std::runtime_error("boom");
              return routes_;
            },
            metrics_) {}

  void SetUp() override {
    auto started = server_.start();
    ASSERT_TRUE(started) << started.error().message;
    ASSERT_NE(server_.port(), 0);
  }

  std::mutex mutex_;
  readiness ready_;
  std::string routes_ = R"({"version":"v1"})";
  bool routes_throw_ = false;
  sidecar_metrics metrics_;
  admin_server server_;
};

TEST_F(AdminServer, Healthz) {
  const reply r = get(server_.port(), "/healthz");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.body, "ok");
  EXPECT_THAT(r.content_type, StartsWith("text/plain"));
}

TEST_F(AdminServer, ReadyzNamesWhatIsMissingUntilAllHold) {
  reply r = get(server_.port(), "/readyz");
  EXPECT_EQ(r.status, 503U);
  EXPECT_THAT(r.body, HasSubstr("service-account files not written"));
  EXPECT_THAT(r.body, HasSubstr("API listener not up"));
  EXPECT_THAT(r.body, HasSubstr("no routing table loaded"));
  {
    const std::lock_guard lock(mutex_);
    ready_.files_written = true;
    ready_.listener_up = true;
    ready_.detail = "waiting for the operator";
  }
  r = get(server_.port(), "/readyz");
  EXPECT_EQ(r.status, 503U);
  EXPECT_EQ(r.body,
            "not ready: no routing table loaded (waiting for the operator)");
  {
    const std::lock_guard lock(mutex_);
    ready_.table_loaded = true;
  }
  r = get(server_.port(), "/readyz");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.body, "ok");
}

TEST_F(AdminServer, MetricsAfterRecording) {
  metrics_.record_request("east", "get", "configmaps", 200, 2ms);
  metrics_.table_loaded("v7");
  const reply r = get(server_.port(), "/metrics");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr("mca_requests_total{cluster=\"east\",code="
                                "\"200\",resource=\"configmaps\",verb="
                                "\"get\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("mca_routing_table_info{version=\"v7\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("# TYPE mca_request_duration_seconds "));
  EXPECT_THAT(r.body, HasSubstr("mca_active_streams{kind=\"watch\"} 0\n"));
  EXPECT_THAT(r.body, HasSubstr("mca_routing_table_age_seconds "));
  EXPECT_THAT(r.body, HasSubstr("mca_build_info{"));
  // A query string does not change the endpoint.
  EXPECT_EQ(get(server_.port(), "/metrics?debug=1").status, 200U);
}

TEST_F(AdminServer, RoutesReturnsTheCallbacksJson) {
  reply r = get(server_.port(), "/routes");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"version":"v1"})");
  {
    const std::lock_guard lock(mutex_);
    routes_.clear();
  }
  r = get(server_.port(), "/routes");
  EXPECT_EQ(r.status, 503U);
  EXPECT_EQ(r.body, "no routing table loaded");
}

TEST_F(AdminServer, ACallbackThatThrowsIsA500AndTheServerGoesOn) {
  {
    const std::lock_guard lock(mutex_);
    routes_throw_ = true;
  }
  const reply r = get(server_.port(), "/routes");
  EXPECT_EQ(r.status, 500U);
  EXPECT_THAT(r.body, HasSubstr("boom"));
  EXPECT_EQ(get(server_.port(), "/healthz").status, 200U);
}

TEST_F(AdminServer, OtherMethodsAre405WithAllow) {
  client c(server_.port());
  reply r = c.send(bhttp::verb::post, "/healthz");
  EXPECT_EQ(r.status, 405U);
  EXPECT_EQ(r.allow, "GET, HEAD");
  // Still usable: nothing was left unread.
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(c.send(bhttp::verb::delete_, "/routes").status, 405U);
  // With a body, still 405, then the connection closes.
  r = client(server_.port()).send(bhttp::verb::post, "/metrics", "x=1");
  EXPECT_EQ(r.status, 405U);
  EXPECT_FALSE(r.keep_alive);
}

TEST_F(AdminServer, BodiesAreRefused) {
  const reply r =
      client(server_.port()).send(bhttp::verb::get, "/healthz", "hello");
  EXPECT_EQ(r.status, 413U);
  EXPECT_FALSE(r.keep_alive);
}

TEST_F(AdminServer, UnknownPathIs404) {
  EXPECT_EQ(get(server_.port(), "/").status, 404U);
  EXPECT_EQ(get(server_.port(), "/healthz/extra").status, 404U);
  EXPECT_EQ(client(server_.port()).send(bhttp::verb::post, "/nope").status,
            404U);
}

TEST_F(AdminServer, HeadHasTheLengthButNoBody) {
  const reply r = client(server_.port()).send(bhttp::verb::head, "/healthz");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.content_length, "2");
  EXPECT_EQ(r.body, "");
}

TEST_F(AdminServer, KeepAliveServesSeveralRequests) {
  client c(server_.port());
  for (int i = 0; i < 3; ++i) {
    const reply r =
        c.send(bhttp::verb::get, i % 2 == 0 ? "/healthz" : "/routes");
    EXPECT_EQ(r.status, 200U);
    EXPECT_TRUE(r.keep_alive);
  }
}

TEST_F(AdminServer, OversizedHeaderIs431) {
  const reply r = client(server_.port())
                      .send(bhttp::verb::get, "/healthz", "",
                            std::string(std::size_t{9} * 1024, 'a'));
  EXPECT_EQ(r.status, 431U);
}

TEST_F(AdminServer, PortInUseNamesThePort) {
  sidecar_metrics other_metrics;
  admin_server second(
      admin_endpoint{"127.0.0.1", server_.port(), 2s},
      [] { return readiness{}; }, [] { return ""; }, other_metrics);
  const auto started = second.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().source, error_source::config);
  EXPECT_EQ(started.error().message,
            "admin port " + std::to_string(server_.port()) +
                " is in use on 127.0.0.1 (set --admin-address)");
  second.stop();  // never started: a no-op
}

TEST(AdminServerStart, BadAddress) {
  sidecar_metrics metrics;
  admin_server server(
      admin_endpoint{"localhost:90", 0, 2s}, [] { return readiness{}; },
      [] { return ""; }, metrics);
  const auto started = server.start();
  ASSERT_FALSE(started);
  EXPECT_THAT(started.error().message, HasSubstr("\"localhost:90\""));
}

TEST(AdminServerStart, StopClosesIdleConnectionsPromptlyAndIsIdempotent) {
  sidecar_metrics metrics;
  // A long timeout, so only stop() can end the idle connection in time.
  admin_server server(
      admin_endpoint{"127.0.0.1", 0, 60s}, [] { return readiness{}; },
      [] { return ""; }, metrics);
  ASSERT_TRUE(server.start());
  const std::uint16_t port = server.port();
  client idle(port);
  EXPECT_EQ(idle.send(bhttp::verb::get, "/healthz").status, 200U);
  const auto begin = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  server.stop();
  // The idle connection was closed by the server.
  std::array<char, 1> byte{};
  boost::system::error_code ec;
  idle.socket().read_some(asio::buffer(byte), ec);
  EXPECT_EQ(ec, asio::error::eof);
  // And the port is closed.
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
}

}  // namespace
}  // namespace mca::sidecar
