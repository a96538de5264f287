#include "operator/webhook/webhook_server.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/tls/self_signed.hpp"
#include "common/util/base64.hpp"
#include "operator/webhook/admission_review.hpp"
#include "operator/webhook/webhook_tls_context.hpp"

namespace mca::op {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using client_request = bhttp::request<bhttp::string_body>;
using client_response = bhttp::response<bhttp::string_body>;
using route_map = std::map<std::string, webhook_handler, std::less<>>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

tls::serving_identity make_identity(const std::string& name) {
  tls::serving_identity_options o;
  o.ca_common_name = name + "-ca";
  o.common_name = name;
  o.dns_names = {"mca-webhook.mca-system.svc"};
  o.ip_addresses = {"127.0.0.1"};
  o.not_before = std::chrono::system_clock::now() - 5min;
  auto id = tls::make_serving_identity(o);
  if (!id) {
    ADD_FAILURE() << id.error().message;
    return {};
  }
  return *id;
}

std::shared_ptr<const webhook_tls_context> context_of(
    const tls::serving_identity& id) {
  auto ctx =
      webhook_tls_context::create(id.serving.cert_pem, id.serving.key_pem);
  if (!ctx) {
    ADD_FAILURE() << ctx.error().message;
    return nullptr;
  }
  return *ctx;
}

// SHA-256 of a certificate's DER, lowercase hex, computed here rather than
// by the code under test.
std::string fingerprint_of_x509(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), md.data(), &n) != 1) {
    return "";
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 0x0f]);
  }
  return out;
}

std::string fingerprint_of_pem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  std::string out = fingerprint_of_x509(cert);
  X509_free(cert);
  BIO_free(bio);
  return out;
}

