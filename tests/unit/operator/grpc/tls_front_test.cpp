#include "operator/grpc/tls_front.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <mca/routing/v1alpha1/routing.grpc.pb.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include "common/tls/self_signed.hpp"
#include "operator/grpc/certificate_files.hpp"

namespace mca::op {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace routing_v1 = mca::routing::v1alpha1;
using tcp = asio::ip::tcp;
using unix_protocol = asio::local::stream_protocol;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The name every test certificate carries and every client checks.
constexpr const char* server_name = "mca-operator.test";

tls::serving_identity make_identity(const std::string& name) {
  tls::serving_identity_options o;
  o.ca_common_name = name + "-ca";
  o.common_name = name;
  o.dns_names = {server_name};
  o.ip_addresses = {"127.0.0.1"};
  o.not_before = std::chrono::system_clock::now() - 5min;
  auto id = tls::make_serving_identity(o);
  if (!id) {
    ADD_FAILURE() << id.error().message;
    return {};
  }
  return *id;
}

// SHA-256 of the certificate's DER, lowercase hex, as the front reports it.
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

// Replaces the file the way a Secret volume does: the new content appears
// whole, under a new inode.
void replace_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  fs::rename(tmp, path);
}

// A plain TCP connection to 127.0.0.1:port; -1 (errno set) if refused.
int tcp_connect(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // Nothing in these tests takes seconds: a hung read fails the test.
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) !=
      0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

struct client_options {
  int max_version = TLS1_3_VERSION;
  // Offered in this order; empty: no ALPN extension at all.
  std::vector<std::string> alpn = {"h2"};
};

// A blocking TLS client straight on OpenSSL and a socket, not on asio:
// the front is checked against a TLS stack it does not share code with,
// and the test controls each close_notify itself.
class blocking_tls_client {
 public:
  // Connected and handshaken, or nullptr with `why` set.
  static std::unique_ptr<blocking_tls_client> connect(
      unsigned short port, const std::vector<std::string>& trusted_ca_pems,
      const client_options& options, std::string& why) {
    std::unique_ptr<blocking_tls_client> c(new blocking_tls_client);
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c->ctx_, options.max_version);
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
    X509_STORE* store = SSL_CTX_get_cert_store(c->ctx_);
    for (const auto& pem : trusted_ca_pems) {
      BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
      X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      X509_STORE_add_cert(store, ca);
      X509_free(ca);
      BIO_free(bio);
    }
    c->fd_ = tcp_connect(port);
    if (c->fd_ < 0) {
      why = std::string("connect: ") + std::strerror(errno);
      return nullptr;
    }
    c->ssl_ = SSL_new(c->ctx_);
    SSL_set_fd(c->ssl_, c->fd_);
    // SSL_set_tlsext_host_name, without the macro's C cast.
    SSL_ctrl(c->ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(server_name));
    SSL_set1_host(c->ssl_, server_name);
    if (!options.alpn.empty()) {
      std::string wire;
      for (const auto& p : options.alpn) {
        wire.push_back(static_cast<char>(p.size()));
        wire += p;
      }
      SSL_set_alpn_protos(c->ssl_,
                          reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
    }
    ERR_clear_error();
    if (SSL_connect(c->ssl_) != 1) {
      std::array<char, 256> text{};
      ERR_error_string_n(ERR_peek_last_error(), text.data(), text.size());
      why = text.data();
      return nullptr;
    }
    return c;
  }

  ~blocking_tls_client() {
    SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  blocking_tls_client(const blocking_tls_client&) = delete;
  blocking_tls_client& operator=(const blocking_tls_client&) = delete;
  blocking_tls_client(blocking_tls_client&&) = delete;
  blocking_tls_client& operator=(blocking_tls_client&&) = delete;

  bool write(std::string_view data) {
    return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) ==
           static_cast<int>(data.size());
  }

  // `n` bytes, or fewer if the stream ends first.
  std::string read(std::size_t n) {
    std::string out;
    std::array<char, 16384> buf{};
    while (out.size() < n) {
      const int want = static_cast<int>(std::min(buf.size(), n - out.size()));
      const int got = SSL_read(ssl_, buf.data(), want);
      if (got <= 0) break;
      out.append(buf.data(), static_cast<std::size_t>(got));
    }
    return out;
  }

