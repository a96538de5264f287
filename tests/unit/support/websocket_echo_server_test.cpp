#include "support/websocket_echo_server.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <random>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/tls/self_signed.hpp"
#include "support/async.hpp"

namespace mca::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ssl_stream = beast::ssl_stream<beast::tcp_stream>;
using ws_stream = websocket::stream<ssl_stream>;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::Pair;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

tls::serving_identity identity() {
  tls::serving_identity_options o;
  o.dns_names = {"localhost"};
  o.ip_addresses = {"127.0.0.1"};
  o.not_before = std::chrono::system_clock::now() - 1min;
  auto id = tls::make_serving_identity(o);
  if (!id) {
    ADD_FAILURE() << id.error().message;
    return {};
  }
  return *id;
}

std::unique_ptr<websocket_echo_server> start(const tls::serving_identity& id) {
  auto server =
      websocket_echo_server::start(id.serving.key_pem, id.serving.cert_pem);
  if (!server) {
    ADD_FAILURE() << server.error().message;
    return nullptr;
  }
  return std::move(*server);
}

std::string random_bytes(std::size_t n) {
  std::mt19937 gen(42);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(byte(gen));
  return out;
}

// Connects `stream` (whose context trusts only the test CA) to the server
// and completes the TLS handshake, checking the certificate is for
// 127.0.0.1. Returns the failed step, or empty.
asio::awaitable<std::string> connect_tls(ssl_stream* stream,
                                         unsigned short port) {
  auto& lowest = beast::get_lowest_layer(*stream);
  lowest.expires_after(10s);
  auto [cec] = co_await lowest.async_connect(
      tcp::endpoint(asio::ip::address_v4::loopback(), port), use_tuple);
  if (cec) co_return "connect: " + cec.message();
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream->native_handle()),
                                "127.0.0.1");
  auto [hec] =
      co_await stream->async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) co_return "TLS handshake: " + hec.message();
  co_return "";
}

std::unique_ptr<ssl::context> client_context(const std::string& ca_pem) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->add_certificate_authority(asio::buffer(ca_pem), ec);
  EXPECT_FALSE(ec) << ec.message();
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

struct round_trip_result {
  std::string failure;  // the step that failed, or empty
  std::string subprotocol;
  std::string text;
  bool text_was_text = false;
  std::string binary;
  bool binary_was_binary = false;
};

asio::awaitable<round_trip_result> websocket_round_trip(unsigned short port,
                                                        std::string ca_pem,
                                                        std::string binary) {
  round_trip_result out;
  auto ctx = client_context(ca_pem);
  ws_stream ws(co_await asio::this_coro::executor, *ctx);
  if (out.failure = co_await connect_tls(&ws.next_layer(), port);
      !out.failure.empty()) {
    co_return out;
  }
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(
      websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws.set_option(
      websocket::stream_base::decorator([](websocket::request_type& req) {
        req.set(bhttp::field::authorization, "Bearer app-token");
        req.insert("Impersonate-User", "alice");
        req.insert("Impersonate-Group", "dev");
        req.insert("Impersonate-Group", "ops");
        req.insert("Impersonate-Extra-Scopes", "view");
        req.set(bhttp::field::sec_websocket_protocol,
                "v5.channel.k8s.io, v4.channel.k8s.io");
      }));
  websocket::response_type res;
  auto [wsec] = co_await ws.async_handshake(
      res, "127.0.0.1:" + std::to_string(port),
      "/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true",
      use_tuple);
  if (wsec) {
    out.failure = "WebSocket handshake: " + wsec.message();
    co_return out;
  }
  out.subprotocol = std::string(res[bhttp::field::sec_websocket_protocol]);

  beast::flat_buffer buffer;
  ws.text(true);
  auto [t1, tn1] = co_await ws.async_write(
      asio::buffer(std::string_view("hello")), use_tuple);
  auto [t2, tn2] = co_await ws.async_read(buffer, use_tuple);
  if (t1 || t2) {
    out.failure = "text echo: " + (t1 ? t1 : t2).message();
    co_return out;
  }
  out.text = beast::buffers_to_string(buffer.data());
  out.text_was_text = ws.got_text();
  buffer.consume(buffer.size());

  ws.binary(true);
  auto [b1, bn1] = co_await ws.async_write(asio::buffer(binary), use_tuple);
  auto [b2, bn2] = co_await ws.async_read(buffer, use_tuple);
  if (b1 || b2) {
    out.failure = "binary echo: " + (b1 ? b1 : b2).message();
    co_return out;
  }
  out.binary = beast::buffers_to_string(buffer.data());
  out.binary_was_binary = ws.got_binary();

  auto [cec] =
      co_await ws.async_close(websocket::close_code::normal, use_tuple);
  if (cec) out.failure = "close: " + cec.message();
  co_return out;
}

TEST(WebsocketEchoServer, EchoesTextAndBinaryAndRecordsTheUpgrade) {
  const auto id = identity();
  auto server = start(id);
  ASSERT_TRUE(server);
  EXPECT_NE(server->port(), 0);
  EXPECT_EQ(server->server_url(),
            "https://127.0.0.1:" + std::to_string(server->port()));
  EXPECT_FALSE(server->last_request());

  const auto payload = random_bytes(std::size_t{64} * 1024);
  asio::io_context io;
  const auto out = run_sync(
      io, websocket_round_trip(server->port(), id.ca.cert_pem, payload), 20s);
  ASSERT_EQ(out.failure, "");
  EXPECT_EQ(out.subprotocol, "v5.channel.k8s.io");
  EXPECT_EQ(out.text, "hello");
  EXPECT_TRUE(out.text_was_text);
  EXPECT_EQ(out.binary.size(), payload.size());
  EXPECT_TRUE(out.binary == payload);
  EXPECT_TRUE(out.binary_was_binary);

  const auto seen = server->last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->method, "GET");
  EXPECT_EQ(seen->target,
            "/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true");
  EXPECT_EQ(seen->authorization, "Bearer app-token");
  EXPECT_THAT(seen->impersonate,
              ElementsAre(Pair("Impersonate-User", "alice"),
                          Pair("Impersonate-Group", "dev"),
                          Pair("Impersonate-Group", "ops"),
                          Pair("Impersonate-Extra-Scopes", "view")));
}