client_request post(std::string_view target, std::string body) {
  client_request req{bhttp::verb::post, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.set(bhttp::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

struct client_options {
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  // Offered in this order; empty: no ALPN extension.
  std::vector<std::string> alpn = {"h2", "http/1.1"};
  std::chrono::milliseconds handshake_timeout = 5s;
};

// A client on Beast's TLS stream and its own io_context, run on the test's
// thread, verifying the server against the given CAs and 127.0.0.1.
class https_client {
 public:
  explicit https_client(const std::vector<std::string>& trusted_ca_pems,
                        client_options options = {})
      : ctx_(asio::ssl::context::tls_client), options_(std::move(options)) {
    SSL_CTX* n = ctx_.native_handle();
    if (options_.max_version < TLS1_2_VERSION) {
      // OpenSSL 3 refuses TLS 1.1 itself at the default security level;
      // the test needs a client that really offers it.
      SSL_CTX_set_security_level(n, 0);
      SSL_CTX_set_cipher_list(n, "DEFAULT:@SECLEVEL=0");
    }
    SSL_CTX_set_min_proto_version(n, options_.min_version);
    SSL_CTX_set_max_proto_version(n, options_.max_version);
    ctx_.set_verify_mode(asio::ssl::verify_peer);
    for (const auto& pem : trusted_ca_pems) {
      ctx_.add_certificate_authority(asio::buffer(pem));
    }
  }

  // "" once connected and handshaken, else why not.
  std::string connect(unsigned short port) {
    stream_.emplace(io_, ctx_);
    SSL* ssl = stream_->native_handle();
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
    if (!options_.alpn.empty()) {
      std::string wire;
      for (const auto& p : options_.alpn) {
        wire.push_back(static_cast<char>(p.size()));
        wire += p;
      }
      SSL_set_alpn_protos(ssl,
                          reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
    }
    return run(do_connect(port));
  }

  // The response, or nullopt with error() set.
  std::optional<client_response> exchange(client_request req) {
    return run(do_exchange(std::move(req)));
  }

  // One more response from the stream, e.g. after a 100 Continue.
  std::optional<client_response> read_response() {
    return run(do_read_response());
  }

  // Reads until the stream ends: "close_notify" when the server ended it
  // cleanly, else the error (reset, truncated, timeout).
  std::string how_it_ends(std::chrono::milliseconds limit = 5s) {
    return run(do_read_to_end(limit));
  }

  const std::string& error() const { return error_; }

  std::string peer_fingerprint() {
    X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
    std::string out = fingerprint_of_x509(cert);
    X509_free(cert);
    return out;
  }
  std::string alpn() {
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(stream_->native_handle(), &p, &n);
    return {reinterpret_cast<const char*>(p), n};
  }
  int version() { return SSL_version(stream_->native_handle()); }

 private:
  template <class T>
  T run(asio::awaitable<T> op) {
    auto done = asio::co_spawn(io_, std::move(op), asio::use_future);
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    io_.restart();
    while (done.wait_for(0s) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "a client operation hung";
        std::abort();
      }
      io_.run_one_for(50ms);
    }
    return done.get();
  }

  asio::awaitable<std::string> do_connect(unsigned short port) {
    auto& lowest = beast::get_lowest_layer(*stream_);
    lowest.expires_after(options_.handshake_timeout);
    auto [cec] = co_await lowest.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), use_tuple);
    if (cec) co_return "connect: " + cec.message();
    auto [hec] = co_await stream_->async_handshake(
        asio::ssl::stream_base::client, use_tuple);
    if (hec) co_return hec.message();
    co_return "";
  }

  asio::awaitable<std::optional<client_response>> do_exchange(
      client_request req) {
    beast::get_lowest_layer(*stream_).expires_after(5s);
    auto [wec, wn] = co_await bhttp::async_write(*stream_, req, use_tuple);
    if (wec) {
      error_ = "write: " + wec.message();
      co_return std::nullopt;
    }
    co_return co_await do_read_response();
  }

  asio::awaitable<std::optional<client_response>> do_read_response() {
    beast::get_lowest_layer(*stream_).expires_after(5s);
    client_response res;
    auto [rec, rn] =
        co_await bhttp::async_read(*stream_, buffer_, res, use_tuple);
    if (rec) {
      error_ = "read: " + rec.message();
      co_return std::nullopt;
    }
    co_return res;
  }

  asio::awaitable<std::string> do_read_to_end(std::chrono::milliseconds limit) {
    beast::get_lowest_layer(*stream_).expires_after(limit);
    std::array<char, 4096> sink{};
    for (;;) {
      auto [ec, n] =
          co_await stream_->async_read_some(asio::buffer(sink), use_tuple);
      if (!ec) continue;
      if (ec == asio::error::eof) co_return "close_notify";
      co_return ec.message();
    }
  }

  asio::io_context io_;
  asio::ssl::context ctx_;
  client_options options_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  std::string error_;
};

// A handler that says what it was given.
asio::awaitable<webhook_http_reply> echo(webhook_http_request req) {
  webhook_http_reply r;
  r.content_type = "text/plain";
  r.body =
      req.method + " " + req.target + " [" + req.content_type + "] " + req.body;
  co_return r;
}

asio::awaitable<webhook_http_reply> throws(webhook_http_request /*req*/) {
  throw std::runtime_error("boom");
  co_return webhook_http_reply{};
}

// Sleeps `for_how_long` and cannot be cancelled: its timer is bound to a
// slot nobody signals, as a handler stuck in something uncancellable.
webhook_handler stubborn(std::chrono::milliseconds for_how_long) {
  return [for_how_long](
             webhook_http_request) -> asio::awaitable<webhook_http_reply> {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(for_how_long);
    co_await t.async_wait(
        asio::bind_cancellation_slot(asio::cancellation_slot(), use_tuple));
    webhook_http_reply r;
    r.body = "late";
    co_return r;
  };
}

// The handler a review goes to: what the lead's injection does, minus the
// injection.
asio::awaitable<webhook_http_reply> review(webhook_http_request req) {
  webhook_http_reply r;
  auto parsed = parse_admission_review(req.body);
  if (!parsed) {
    r.body = admission_denied(parsed.error().uid, 400, "BadRequest",
                              parsed.error().error.message);
    co_return r;
  }
  if (parsed->namespace_name == "explode") throw std::runtime_error("kaput");
  const json patch = json::array({{{"op", "add"},
                                   {"path", "/metadata/labels"},
                                   {"value", json::object()}}});
  r.body =
      admission_allowed(parsed->uid, parsed->dry_run ? nullptr : &patch, {});
  co_return r;
}

std::string review_body(const std::string& uid, const std::string& ns,
                        bool dry_run) {
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request",
               {{"uid", uid},
                {"operation", "CREATE"},
                {"namespace", ns},
                {"dryRun", dry_run},
                {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                {"object", {{"kind", "Pod"}}}}}}
      .dump();
}

