// The mTLS server on a loopback port, with the certificates
// scripts/gen-certs.sh makes (so the script is tested too): who gets in,
// who is refused at the handshake and what the log says about it, and the
// server's own answers (413, 431, 500, 504).
#include "server/mtls_server.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "common/process/run_process.hpp"
#include "common/util/text_file.hpp"

namespace replica_server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using client_request = bhttp::request<bhttp::string_body>;
using client_response = bhttp::response<bhttp::string_body>;

// Every log line, for tests that check what an operator would read.
class capture_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    text_.append(msg.payload.data(), msg.payload.size());
    text_ += '\n';
  }
  void flush_() override {}

 private:
  std::string text_;
};

std::string read(const fs::path& p) {
  auto text = mca::util::read_text_file(p);
  if (!text) throw std::runtime_error(text.error().message);
  return *text;
}

// A client over a fresh connection, as `identity` (a gen-certs.sh name,
// or "" for none), offering TLS versions up to `max_version`.
class tls_client {
 public:
  tls_client(const fs::path& certs, const std::string& identity,
             int max_version = TLS1_3_VERSION)
      : ctx_(asio::ssl::context::tls_client) {
    ctx_.load_verify_file((certs / "ca.crt").string());
    ctx_.set_verify_mode(asio::ssl::verify_peer);
    if (!identity.empty()) {
      ctx_.use_certificate_chain_file((certs / (identity + ".crt")).string());
      ctx_.use_private_key_file((certs / (identity + ".key")).string(),
                                asio::ssl::context::pem);
    }
    SSL_CTX_set_max_proto_version(ctx_.native_handle(), max_version);
    // After the context is complete: SSL_new copies what it holds.
    stream_.emplace(io_, ctx_);
  }

  // TCP connect and TLS handshake; the error, if any.
  boost::system::error_code connect(unsigned short port) {
    boost::system::error_code ec;
    stream_->next_layer().connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) stream_->handshake(asio::ssl::stream_base::client, ec);
    return ec;
  }

  // One request and its answer; nullopt (and `error` set) when the
  // connection fails instead.
  std::optional<client_response> send(const client_request& req,
                                      std::string& error) {
    boost::system::error_code ec;
    bhttp::write(*stream_, req, ec);
    if (ec) {
      error = ec.message();
      return std::nullopt;
    }
    client_response res;
    bhttp::read(*stream_, buffer_, res, ec);
    if (ec) {
      error = ec.message();
      return std::nullopt;
    }
    return res;
  }

  SSL* native() { return stream_->native_handle(); }

 private:
  asio::io_context io_;
  asio::ssl::context ctx_;
  std::optional<asio::ssl::stream<tcp::socket>> stream_;
  beast::flat_buffer buffer_;
};

client_request get(const std::string& target) {
  client_request req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  return req;
}

// Echoes the request; /slow outlasts every deadline, /throw throws.
asio::awaitable<api_reply> echo(api_request req) {
  if (req.target == "/slow") {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(30s);
    co_await t.async_wait(asio::use_awaitable);
  }
  if (req.target == "/throw") throw std::runtime_error("boom");
  api_reply r;
  r.status = 200;
  r.body = req.method + " " + req.target + " " + req.body;
  co_return r;
}

class MtlsServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new fs::path(fs::temp_directory_path() /
                          ("replica-server-certs-" + std::to_string(getpid())));
    mca::process::process_spec spec;
    spec.argv = {"bash", REPLICA_SERVER_SCRIPTS "/gen-certs.sh", "--force",
                 certs_->string()};
    spec.timeout = 60s;
    auto ran = mca::process::run_process(spec);
    ASSERT_TRUE(ran && ran->ok()) << (ran ? ran->out + ran->err : "no bash");
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*certs_, ignored);
    delete certs_;
  }

  void SetUp() override {
    sink_ = std::make_shared<capture_sink>();
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
    spdlog::set_level(spdlog::level::debug);
  }

  void start(server_limits limits = {}) {
    mtls_settings s;
    s.certificate = {"server.crt", read(*certs_ / "server.crt")};
    s.key = {"server.key", read(*certs_ / "server.key")};
    s.client_cas = {{"ca.crt", read(*certs_ / "ca.crt")}};
    auto ctx = mtls_context::create(s);
    ASSERT_TRUE(ctx) << ctx.error().message;
    server_config config;
    config.address = "127.0.0.1";
    config.port = 0;
    config.limits = limits;
    auto bound = mtls_server::bind(io_.get_executor(), *ctx, config, echo);
    ASSERT_TRUE(bound) << bound.error().message;
    server_ = std::move(*bound);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    spdlog::set_default_logger(previous_);
  }

  // Waits for the server to log `text` (it logs a refusal after the
  // client has seen it).
  bool logged(const std::string& text) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
      if (sink_->text().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // Whether `identity` with `max_version` gets an HTTP answer; the refusal
  // otherwise.
  std::string refusal_of(const std::string& identity,
                         int max_version = TLS1_3_VERSION) {
    tls_client client(*certs_, identity, max_version);
    if (auto ec = client.connect(server_->port())) return ec.message();
    std::string error;
    if (client.send(get("/x"), error)) return "";
    return error;
  }

  static inline fs::path* certs_ = nullptr;
  std::shared_ptr<capture_sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ =
      asio::make_work_guard(io_);
  std::thread thread_;
  std::unique_ptr<mtls_server> server_;
};