struct get_result {
  std::string failure;
  std::vector<nlohmann::json> bodies;
  std::vector<bool> keep_alive;
};

// Two GETs on one connection: the second only works if the first kept it
// alive.
asio::awaitable<get_result> two_gets(unsigned short port, std::string ca_pem) {
  get_result out;
  auto ctx = client_context(ca_pem);
  ssl_stream stream(co_await asio::this_coro::executor, *ctx);
  if (out.failure = co_await connect_tls(&stream, port); !out.failure.empty()) {
    co_return out;
  }
  beast::flat_buffer buffer;
  for (const auto* auth : {"Bearer app-token", ""}) {
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/version?x=1", 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (*auth != '\0') req.set(bhttp::field::authorization, auth);
    beast::get_lowest_layer(stream).expires_after(10s);
    auto [wec, wn] = co_await bhttp::async_write(stream, req, use_tuple);
    bhttp::response<bhttp::string_body> res;
    auto [rec, rn] = co_await bhttp::async_read(stream, buffer, res, use_tuple);
    if (wec || rec) {
      out.failure = "GET: " + (wec ? wec : rec).message();
      co_return out;
    }
    if (res.result() != bhttp::status::ok) {
      out.failure = "status " + std::to_string(res.result_int());
      co_return out;
    }
    out.bodies.push_back(nlohmann::json::parse(res.body(), nullptr, false));
    out.keep_alive.push_back(res.keep_alive());
  }
  co_return out;
}

TEST(WebsocketEchoServer, PlainRequestsGetJsonNamingTargetAndAuthorization) {
  const auto id = identity();
  auto server = start(id);
  ASSERT_TRUE(server);
  asio::io_context io;
  const auto out = run_sync(io, two_gets(server->port(), id.ca.cert_pem), 20s);
  ASSERT_EQ(out.failure, "");
  ASSERT_EQ(out.bodies.size(), 2U);
  EXPECT_EQ(out.bodies[0],
            nlohmann::json({{"kind", "Echo"},
                            {"target", "/version?x=1"},
                            {"authorization", "Bearer app-token"}}));
  EXPECT_EQ(out.bodies[1], nlohmann::json({{"kind", "Echo"},
                                           {"target", "/version?x=1"},
                                           {"authorization", ""}}));
  EXPECT_THAT(out.keep_alive, ElementsAre(true, true));
  // Only upgrades are recorded.
  EXPECT_FALSE(server->last_request());
}

// Opens a WebSocket, then runs `stop` (destroying the server) and reports
// how the open connection ended.
asio::awaitable<std::string> stop_while_open(unsigned short port,
                                             std::string ca_pem,
                                             std::function<void()> stop) {
  auto ctx = client_context(ca_pem);
  ws_stream ws(co_await asio::this_coro::executor, *ctx);
  if (auto failure = co_await connect_tls(&ws.next_layer(), port);
      !failure.empty()) {
    co_return failure;
  }
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(
      websocket::stream_base::timeout::suggested(beast::role_type::client));
  auto [hec] = co_await ws.async_handshake("127.0.0.1", "/exec", use_tuple);
  if (hec) co_return "WebSocket handshake: " + hec.message();
  stop();
  beast::flat_buffer buffer;
  auto [rec, rn] = co_await ws.async_read(buffer, use_tuple);
  co_return rec ? std::string("closed") : std::string("unexpected message");
}

TEST(WebsocketEchoServer, DestructorClosesOpenConnectionsPromptly) {
  const auto id = identity();
  auto server = start(id);
  ASSERT_TRUE(server);
  const auto port = server->port();
  asio::io_context io;
  std::chrono::steady_clock::duration stop_took{};
  const auto out = run_sync(
      io,
      stop_while_open(port, id.ca.cert_pem,
                      [&] {
                        const auto t0 = std::chrono::steady_clock::now();
                        server.reset();
                        stop_took = std::chrono::steady_clock::now() - t0;
                      }),
      20s);
  EXPECT_EQ(out, "closed");
  EXPECT_FALSE(server);
  // Well under the 10 s fallback: the connections were closed, not
  // abandoned.
  EXPECT_LT(stop_took, 5s);
}

TEST(WebsocketEchoServer, InvalidKeyOrCertificateIsAnError) {
  const auto id = identity();
  auto r = websocket_echo_server::start("not a key", id.serving.cert_pem);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("key"));
  r = websocket_echo_server::start(id.serving.key_pem, "not a certificate");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("certificate"));
  // A key that does not belong to the certificate.
  r = websocket_echo_server::start(id.ca.key_pem, id.serving.cert_pem);
  ASSERT_FALSE(r);
}

}  // namespace
}  // namespace mca::test