// The server's io_context runs on its own thread, so that the clients can
// block the test's.
class WebhookServer : public ::testing::Test {
 protected:
  template <class F>
  auto on_io(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto done = task.get_future();
    asio::post(io_, [&task] { task(); });
    if (done.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "the io thread did not answer";
      std::abort();
    }
    return done.get();
  }

  template <class Pred>
  bool wait_for(Pred done, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  void SetUp() override {
    a_ = make_identity("webhook-a");
    b_ = make_identity("webhook-b");
    current_.store(context_of(a_));
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->stop();
      EXPECT_TRUE(wait_for([this] { return server_->counts().open == 0; }));
    }
    work_.reset();
    io_.stop();
    io_thread_.join();
    server_.reset();
  }

  webhook_server_config config() {
    webhook_server_config c;
    c.address = "127.0.0.1";
    c.port = 0;
    return c;
  }

  route_map echo_routes() {
    route_map routes;
    routes["/mutate"] = echo;
    routes["/healthz"] = echo;
    return routes;
  }

  void start(webhook_server_config c, route_map routes) {
    auto bound = on_io([&] {
      return webhook_server::bind(
          io_.get_executor(), [this] { return current_.load(); }, std::move(c),
          std::move(routes));
    });
    ASSERT_TRUE(bound) << bound.error().message;
    server_ = std::move(*bound);
    on_io([this] {
      server_->start();
      return 0;
    });
  }
  void start() { start(config(), echo_routes()); }

  std::unique_ptr<https_client> connect(const client_options& o = {}) {
    auto c = std::make_unique<https_client>(
        std::vector<std::string>{a_.ca.cert_pem, b_.ca.cert_pem}, o);
    const std::string why = c->connect(server_->port());
    EXPECT_EQ(why, "");
    return why.empty() ? std::move(c) : nullptr;
  }

  // The reason a handshake fails, or "" if it succeeds.
  std::string refusal(client_options o) {
    https_client c({a_.ca.cert_pem, b_.ca.cert_pem}, std::move(o));
    return c.connect(server_->port());
  }

  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ =
      asio::make_work_guard(io_);
  std::thread io_thread_;
  tls::serving_identity a_;
  tls::serving_identity b_;
  std::atomic<std::shared_ptr<const webhook_tls_context>> current_;
  std::unique_ptr<webhook_server> server_;
};

TEST_F(WebhookServer, PostReachesTheHandlerOverTlsWithHttp11) {
  start();
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_GE(c->version(), TLS1_2_VERSION);
  EXPECT_EQ(c->alpn(), "http/1.1");
  EXPECT_EQ(c->peer_fingerprint(), fingerprint_of_pem(a_.serving.cert_pem));

  auto res = c->exchange(post("/mutate?timeout=10s", R"({"x":1})"));
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ((*res)[bhttp::field::content_type], "text/plain");
  // The query goes to the handler; only routing ignores it.
  EXPECT_EQ(res->body(),
            R"(POST /mutate?timeout=10s [application/json] {"x":1})");
  EXPECT_TRUE(res->keep_alive());
  EXPECT_EQ(server_->counts().requests, 1u);
}

TEST_F(WebhookServer, KeepAliveServesManyRequestsOnOneConnection) {
  start();
  auto c = connect();
  ASSERT_TRUE(c);
  auto first = c->exchange(post("/mutate", "one"));
  ASSERT_TRUE(first) << c->error();
  EXPECT_THAT(first->body(), HasSubstr("one"));
  client_request get{bhttp::verb::get, "/healthz", 11};
  get.set(bhttp::field::host, "127.0.0.1");
  auto second = c->exchange(get);
  ASSERT_TRUE(second) << c->error();
  // The handler, not the server, decides what a method means.
  EXPECT_EQ(second->body(), "GET /healthz [] ");
  EXPECT_EQ(server_->counts().accepted, 1u);
  EXPECT_EQ(server_->counts().requests, 2u);
}

TEST_F(WebhookServer, ClientCloseIsAnsweredWithCloseNotify) {
  start();
  auto c = connect();
  ASSERT_TRUE(c);
  auto req = post("/mutate", "last");
  req.keep_alive(false);
  auto res = c->exchange(req);
  ASSERT_TRUE(res) << c->error();
  EXPECT_FALSE(res->keep_alive());
  EXPECT_EQ(c->how_it_ends(), "close_notify");
  EXPECT_TRUE(wait_for([&] { return server_->counts().open == 0; }));
}