  // Reads to the end of the stream. True if it ended with the server's
  // close_notify; false for a reset, a bare EOF, or the 5 s timeout.
  bool read_to_close_notify(std::string& rest) {
    std::array<char, 4096> buf{};
    for (;;) {
      const int got = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
      if (got > 0) {
        rest.append(buf.data(), static_cast<std::size_t>(got));
        continue;
      }
      return SSL_get_error(ssl_, got) == SSL_ERROR_ZERO_RETURN;
    }
  }

  // Our close_notify, once; reading goes on.
  bool send_close_notify() { return SSL_shutdown(ssl_) >= 0; }

  std::string peer_fingerprint() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    std::string out = fingerprint_of_x509(cert);
    X509_free(cert);
    return out;
  }
  std::string alpn() const {
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl_, &p, &n);
    return {reinterpret_cast<const char*>(p), n};
  }
  int version() const { return SSL_version(ssl_); }

 private:
  blocking_tls_client() = default;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

// TEST DOUBLE. Stands in for the operator's gRPC server on its Unix socket;
// it speaks no HTTP/2, only bytes. echo: sends back everything it reads
// and, at the end of the stream, half-closes (shutdown(send)). banner:
// sends a banner, half-closes at once, and records what it still reads.
class unix_echo_server {
 public:
  enum class mode { echo, banner };
  static constexpr std::string_view banner_text = "banner";

  unix_echo_server(asio::io_context& io, const fs::path& path, mode m)
      : acceptor_(io, unix_protocol::endpoint(path.string())), mode_(m) {}

  // On the io thread.
  void start() {
    asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
  }
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

  int connections() const { return connections_.load(); }
  bool saw_end() const { return saw_end_.load(); }
  std::string received() const {
    const std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      connections_.fetch_add(1);
      asio::co_spawn(acceptor_.get_executor(), session(std::move(s)),
                     asio::detached);
    }
  }

  asio::awaitable<void> session(unix_protocol::socket s) {
    boost::system::error_code ignored;
    if (mode_ == mode::banner) {
      co_await asio::async_write(s, asio::buffer(banner_text), use_tuple);
      s.shutdown(asio::socket_base::shutdown_send, ignored);
    }
    std::array<char, 4096> buf{};
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
      if (n > 0 && mode_ == mode::echo) {
        auto [wec, wn] = co_await asio::async_write(
            s, asio::buffer(buf.data(), n), use_tuple);
        if (wec) co_return;
      } else if (n > 0) {
        const std::lock_guard lock(mutex_);
        received_.append(buf.data(), n);
      }
      if (ec == asio::error::eof) {
        if (mode_ == mode::echo) {
          s.shutdown(asio::socket_base::shutdown_send, ignored);
        }
        saw_end_.store(true);
        co_return;
      }
      if (ec) co_return;
    }
  }

  unix_protocol::acceptor acceptor_;
  mode mode_;
  std::atomic<int> connections_{0};
  std::atomic<bool> saw_end_{false};
  mutable std::mutex mutex_;
  std::string received_;
};

// TEST DOUBLE. A RoutingDiscovery that answers the first request with one
// heartbeat (version_info names the sidecar version it saw) and ends the
// stream; just enough to prove a real gRPC call crosses the front.
class one_heartbeat_service final
    : public routing_v1::RoutingDiscovery::Service {
 public:
  grpc::Status StreamRoutes(
      grpc::ServerContext* /*context*/,
      grpc::ServerReaderWriter<routing_v1::RoutesResponse,
                               routing_v1::RoutesRequest>* stream) override {
    routing_v1::RoutesRequest request;
    if (!stream->Read(&request)) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "no request"};
    }
    routing_v1::RoutesResponse response;
    response.set_heartbeat(true);
    response.set_version_info("seen " + request.sidecar_version());
    stream->Write(response);
    return grpc::Status::OK;
  }
};

