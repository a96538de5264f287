// Faults around a real mca-sidecar: a target going away and coming back, a
// bad routes file, SIGTERM with a watch open, a port already taken, and a
// thousand connections at once. SERIAL: stops a test cluster.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <gmock/gmock.h>
#include <nlohmann/json.hpp>
#include <openssl/x509v3.h>
#include <sys/resource.h>

#include "support/sidecar_process.hpp"
#include "support/testenv.hpp"

namespace mca::test {
namespace {

using ::testing::HasSubstr;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

class SidecarFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    env_ = testenv::load(error);
    ASSERT_TRUE(error.empty()) << error;
  }
  testenv env_;
};

std::string configmap_json(const std::string& name, const std::string& label) {
  return nlohmann::json{
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata", {{"name", name}, {"labels", {{"cluster", label}}}}}}
      .dump();
}

TEST_F(SidecarFaults, TargetDownIs503NamingItThenRecovers) {
  auto sidecar = sidecar_process::start(standard_routes(env_));
  raw_request create;
  create.method = "POST";
  create.target = "/api/v1/namespaces/default/configmaps";
  create.headers = {{"Content-Type", "application/json"}};
  create.body = configmap_json(unique_name("cm-outage"), "east");

  auto stopped = env_.hack_testenv({"stop-cluster", "--cluster", "east"});
  ASSERT_TRUE(stopped.ok()) << stopped.err;
  auto res = sidecar.request(create);
  // Started again whatever the assertions below say.
  auto started = env_.hack_testenv({"start-cluster", "--cluster", "east"});
  ASSERT_EQ(res.status, 503) << res.error << res.body;
  auto status = nlohmann::json::parse(res.body);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "ServiceUnavailable");
  EXPECT_THAT(status["message"].get<std::string>(), HasSubstr("target east"));
  EXPECT_THAT(
      status["message"].get<std::string>(),
      ::testing::Not(HasSubstr(env_.at("east").client_key_file.string())));
  ASSERT_TRUE(started.ok()) << started.err;

  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int last = 0;
  while (std::chrono::steady_clock::now() < until) {
    last = sidecar.request(create).status;
    if (last == 201) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(last, 201) << "east came back but requests still fail";
}

TEST_F(SidecarFaults, BadRoutesFileKeepsTheOldTableAndSaysWhy) {
  auto sidecar = sidecar_process::start(standard_routes(env_));
  const auto before = nlohmann::json::parse(sidecar.admin_get("/routes").body);

  std::ofstream(sidecar.routes_file())
      << standard_routes(env_)
      << "  - name: broken\n    match: {}\n    target: nowhere\n";
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  nlohmann::json now;
  while (std::chrono::steady_clock::now() < until) {
    now = nlohmann::json::parse(sidecar.admin_get("/routes").body);
    if (now.contains("lastError")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(now.contains("lastError")) << now.dump();
  EXPECT_THAT(now["lastError"].get<std::string>(), HasSubstr("nowhere"));
  EXPECT_EQ(now["version"], before["version"]);
  EXPECT_THAT(sidecar.process().output(), HasSubstr("keeping version"));
  // Still routing with the old table.
  raw_request list;
  list.target =
      "/api/v1/namespaces/default/configmaps?labelSelector=cluster%3Deast";
  EXPECT_EQ(sidecar.request(list).status, 200);

  // A good file replaces it and clears the error.
  auto fixed = standard_routes(env_);
  fixed.replace(fixed.find("e2e/route-by-cluster-label"), 26,
                "e2e/route-by-cluster-v2");
  std::ofstream(sidecar.routes_file()) << fixed;
  const auto until2 =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until2) {
    now = nlohmann::json::parse(sidecar.admin_get("/routes").body);
    if (now["policy"] == "e2e/route-by-cluster-v2") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(now["policy"], "e2e/route-by-cluster-v2");
  EXPECT_NE(now["version"], before["version"]);
  EXPECT_FALSE(now.contains("lastError"));
}

TEST_F(SidecarFaults, SigtermDuringAWatchEndsItCleanlyAndExitsZero) {
  auto sidecar =
      sidecar_process::start(standard_routes(env_), {"--drain-seconds", "5"});
  std::atomic<bool> done{false};
  raw_response watched;
  std::thread client([&] {
    raw_request w;
    w.target =
        "/api/v1/namespaces/default/"
        "configmaps?watch=true&labelSelector=cluster%3Dwest";
    w.timeout = std::chrono::seconds(60);
    watched = sidecar.request(w);
    done = true;
  });
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (sidecar.admin_get("/metrics")
             .body.find("mca_active_streams{kind=\"watch\"} 1") ==
         std::string::npos) {
    if (std::chrono::steady_clock::now() > until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto signalled = std::chrono::steady_clock::now();
  sidecar.process().signal(SIGTERM);
  auto code = sidecar.process().wait(std::chrono::seconds(10));
  const auto took = std::chrono::steady_clock::now() - signalled;
  client.join();
  ASSERT_TRUE(code.has_value()) << "still running 10 s after SIGTERM";
  EXPECT_EQ(*code, 0) << sidecar.process().output();
  EXPECT_LT(took, std::chrono::seconds(5))
      << "a watch should not hold the drain";
  // The watch response ended properly (terminating chunk), not cut off.
  EXPECT_TRUE(done);
  EXPECT_EQ(watched.status, 200) << watched.error;
  EXPECT_TRUE(watched.error.empty()) << watched.error;
  EXPECT_THAT(sidecar.process().output(), HasSubstr("mca-sidecar stopped"));
}

TEST_F(SidecarFaults, PortConflictExitsWithOneLineNamingThePortAndVariable) {
  asio::io_context ctx;
  asio::ip::tcp::acceptor taken(ctx, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = std::to_string(taken.local_endpoint().port());
  const auto dir =
      std::filesystem::temp_directory_path() / unique_name("conflict");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "routes.yaml") << standard_routes(env_);
  auto child = child_process::start(
      {MCA_SIDECAR_BINARY, "--routes", (dir / "routes.yaml").string(),
       "--admin-address", "127.0.0.1:0", "--log-level", "warn"},
      dir / "out.log", {{"MCA_LISTEN_PORT", port}});
  auto code = child.wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_EQ(child.output(),
            "mca-sidecar: port " + port +
                " on 127.0.0.1 is already in use; set MCA_LISTEN_PORT "
                "(or --port) to a free port\n");
}

// Opens `n` TLS connections at once and sends one GET each, keeping every
// connection open until all have answered.
struct flood_result {
  int ok = 0;
  int failed = 0;
  std::string first_error;
};

flood_result flood(unsigned short port, const std::string& ca, int n,
                   const std::function<void()>& while_open) {
  // The soft limit is often 1,024: too few for this process's own end.
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  asio::io_context ctx;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_peer);
  tls.add_certificate_authority(asio::buffer(ca));
  flood_result result;
  int answered = 0;
  asio::steady_timer all_answered(ctx,
                                  std::chrono::steady_clock::time_point::max());
  asio::steady_timer release(ctx, std::chrono::steady_clock::time_point::max());
  using stream_t = beast::ssl_stream<beast::tcp_stream>;
  std::vector<std::unique_ptr<stream_t>> streams;
  for (int i = 0; i < n; ++i) {
    streams.push_back(std::make_unique<stream_t>(ctx, tls));
    asio::co_spawn(
        ctx,
        [&, s = streams.back().get()]() -> asio::awaitable<void> {
          constexpr auto t = asio::as_tuple(asio::use_awaitable);
          auto fail = [&](const std::string& what) {
            ++result.failed;
            if (result.first_error.empty()) result.first_error = what;
          };
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->native_handle()),
                                        "127.0.0.1");
          auto& tcp = beast::get_lowest_layer(*s);
          tcp.expires_after(std::chrono::seconds(60));
          auto [cec] = co_await tcp.async_connect(
              {asio::ip::make_address("127.0.0.1"), port}, t);
          if (cec) {
            fail("connect: " + cec.message());
          } else if (auto [hec] = co_await s->async_handshake(
                         asio::ssl::stream_base::client, t);
                     hec) {
            fail("handshake: " + hec.message());
          } else {
            // Routed by the selector alone (to home): no locate.
            bhttp::request<bhttp::empty_body> req(
                bhttp::verb::get,
                "/api/v1/namespaces/default/"
                "configmaps?labelSelector=cluster%3Dhome",
                11);
            req.set(bhttp::field::host, "127.0.0.1");
            auto [wec, wn] = co_await bhttp::async_write(*s, req, t);
            beast::flat_buffer buf;
            bhttp::response<bhttp::string_body> res;
            auto [rec, rn] = co_await bhttp::async_read(*s, buf, res, t);
            if (wec || rec) {
              fail("exchange: " + (wec ? wec : rec).message());
            } else if (res.result_int() != 200) {
              fail("status " + std::to_string(res.result_int()) + ": " +
                   res.body());
            } else {
              ++result.ok;
            }
          }
          if (++answered == n) all_answered.cancel();
          // Hold the connection open until the caller has looked.
          co_await release.async_wait(t);
        },
        asio::detached);
  }
  std::thread runner([&] { ctx.run(); });
  while (answered < n)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  while_open();
  asio::post(ctx, [&] {
    release.cancel();
    for (auto& s : streams) beast::get_lowest_layer(*s).close();
  });
  runner.join();
  return result;
}

TEST_F(SidecarFaults, AThousandConcurrentConnectionsAreServedWithinBounds) {
  auto sidecar =
      sidecar_process::start(standard_routes(env_), {"--log-level", "info"});
  const long idle_rss = sidecar.process().status_kb("VmRSS");
  long open_rss = 0;
  long open_fd_count = 0;
  auto r = flood(sidecar.port(), sidecar.ca_pem(), 1000, [&] {
    open_rss = sidecar.process().status_kb("VmRSS");
    open_fd_count = sidecar.process().open_descriptors();
  });
  EXPECT_EQ(r.ok, 1000) << r.failed << " failed, first: " << r.first_error;
  // Every client connection is open at this point; upstream connections
  // beyond the idle pool have been closed again.
  EXPECT_GE(open_fd_count, 1000);
  EXPECT_LT(open_fd_count, 1100);
  EXPECT_LT(open_rss, 256 * 1024) << "RSS with 1,000 connections open, kB";
  // Once they close, descriptors go back down (no leak).
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  long after = sidecar.process().open_descriptors();
  while (after > 100 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = sidecar.process().open_descriptors();
  }
  EXPECT_LT(after, 100);
  EXPECT_EQ(sidecar.admin_get("/healthz").status, 200);
  std::cout << "sidecar RSS idle " << idle_rss << " kB, with 1,000 connections "
            << open_rss << " kB, " << open_fd_count << " descriptors\n";
}

}  // namespace
}  // namespace mca::test