TEST_F(WebhookServer, UnknownPathIsA404StatusAndTheConnectionGoesOn) {
  start();
  auto c = connect();
  ASSERT_TRUE(c);
  auto res = c->exchange(post("/validate?timeout=5s", "{}"));
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->result_int(), 404u);
  EXPECT_EQ((*res)[bhttp::field::content_type], "application/json");
  const json status = json::parse(res->body());
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["code"], 404);
  EXPECT_EQ(status["reason"], "NotFound");
  EXPECT_THAT(status["message"].get<std::string>(),
              HasSubstr("no path \"/validate\"; it serves /healthz, /mutate"));
  auto again = c->exchange(post("/mutate", "ok"));
  ASSERT_TRUE(again) << c->error();
  EXPECT_EQ(again->result_int(), 200u);
  EXPECT_EQ(server_->counts().refused, 1u);
}

TEST_F(WebhookServer, OversizeBodyIsA413ThenTheConnectionCloses) {
  auto cfg = config();
  cfg.limits.max_body_bytes = 1024;
  start(cfg, echo_routes());
  auto c = connect();
  ASSERT_TRUE(c);
  auto res = c->exchange(post("/mutate", std::string(4096, 'x')));
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->result_int(), 413u);
  EXPECT_FALSE(res->keep_alive());
  const json status = json::parse(res->body());
  EXPECT_EQ(status["reason"], "RequestEntityTooLarge");
  EXPECT_THAT(status["message"].get<std::string>(),
              HasSubstr("larger than the webhook accepts (1024 bytes)"));
  EXPECT_EQ(c->how_it_ends(), "close_notify");
}

TEST_F(WebhookServer, OversizeHeadersAreA431) {
  auto cfg = config();
  cfg.limits.max_header_bytes = 1024;
  start(cfg, echo_routes());
  auto c = connect();
  ASSERT_TRUE(c);
  auto req = post("/mutate", "{}");
  req.set("X-Padding", std::string(2048, 'p'));
  auto res = c->exchange(req);
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->result_int(), 431u);
  EXPECT_FALSE(res->keep_alive());
}

TEST_F(WebhookServer, ExpectContinueIsAnswered) {
  start();
  auto c = connect();
  ASSERT_TRUE(c);
  auto req = post("/mutate", "big");
  req.set(bhttp::field::expect, "100-continue");
  auto interim = c->exchange(req);
  ASSERT_TRUE(interim) << c->error();
  EXPECT_EQ(interim->result_int(), 100u);
  auto res = c->read_response();
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_THAT(res->body(), HasSubstr("big"));
}

TEST_F(WebhookServer, AThrowingHandlerGetsTheFailureReplyNot500) {
  auto cfg = config();
  std::string seen;
  cfg.on_handler_failure = [&seen](std::string_view what) {
    seen = what;
    webhook_http_reply r;
    r.body = "denied: " + std::string(what);
    return r;
  };
  route_map routes;
  routes["/mutate"] = throws;
  start(cfg, std::move(routes));
  auto c = connect();
  ASSERT_TRUE(c);
  auto res = c->exchange(post("/mutate", "{}"));
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ(res->body(), "denied: the handler for /mutate failed: boom");
  EXPECT_EQ(seen, "the handler for /mutate failed: boom");
  EXPECT_EQ(server_->counts().handler_failures, 1u);
  // The connection survives its handler's failure.
  auto again = c->exchange(post("/mutate", "{}"));
  ASSERT_TRUE(again) << c->error();
  EXPECT_EQ(again->result_int(), 200u);
}

TEST_F(WebhookServer, WithoutAFailureCallbackAThrowingHandlerIsA500) {
  route_map routes;
  routes["/mutate"] = throws;
  start(config(), std::move(routes));
  auto c = connect();
  ASSERT_TRUE(c);
  auto res = c->exchange(post("/mutate", "{}"));
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->result_int(), 500u);
  const json status = json::parse(res->body());
  EXPECT_EQ(status["reason"], "InternalError");
  // What was thrown stays in the log.
  EXPECT_THAT(status["message"].get<std::string>(), Not(HasSubstr("boom")));
}