// Each test: a private 0700 directory with the pair and the socket, two
// identities (a and b), and the front's io_context on its own thread so
// that blocking clients can run on the test's.
class TlsFront : public ::testing::Test {
 protected:
  // Runs `f` on the io thread and returns its result.
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
    // The blocking client writes with SSL_write on a plain descriptor: a
    // front that closed must fail that write, not kill the test binary.
    std::signal(SIGPIPE, SIG_IGN);
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("mca-tls-front-test-" + std::to_string(random()));
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all);
    paths_ = {dir_ / "tls.crt", dir_ / "tls.key"};
    socket_path_ = dir_ / "grpc.sock";
    a_ = make_identity("operator-a");
    b_ = make_identity("operator-b");
    install(a_);
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    on_io([this] {
      if (front_) front_->stop();
      if (files_) files_->stop();
      if (echo_) echo_->stop();
      return 0;
    });
    if (front_) {
      wait_for([this] { return front_->stats().open == 0; });
    }
    work_.reset();
    io_.stop();
    io_thread_.join();
    front_.reset();
    files_.reset();
    echo_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void install(const tls::serving_identity& id) {
    replace_file(paths_.cert, id.serving.cert_pem);
    replace_file(paths_.key, id.serving.key_pem);
  }

  void start_echo(unix_echo_server::mode m = unix_echo_server::mode::echo) {
    on_io([&] {
      echo_ = std::make_unique<unix_echo_server>(io_, socket_path_, m);
      echo_->start();
      return 0;
    });
  }

  // Loads the pair and starts the front on 127.0.0.1, port 0.
  void start_front(tls_front_limits limits = {},
                   certificate_files_options options = {}) {
    auto started = on_io([&]() -> mca::result<void> {
      auto files = certificate_files::load(io_.get_executor(), paths_,
                                           std::move(options));
      if (!files) return files.error();
      files_ = *files;
      tls_front_config config;
      config.address = "127.0.0.1";
      config.backend_socket = socket_path_;
      config.limits = limits;
      auto front = tls_front::bind(io_.get_executor(), files_, config);
      if (!front) return front.error();
      front_ = std::move(*front);
      front_->start();
      return {};
    });
    ASSERT_TRUE(started) << started.error().message;
  }

  std::unique_ptr<blocking_tls_client> connect(const client_options& o = {}) {
    std::string why;
    auto c = blocking_tls_client::connect(
        front_->port(), {a_.ca.cert_pem, b_.ca.cert_pem}, o, why);
    EXPECT_TRUE(c) << "handshake failed: " << why;
    return c;
  }

  // The reason a handshake fails, or "" if it succeeds.
  std::string refusal(const client_options& o) {
    std::string why;
    auto c = blocking_tls_client::connect(
        front_->port(), {a_.ca.cert_pem, b_.ca.cert_pem}, o, why);
    return c ? "" : why;
  }

  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ =
      asio::make_work_guard(io_);
  std::thread io_thread_;
  fs::path dir_;
  certificate_paths paths_;
  fs::path socket_path_;
  tls::serving_identity a_;
  tls::serving_identity b_;
  std::shared_ptr<certificate_files> files_;
  std::unique_ptr<tls_front> front_;
  std::unique_ptr<unix_echo_server> echo_;
};

TEST_F(TlsFront, RelaysBytesBothWaysOverTls13WithH2) {
  start_echo();
  start_front();
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->version(), TLS1_3_VERSION);
  EXPECT_EQ(c->alpn(), "h2");
  EXPECT_EQ(c->peer_fingerprint(), fingerprint_of_pem(a_.serving.cert_pem));

  ASSERT_TRUE(c->write("hello"));
  EXPECT_EQ(c->read(5), "hello");
  // 1 MiB in chunks as large as the front's buffer, each checked.
  std::mt19937 gen(7);
  for (int round = 0; round < 64; ++round) {
    std::string chunk(std::size_t{16} * 1024, '\0');
    for (auto& ch : chunk) ch = static_cast<char>(gen());
    ASSERT_TRUE(c->write(chunk));
    ASSERT_EQ(c->read(chunk.size()), chunk) << "round " << round;
  }
  EXPECT_EQ(front_->stats().accepted, 1u);
  EXPECT_EQ(echo_->connections(), 1);
}

