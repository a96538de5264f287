// 101 Switching Protocols through the sidecar: a WebSocket client talks to
// an echo TEST DOUBLE (tests/support/websocket_echo_server: the local
// clusters have no kubelet, so no real exec stream exists) routed as a
// target; bytes must flow both ways and no app identity may reach it.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <gmock/gmock.h>
#include <nlohmann/json.hpp>
#include <openssl/x509v3.h>

#include "common/tls/self_signed.hpp"
#include "support/sidecar_process.hpp"
#include "support/websocket_echo_server.hpp"

namespace mca::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

class UpgradeThroughSidecar : public ::testing::Test {
 protected:
  void SetUp() override {
    tls::serving_identity_options o;
    o.ip_addresses = {"127.0.0.1"};
    o.not_before = std::chrono::system_clock::now() - std::chrono::minutes(1);
    auto id = tls::make_serving_identity(o);
    ASSERT_TRUE(id) << id.error().message;
    auto echo =
        websocket_echo_server::start(id->serving.key_pem, id->serving.cert_pem);
    ASSERT_TRUE(echo) << echo.error().message;
    echo_ = std::move(*echo);
    std::string ca = id->ca.cert_pem;
    std::string indented;
    for (char c : ca) {
      indented += c;
      if (c == '\n') indented += "      ";
    }
    const std::string routes =
        "apiVersion: mca.x-k8s.io/v1alpha1\nkind: RoutingTable\npolicy: "
        "e2e/echo\n"
        "targets:\n  - name: echo\n    server: " +
        echo_->server_url() + "\n    caData: |\n      " + indented +
        "\n    credentials: {token: {value: echo-target-token}}\n"
        "defaultTarget: echo\nrules: []\n";
    sidecar_ =
        std::make_unique<sidecar_process>(sidecar_process::start(routes));
  }

  std::unique_ptr<websocket_echo_server> echo_;
  std::unique_ptr<sidecar_process> sidecar_;
};

// One WebSocket session through the sidecar as an app would open it for
// exec, with its own token and impersonation headers. `step` says how far
// it got when something throws.
void echo_through(const sidecar_process& sidecar, std::string& step) {
  asio::io_context ctx;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_peer);
  tls.add_certificate_authority(asio::buffer(sidecar.ca_pem()));
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ctx, tls);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ws.next_layer().native_handle()),
                                "127.0.0.1");
  auto& tcp = beast::get_lowest_layer(ws);
  tcp.expires_after(std::chrono::seconds(20));
  tcp.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                      sidecar.port()));
  step = "TLS handshake";
  ws.next_layer().handshake(asio::ssl::stream_base::client);
  ws.set_option(
      websocket::stream_base::decorator([](websocket::request_type& req) {
        req.set(beast::http::field::authorization, "Bearer the-apps-own-token");
        req.insert("Impersonate-User", "intruder");
        req.insert("Impersonate-Group", "system:masters");
      }));
  step = "WebSocket handshake";
  tcp.expires_never();
  ws.handshake(
      "127.0.0.1",
      "/api/v1/namespaces/ws/pods/p/exec?command=sh&stdin=true&stdout=true");

  step = "text echo";
  ws.text(true);
  ws.write(asio::buffer(std::string("hello through the sidecar")));
  beast::flat_buffer buf;
  ws.read(buf);
  EXPECT_EQ(beast::buffers_to_string(buf.data()), "hello through the sidecar");
  EXPECT_TRUE(ws.got_text());

  step = "binary echo";
  std::string blob(64 * 1024, '\0');
  for (std::size_t i = 0; i < blob.size(); ++i) {
    blob[i] = static_cast<char>(i * 7);
  }
  ws.binary(true);
  ws.write(asio::buffer(blob));
  buf.clear();
  ws.read(buf);
  EXPECT_EQ(beast::buffers_to_string(buf.data()), blob);
  EXPECT_TRUE(ws.got_binary());
  step = "close";
  ws.close(websocket::close_code::normal);
}

TEST_F(UpgradeThroughSidecar, WebSocketBytesFlowBothWaysAndIdentityIsReplaced) {
  std::string step = "connect";
  try {
    echo_through(*sidecar_, step);
  } catch (const std::exception& e) {
    FAIL() << "at " << step << ": " << e.what() << "\n"
           << sidecar_->process().output();
  }
  auto seen = echo_->last_request();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(
      seen->target,
      "/api/v1/namespaces/ws/pods/p/exec?command=sh&stdin=true&stdout=true");
  EXPECT_EQ(seen->authorization, "Bearer echo-target-token");
  EXPECT_TRUE(seen->impersonate.empty());
}

TEST_F(UpgradeThroughSidecar, OrdinaryRequestCarriesTheTargetsTokenOnly) {
  raw_request req;
  req.target = "/api/v1/namespaces/ws/configmaps/x";
  req.headers = {{"Authorization", "Bearer the-apps-own-token"},
                 {"X-Remote-User", "intruder"}};
  auto res = sidecar_->request(req);
  ASSERT_EQ(res.status, 200) << res.error << res.body;
  auto j = nlohmann::json::parse(res.body);
  EXPECT_EQ(j["kind"], "Echo");
  EXPECT_EQ(j["authorization"], "Bearer echo-target-token");
}

}  // namespace
}  // namespace mca::test