TEST_F(WebhookServer, AFailureCallbackThatThrowsStillGetsAnAnswer) {
  auto cfg = config();
  cfg.on_handler_failure = [](std::string_view) -> webhook_http_reply {
    throw std::runtime_error("also broken");
  };
  route_map routes;
  routes["/mutate"] = throws;
  start(cfg, std::move(routes));
  auto c = connect();
  ASSERT_TRUE(c);
  auto res = c->exchange(post("/mutate", "{}"));
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->result_int(), 500u);
}

// What the lead wires: a failed injection is a denied review carrying the
// request's uid, never a 500.
TEST_F(WebhookServer, AdmissionReviewsRoundTripAndFailuresAreDenials) {
  auto cfg = config();
  cfg.on_request_failure = [](const webhook_http_request& req,
                              std::string_view what) {
    const auto parsed = parse_admission_review(req.body);
    const std::string uid = parsed ? parsed->uid : parsed.error().uid;
    webhook_http_reply r;
    r.body = admission_denied(uid, 500, "InternalError", what);
    return r;
  };
  route_map routes;
  routes["/mutate"] = review;
  start(cfg, std::move(routes));
  auto c = connect();
  ASSERT_TRUE(c);

  auto allowed =
      c->exchange(post("/mutate", review_body("u-1", "shop", false)));
  ASSERT_TRUE(allowed) << c->error();
  json out = json::parse(allowed->body());
  EXPECT_EQ(out["response"]["uid"], "u-1");
  EXPECT_EQ(out["response"]["allowed"], true);
  const auto patch =
      util::base64_decode(out["response"]["patch"].get<std::string>());
  ASSERT_TRUE(patch);
  EXPECT_EQ(json::parse(*patch)[0]["path"], "/metadata/labels");

  auto dry = c->exchange(post("/mutate", review_body("u-2", "shop", true)));
  ASSERT_TRUE(dry) << c->error();
  EXPECT_FALSE(json::parse(dry->body())["response"].contains("patch"));

  auto failed =
      c->exchange(post("/mutate", review_body("u-3", "explode", false)));
  ASSERT_TRUE(failed) << c->error();
  EXPECT_EQ(failed->result_int(), 200u);
  out = json::parse(failed->body());
  EXPECT_EQ(out["response"]["uid"], "u-3");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_THAT(out["response"]["status"]["message"].get<std::string>(),
              HasSubstr("kaput"));

  auto v1beta1 = c->exchange(
      post("/mutate", R"({"apiVersion":"admission.k8s.io/v1beta1","kind":)"
                      R"("AdmissionReview","request":{"uid":"u-4"}})"));
  ASSERT_TRUE(v1beta1) << c->error();
  out = json::parse(v1beta1->body());
  EXPECT_EQ(out["response"]["uid"], "u-4");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_THAT(out["response"]["status"]["message"].get<std::string>(),
              HasSubstr("admissionReviewVersions: [\"v1\"]"));
}

TEST_F(WebhookServer, AHandlerPastItsDeadlineIsAnsweredWithoutIt) {
  auto cfg = config();
  cfg.limits.handler_timeout = 200ms;
  std::string seen;
  cfg.on_handler_failure = [&seen](std::string_view what) {
    seen = what;
    webhook_http_reply r;
    r.body = "timed out";
    return r;
  };
  route_map routes;
  routes["/mutate"] = stubborn(3s);
  start(cfg, std::move(routes));
  auto c = connect();
  ASSERT_TRUE(c);
  const auto before = std::chrono::steady_clock::now();
  auto res = c->exchange(post("/mutate", "{}"));
  const auto took = std::chrono::steady_clock::now() - before;
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->body(), "timed out");
  EXPECT_EQ(seen, "the handler for /mutate did not answer within 200 ms");
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);  // not the handler's 3 s
  EXPECT_EQ(server_->counts().handler_failures, 1u);
}