TEST_F(TlsFront, ClientCloseNotifyHalfClosesTheBackendWhichStillAnswers) {
  start_echo();
  start_front();
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->write("ping"));
  ASSERT_TRUE(c->send_close_notify());
  // The echo double answers after seeing end of stream, then half-closes,
  // which comes back as the front's close_notify.
  std::string rest;
  EXPECT_TRUE(c->read_to_close_notify(rest));
  EXPECT_EQ(rest, "ping");
  EXPECT_TRUE(wait_for([&] { return echo_->saw_end(); }));
  EXPECT_TRUE(wait_for([&] { return front_->stats().open == 0; }));
}

TEST_F(TlsFront, BackendHalfCloseBecomesCloseNotifyAndTheClientCanStillSend) {
  start_echo(unix_echo_server::mode::banner);
  // Sending close_notify must not wait for the client's: the client below
  // sends for longer than the front would wait.
  tls_front_limits limits;
  limits.close_timeout = 200ms;
  start_front(limits);
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->read(unix_echo_server::banner_text.size()),
            unix_echo_server::banner_text);
  std::string rest;
  EXPECT_TRUE(c->read_to_close_notify(rest));
  EXPECT_EQ(rest, "");
  // TLS 1.3 lets the client go on sending after the server's close_notify.
  std::this_thread::sleep_for(400ms);
  ASSERT_TRUE(c->write("late data"));
  ASSERT_TRUE(c->send_close_notify());
  EXPECT_TRUE(wait_for([&] { return echo_->saw_end(); }));
  EXPECT_EQ(echo_->received(), "late data");
  EXPECT_TRUE(wait_for([&] { return front_->stats().open == 0; }));
}

TEST_F(TlsFront, RefusesAClientLimitedToTls12) {
  start_echo();
  start_front();
  client_options o;
  o.max_version = TLS1_2_VERSION;
  EXPECT_THAT(refusal(o), HasSubstr("protocol version"));
  EXPECT_TRUE(wait_for([&] { return front_->stats().handshakes_failed == 1; }));
  EXPECT_EQ(echo_->connections(), 0);
}

TEST_F(TlsFront, RefusesAClientThatDoesNotOfferH2) {
  start_echo();
  start_front();
  client_options none;
  none.alpn = {};
  EXPECT_THAT(refusal(none), HasSubstr("no application protocol"));
  client_options http11;
  http11.alpn = {"http/1.1"};
  EXPECT_THAT(refusal(http11), HasSubstr("no application protocol"));
  // h2 anywhere in the list is chosen.
  client_options both;
  both.alpn = {"http/1.1", "h2"};
  auto c = connect(both);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->alpn(), "h2");
  EXPECT_TRUE(wait_for([&] { return front_->stats().handshakes_failed == 2; }));
}

TEST_F(TlsFront, HandshakeHasADeadline) {
  start_echo();
  tls_front_limits limits;
  limits.handshake_timeout = 200ms;
  start_front(limits);
  // Connects and says nothing.
  const int fd = tcp_connect(front_->port());
  ASSERT_GE(fd, 0);
  const auto t0 = std::chrono::steady_clock::now();
  std::array<char, 16> buf{};
  EXPECT_EQ(::recv(fd, buf.data(), buf.size(), 0), 0) << "not closed";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  ::close(fd);
  EXPECT_TRUE(wait_for([&] { return front_->stats().handshakes_failed == 1; }));
}

TEST_F(TlsFront, ClientThatStopsReadingIsClosedAfterTheWriteTimeout) {
  start_echo();
  tls_front_limits limits;
  limits.write_timeout = 200ms;
  start_front(limits);
  auto c = connect();
  ASSERT_TRUE(c);
  // Sends and never reads: the echoes back up until the front's write to
  // the client stalls, and the front gives up on the connection.
  const std::string chunk(std::size_t{16} * 1024, 'x');
  std::size_t sent = 0;
  while (sent < std::size_t{256} * 1024 * 1024 && c->write(chunk)) {
    sent += chunk.size();
  }
  EXPECT_TRUE(wait_for([&] { return front_->stats().write_timeouts >= 1; }));
  EXPECT_TRUE(wait_for([&] { return front_->stats().open == 0; }));
}