TEST_F(MtlsServer, ATrustedClientIsServedOverTls13WithKeepAlive) {
  start();
  tls_client client(*certs_, "client");
  ASSERT_FALSE(client.connect(server_->port()));
  EXPECT_EQ(SSL_version(client.native()), TLS1_3_VERSION);
  std::string error;
  auto first = client.send(get("/api/v1/health"), error);
  ASSERT_TRUE(first) << error;
  EXPECT_EQ(first->result_int(), 200);
  EXPECT_EQ(first->body(), "GET /api/v1/health ");
  EXPECT_EQ((*first)[bhttp::field::content_type], "application/json");
  EXPECT_EQ((*first)[bhttp::field::cache_control], "no-store");
  client_request put{bhttp::verb::put, "/p", 11};
  put.set(bhttp::field::host, "127.0.0.1");
  put.body() = "{}";
  put.prepare_payload();
  auto second = client.send(put, error);
  ASSERT_TRUE(second) << error;
  EXPECT_EQ(second->body(), "PUT /p {}");
  EXPECT_TRUE(
      logged("authenticated as \"CN=replica-client\" (issuer "
             "\"CN=replica-server-ca\", TLSv1.3)"));
  EXPECT_TRUE(logged("access: 127.0.0.1:"));
  EXPECT_EQ(server_->counts().requests, 2U);
}

TEST_F(MtlsServer, NoClientCertificateIsRefusedAndLogged) {
  start();
  EXPECT_THAT(refusal_of(""), HasSubstr("certificate required"));
  EXPECT_TRUE(logged("no client certificate presented")) << sink_->text();
  EXPECT_EQ(server_->counts().requests, 0U);
}

TEST_F(MtlsServer, AClientOfAnUnknownCaIsRefusedAndLogged) {
  start();
  EXPECT_THAT(refusal_of("unknown-client"), HasSubstr("unknown ca"));
  EXPECT_TRUE(
      logged("client certificate refused: unable to get local issuer "
             "certificate (subject "
             "\"CN=replica-client-of-unknown-ca\", issuer "
             "\"CN=unknown-ca\", depth 0)"))
      << sink_->text();
}

TEST_F(MtlsServer, AnExpiredCertificateIsRefusedAndLogged) {
  start();
  EXPECT_THAT(refusal_of("expired-client"), HasSubstr("certificate expired"));
  EXPECT_TRUE(
      logged("client certificate refused: certificate has expired "
             "(subject \"CN=replica-client-expired\""))
      << sink_->text();
}

TEST_F(MtlsServer, TheServersOwnCertificateIsNotAClientCertificate) {
  start();
  // Issued by the trusted CA, but for serverAuth only.
  EXPECT_FALSE(refusal_of("server").empty());
  EXPECT_TRUE(logged("unsuitable certificate purpose")) << sink_->text();
}

TEST_F(MtlsServer, Tls12IsRefusedAndLogged) {
  start();
  EXPECT_THAT(refusal_of("client", TLS1_2_VERSION),
              HasSubstr("protocol version"));
  EXPECT_TRUE(logged("the client does not offer TLS 1.3")) << sink_->text();
  EXPECT_GE(server_->counts().handshakes_refused, 1U);
}