TEST_F(WebhookServer, ARotatedCertificateServesNewConnectionsOnly) {
  start();
  auto old_conn = connect();
  ASSERT_TRUE(old_conn);
  ASSERT_EQ(old_conn->peer_fingerprint(),
            fingerprint_of_pem(a_.serving.cert_pem));
  ASSERT_TRUE(old_conn->exchange(post("/mutate", "before")));

  current_.store(context_of(b_));
  auto new_conn = connect();
  ASSERT_TRUE(new_conn);
  EXPECT_EQ(new_conn->peer_fingerprint(),
            fingerprint_of_pem(b_.serving.cert_pem));
  EXPECT_TRUE(new_conn->exchange(post("/mutate", "new")));

  // The established connection was not dropped and keeps its certificate.
  auto res = old_conn->exchange(post("/mutate", "after"));
  ASSERT_TRUE(res) << old_conn->error();
  EXPECT_THAT(res->body(), HasSubstr("after"));
  EXPECT_EQ(old_conn->peer_fingerprint(),
            fingerprint_of_pem(a_.serving.cert_pem));
  EXPECT_EQ(server_->counts().accepted, 2u);
}

TEST_F(WebhookServer, RefusesAClientLimitedToTls11) {
  start();
  client_options o;
  o.min_version = TLS1_1_VERSION;
  o.max_version = TLS1_1_VERSION;
  EXPECT_THAT(refusal(o), HasSubstr("protocol version"));
  EXPECT_TRUE(
      wait_for([&] { return server_->counts().handshakes_failed == 1; }));
}

TEST_F(WebhookServer, Tls12IsAccepted) {
  start();
  client_options o;
  o.max_version = TLS1_2_VERSION;
  auto c = connect(o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->version(), TLS1_2_VERSION);
  EXPECT_TRUE(c->exchange(post("/mutate", "{}")));
}

// No ALPN is chosen for a client that offers only h2 (no alert), and it
// then speaks HTTP/1.1 as Go's client does.
TEST_F(WebhookServer, AClientOfferingOnlyH2GetsNoAlpnAndHttp11Works) {
  start();
  client_options h2;
  h2.alpn = {"h2"};
  auto c = connect(h2);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->alpn(), "");
  auto res = c->exchange(post("/mutate", "{}"));
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->result_int(), 200u);

  client_options none;
  none.alpn = {};
  auto plain = connect(none);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->alpn(), "");
  EXPECT_TRUE(plain->exchange(post("/mutate", "{}")));
  EXPECT_EQ(server_->counts().handshakes_failed, 0u);
}

TEST_F(WebhookServer, AClientThatDoesNotTrustTheCaFailsTheHandshake) {
  start();
  https_client c({b_.ca.cert_pem});
  EXPECT_THAT(c.connect(server_->port()), HasSubstr("certificate verify"));
  EXPECT_TRUE(
      wait_for([&] { return server_->counts().handshakes_failed == 1; }));
}

TEST_F(WebhookServer, HandshakeHasADeadline) {
  auto cfg = config();
  cfg.limits.handshake_timeout = 200ms;
  start(cfg, echo_routes());
  asio::io_context client_io;
  tcp::socket silent(client_io);
  silent.connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  EXPECT_TRUE(
      wait_for([&] { return server_->counts().handshakes_failed == 1; }, 3s));
  EXPECT_TRUE(wait_for([&] { return server_->counts().open == 0; }, 3s));
}

TEST_F(WebhookServer, AnIdleConnectionIsClosedWithCloseNotify) {
  auto cfg = config();
  cfg.limits.idle_timeout = 200ms;
  start(cfg, echo_routes());
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->exchange(post("/mutate", "{}")));
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(c->how_it_ends(), "close_notify");
  EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);
}

TEST_F(WebhookServer, PortInUseNamesThePortAddressAndFlag) {
  asio::io_context other;
  tcp::acceptor taken(other,
                      tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = taken.local_endpoint().port();
  auto cfg = config();
  cfg.port = port;
  auto bound = on_io([&] {
    return webhook_server::bind(
        io_.get_executor(), [this] { return current_.load(); }, cfg,
        echo_routes());
  });
  ASSERT_FALSE(bound);
  EXPECT_EQ(bound.error().source, error_source::config);
  EXPECT_EQ(bound.error().message,
            "port " + std::to_string(port) +
                " on 127.0.0.1 is already in use; pass --webhook-address "
                "with a free port");
}

TEST_F(WebhookServer, AnAddressThatIsNotAnIpNamesTheFlag) {
  auto cfg = config();
  cfg.address = "localhost";
  cfg.flag = "--webhook-bind";
  auto bound = webhook_server::bind(
      io_.get_executor(), [this] { return current_.load(); }, cfg,
      echo_routes());
  ASSERT_FALSE(bound);
  EXPECT_THAT(bound.error().message, HasSubstr("\"localhost\""));
  EXPECT_THAT(bound.error().message, HasSubstr("--webhook-bind"));
}

TEST_F(WebhookServer, StopClosesAnIdleConnectionAndTheListener) {
  start();
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->exchange(post("/mutate", "{}")));
  const auto port = server_->port();
  server_->stop();  // from another thread than the server's
  server_->stop();  // idempotent
  EXPECT_EQ(c->how_it_ends(), "close_notify");
  EXPECT_TRUE(wait_for([&] { return server_->counts().open == 0; }));
  https_client late({a_.ca.cert_pem});
  EXPECT_THAT(late.connect(port), HasSubstr("connect: Connection refused"));
}