TEST_F(TlsFront,
       RotatedPairServesNewConnectionsWhileEstablishedOnesKeepTheirs) {
  start_echo();
  start_front();
  const auto fp_a = fingerprint_of_pem(a_.serving.cert_pem);
  const auto fp_b = fingerprint_of_pem(b_.serving.cert_pem);
  auto old_conn = connect();
  ASSERT_TRUE(old_conn);
  EXPECT_EQ(old_conn->peer_fingerprint(), fp_a);

  install(b_);
  auto reloaded = on_io([&] { return files_->reload_now(); });
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ(files_->current()->fingerprint(), fp_b);

  auto new_conn = connect();
  ASSERT_TRUE(new_conn);
  EXPECT_EQ(new_conn->peer_fingerprint(), fp_b);
  ASSERT_TRUE(new_conn->write("new"));
  EXPECT_EQ(new_conn->read(3), "new");
  // The established connection still relays, with the certificate it had.
  ASSERT_TRUE(old_conn->write("old"));
  EXPECT_EQ(old_conn->read(3), "old");
  EXPECT_EQ(old_conn->peer_fingerprint(), fp_a);

  // The same content again is no change.
  auto again = on_io([&] { return files_->reload_now(); });
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
}

TEST_F(TlsFront, PollingNoticesAReplacedPair) {
  start_echo();
  std::atomic<int> reloads{0};
  certificate_files_options options;
  options.poll_interval = 50ms;
  options.on_reload = [&](const grpc_tls_context&) { reloads.fetch_add(1); };
  start_front({}, std::move(options));
  on_io([&] {
    files_->start();
    return 0;
  });
  install(b_);
  const auto fp_b = fingerprint_of_pem(b_.serving.cert_pem);
  EXPECT_TRUE(
      wait_for([&] { return files_->current()->fingerprint() == fp_b; }));
  EXPECT_EQ(reloads.load(), 1);
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->peer_fingerprint(), fp_b);
}

TEST_F(TlsFront, BrokenPairKeepsTheCertificateInForceAndReportsWhy) {
  start_echo();
  std::mutex mutex;
  std::vector<std::string> reported;
  certificate_files_options options;
  options.poll_interval = 50ms;
  options.on_error = [&](const mca::error& e) {
    const std::lock_guard lock(mutex);
    reported.push_back(e.message);
  };
  start_front({}, std::move(options));
  const auto fp_a = fingerprint_of_pem(a_.serving.cert_pem);

  // Not PEM at all.
  replace_file(paths_.key, "not a key\n");
  auto broken = on_io([&] { return files_->reload_now(); });
  ASSERT_FALSE(broken);
  EXPECT_THAT(broken.error().message, HasSubstr(paths_.key.string()));
  EXPECT_EQ(broken.error().source, error_source::config);
  ASSERT_TRUE(files_->last_error());
  EXPECT_THAT(files_->last_error()->message, HasSubstr(paths_.key.string()));
  EXPECT_EQ(files_->current()->fingerprint(), fp_a);
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->peer_fingerprint(), fp_a);

  // A key that is fine but belongs to another certificate.
  replace_file(paths_.key, b_.serving.key_pem);
  auto mismatched = on_io([&] { return files_->reload_now(); });
  ASSERT_FALSE(mismatched);
  EXPECT_THAT(
      mismatched.error().message,
      HasSubstr("does not match the certificate in " + paths_.cert.string()));
  EXPECT_EQ(files_->current()->fingerprint(), fp_a);

  // The poller reports a bad pair once, not at every poll.
  on_io([&] {
    files_->start();
    return 0;
  });
  std::this_thread::sleep_for(300ms);
  {
    const std::lock_guard lock(mutex);
    EXPECT_EQ(reported.size(), 2u);
  }

  // The good key back: nothing to reload, and nothing wrong any more.
  replace_file(paths_.key, a_.serving.key_pem);
  EXPECT_TRUE(wait_for([&] { return !files_->last_error(); }));
  EXPECT_EQ(files_->current()->fingerprint(), fp_a);
}