TEST_F(MtlsServer, ABodyOverTheLimitIs413) {
  server_limits limits;
  limits.max_body_bytes = 16;
  start(limits);
  tls_client client(*certs_, "client");
  ASSERT_FALSE(client.connect(server_->port()));
  client_request put{bhttp::verb::put, "/p", 11};
  put.set(bhttp::field::host, "127.0.0.1");
  put.body() = std::string(17, 'x');
  put.prepare_payload();
  std::string error;
  auto res = client.send(put, error);
  ASSERT_TRUE(res) << error;
  EXPECT_EQ(res->result_int(), 413);
  EXPECT_EQ(
      res->body(),
      R"x({"error":"the request body is larger than the server accepts (16 bytes)"})x");
  EXPECT_FALSE(res->keep_alive());
}

TEST_F(MtlsServer, HeadersOverTheLimitAre431) {
  server_limits limits;
  limits.max_header_bytes = 1024;
  start(limits);
  tls_client client(*certs_, "client");
  ASSERT_FALSE(client.connect(server_->port()));
  auto req = get("/x");
  req.set("X-Big", std::string(2000, 'y'));
  std::string error;
  auto res = client.send(req, error);
  ASSERT_TRUE(res) << error;
  EXPECT_EQ(res->result_int(), 431);
}

TEST_F(MtlsServer, AHandlerPastItsDeadlineIs504) {
  server_limits limits;
  limits.handler_timeout = 200ms;
  start(limits);
  tls_client client(*certs_, "client");
  ASSERT_FALSE(client.connect(server_->port()));
  std::string error;
  auto res = client.send(get("/slow"), error);
  ASSERT_TRUE(res) << error;
  EXPECT_EQ(res->result_int(), 504);
  EXPECT_EQ(res->body(), R"({"error":"the request took longer than 200 ms"})");
  // The connection still serves.
  res = client.send(get("/x"), error);
  ASSERT_TRUE(res) << error;
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(server_->counts().handler_failures, 1U);
}

TEST_F(MtlsServer, AHandlerThatThrowsIs500WithoutDetails) {
  start();
  tls_client client(*certs_, "client");
  ASSERT_FALSE(client.connect(server_->port()));
  std::string error;
  auto res = client.send(get("/throw"), error);
  ASSERT_TRUE(res) << error;
  EXPECT_EQ(res->result_int(), 500);
  EXPECT_EQ(res->body(), R"({"error":"internal error; see the server's log"})");
  EXPECT_TRUE(logged("boom"));
}

TEST_F(MtlsServer, AnIdleConnectionIsClosed) {
  server_limits limits;
  limits.idle_timeout = 200ms;
  start(limits);
  tls_client client(*certs_, "client");
  ASSERT_FALSE(client.connect(server_->port()));
  std::string error;
  ASSERT_TRUE(client.send(get("/x"), error)) << error;
  std::this_thread::sleep_for(600ms);
  EXPECT_FALSE(client.send(get("/x"), error));
}

TEST_F(MtlsServer, AStalledHandshakeIsClosed) {
  server_limits limits;
  limits.handshake_timeout = 200ms;
  start(limits);
  asio::io_context io;
  tcp::socket raw(io);
  raw.connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  EXPECT_TRUE(logged("the handshake did not finish within 200 ms"));
}

TEST_F(MtlsServer, APortInUseIsAClearError) {
  start();
  mtls_settings s;
  s.certificate = {"server.crt", read(*certs_ / "server.crt")};
  s.key = {"server.key", read(*certs_ / "server.key")};
  s.client_cas = {{"ca.crt", read(*certs_ / "ca.crt")}};
  server_config config;
  config.port = server_->port();
  auto again = mtls_server::bind(io_.get_executor(), *mtls_context::create(s),
                                 config, echo);
  ASSERT_FALSE(again);
  EXPECT_THAT(again.error().message,
              HasSubstr("port " + std::to_string(server_->port()) +
                        " on 127.0.0.1 is already in use; pass --listen"));
}

TEST(MtlsContext, NeedsAClientCa) {
  mtls_settings s;
  auto ctx = mtls_context::create(s);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("no client CA"));
}

TEST(MtlsContext, NamesABadCaFile) {
  mtls_settings s;
  s.client_cas = {{"/etc/ca.pem", "not pem"}};
  // The serving pair is checked first; give it one that cannot load to
  // see that the message names that file instead.
  s.certificate = {"/etc/tls.crt", "nope"};
  s.key = {"/etc/tls.key", "nope"};
  auto ctx = mtls_context::create(s);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("/etc/tls.crt"));
}

}  // namespace
}  // namespace replica_server