TEST_F(WebhookServer, StopLetsARequestInFlightFinish) {
  route_map routes;
  routes["/mutate"] = stubborn(300ms);
  start(config(), std::move(routes));
  auto c = connect();
  ASSERT_TRUE(c);
  std::thread stopper([this] {
    std::this_thread::sleep_for(100ms);
    server_->stop();
  });
  auto res = c->exchange(post("/mutate", "{}"));
  stopper.join();
  ASSERT_TRUE(res) << c->error();
  EXPECT_EQ(res->body(), "late");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_EQ(c->how_it_ends(), "close_notify");
}

TEST_F(WebhookServer, BeyondMaxConnectionsClientsWaitInTheBacklog) {
  auto cfg = config();
  cfg.limits.max_connections = 1;
  start(cfg, echo_routes());
  auto first = connect();
  ASSERT_TRUE(first);
  {
    client_options quick;
    quick.handshake_timeout = 300ms;
    https_client waiting({a_.ca.cert_pem}, quick);
    EXPECT_THAT(waiting.connect(server_->port()), HasSubstr("timeout"));
  }
  EXPECT_EQ(server_->counts().accepted, 1u);
  first.reset();  // a slot frees up
  auto next = connect();
  ASSERT_TRUE(next);
  EXPECT_TRUE(next->exchange(post("/mutate", "{}")));
}

TEST(WebhookTlsContext, NamesWhatIsWrongWithoutKeyMaterial) {
  const auto a = make_identity("webhook-a");
  const auto b = make_identity("webhook-b");

  auto not_pem = webhook_tls_context::create("hello", a.serving.key_pem);
  ASSERT_FALSE(not_pem);
  EXPECT_EQ(not_pem.error().source, error_source::config);
  EXPECT_THAT(not_pem.error().message,
              HasSubstr("serving certificate is not a PEM certificate"));

  auto bad_key = webhook_tls_context::create(a.serving.cert_pem, "hello");
  ASSERT_FALSE(bad_key);
  EXPECT_THAT(bad_key.error().message,
              HasSubstr("serving key is not a PEM private key"));

  auto mismatch =
      webhook_tls_context::create(a.serving.cert_pem, b.serving.key_pem);
  ASSERT_FALSE(mismatch);
  EXPECT_THAT(mismatch.error().message,
              HasSubstr("serving key does not match its certificate"));
  EXPECT_THAT(mismatch.error().message, Not(HasSubstr("PRIVATE KEY")));
  const std::string key_body = b.serving.key_pem.substr(30, 40);
  EXPECT_THAT(mismatch.error().message, Not(HasSubstr(key_body)));
}

TEST(WebhookTlsContext, DescribesTheCertificate) {
  const auto a = make_identity("webhook-a");
  auto ctx = webhook_tls_context::create(a.serving.cert_pem + a.ca.cert_pem,
                                         a.serving.key_pem);
  ASSERT_TRUE(ctx) << ctx.error().message;
  EXPECT_EQ((*ctx)->fingerprint(), fingerprint_of_pem(a.serving.cert_pem));
  EXPECT_EQ((*ctx)->subject(), "CN=webhook-a");
  EXPECT_GT((*ctx)->not_after(), std::chrono::system_clock::now());
  EXPECT_NE((*ctx)->native_handle(), nullptr);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*ctx)->native_handle()),
            TLS1_2_VERSION);
}

}  // namespace
}  // namespace mca::op