TEST_F(TlsFront, FirstLoadFailsNamingTheFile) {
  fs::remove(paths_.cert);
  auto missing = on_io(
      [&] { return certificate_files::load(io_.get_executor(), paths_); });
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr(paths_.cert.string()));

  replace_file(paths_.cert, a_.serving.cert_pem);
  replace_file(paths_.key, "-----BEGIN PRIVATE KEY-----\nAAAA\n");
  auto bad_key = on_io(
      [&] { return certificate_files::load(io_.get_executor(), paths_); });
  ASSERT_FALSE(bad_key);
  EXPECT_THAT(bad_key.error().message,
              HasSubstr("the key in " + paths_.key.string()));

  replace_file(paths_.cert, "garbage");
  auto bad_cert = on_io(
      [&] { return certificate_files::load(io_.get_executor(), paths_); });
  ASSERT_FALSE(bad_cert);
  EXPECT_THAT(bad_cert.error().message,
              HasSubstr("the certificate in " + paths_.cert.string() +
                        " is not a PEM certificate"));
}

TEST_F(TlsFront, MissingBackendClosesTheClientConnection) {
  start_front();  // nothing listens on the socket path
  for (int i = 0; i < 2; ++i) {
    auto c = connect();
    ASSERT_TRUE(c);
    std::string rest;
    EXPECT_TRUE(c->read_to_close_notify(rest));
    EXPECT_EQ(rest, "");
  }
  EXPECT_EQ(front_->stats().backend_unavailable, 2u);
  // Back: the next connection is relayed.
  start_echo();
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->write("up"));
  EXPECT_EQ(c->read(2), "up");
}

TEST_F(TlsFront, PortInUseIsAnErrorNamingAddressAndPort) {
  auto files = on_io(
      [&] { return certificate_files::load(io_.get_executor(), paths_); });
  ASSERT_TRUE(files) << files.error().message;
  tcp::acceptor taken(io_,
                      tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = taken.local_endpoint().port();
  tls_front_config config;
  config.address = "127.0.0.1";
  config.port = port;
  config.backend_socket = socket_path_;
  auto front = tls_front::bind(io_.get_executor(), *files, config);
  ASSERT_FALSE(front);
  EXPECT_EQ(front.error().source, error_source::config);
  EXPECT_THAT(front.error().message,
              HasSubstr("127.0.0.1 port " + std::to_string(port)));
  EXPECT_THAT(front.error().message, HasSubstr("already in use"));
  on_io([&] {
    (*files)->stop();
    return 0;
  });
}

TEST_F(TlsFront, StopClosesTheListenerAndEveryConnection) {
  start_echo();
  start_front();
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->write("x"));
  EXPECT_EQ(c->read(1), "x");
  const auto port = front_->port();
  front_->stop();  // from another thread than the front's
  std::string rest;
  c->read_to_close_notify(rest);  // ends (reset or EOF), not after 5 s
  EXPECT_EQ(rest, "");
  EXPECT_TRUE(wait_for([&] { return front_->stats().open == 0; }));
  EXPECT_LT(tcp_connect(port), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
}

// The check that matters most: a real gRPC client, TLS and ALPN h2 from
// gRPC's own stack, reaching an insecure gRPC server on the Unix socket
// through the front, before and after a rotation.
TEST_F(TlsFront, GrpcClientCallsThroughTheFront) {
  one_heartbeat_service service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path_.string(),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ASSERT_TRUE(server);
  start_front();

  auto call = [&](const std::string& ca_pem, const std::string& version) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(server_name);
    auto channel =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(front_->port()),
                                  grpc::SslCredentials(ssl), args);
    auto stub = routing_v1::RoutingDiscovery::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    auto stream = stub->StreamRoutes(&context);
    routing_v1::RoutesRequest request;
    request.set_sidecar_version(version);
    EXPECT_TRUE(stream->Write(request));
    routing_v1::RoutesResponse response;
    EXPECT_TRUE(stream->Read(&response));
    EXPECT_TRUE(response.heartbeat());
    EXPECT_EQ(response.version_info(), "seen " + version);
    stream->WritesDone();
    EXPECT_FALSE(stream->Read(&response));
    const auto status = stream->Finish();
    EXPECT_TRUE(status.ok())
        << status.error_code() << ": " << status.error_message();
  };
  call(a_.ca.cert_pem, "sidecar-1");

  install(b_);
  auto reloaded = on_io([&] { return files_->reload_now(); });
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  call(b_.ca.cert_pem, "sidecar-2");

  server->Shutdown(std::chrono::system_clock::now() + 2s);
}

}  // namespace
}  // namespace mca::op
