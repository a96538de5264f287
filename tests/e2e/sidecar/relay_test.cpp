// The sidecar's response relay against an upstream that ends a chunked body
// in a TLS record of its own. The API server does that at times (the end of
// a long LIST comes after its last items were flushed), but the test
// clusters cannot be made to do it on demand, so the upstream here is a
// test double: chunked_upstream_double, a TLS server on loopback that
// answers every request with `chunks` chunks of 1 KiB, flushed at once, and
// the terminating chunk 30 ms later in a write of its own.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gmock/gmock.h>

#include "common/tls/self_signed.hpp"
#include "support/sidecar_process.hpp"
#include "support/testenv.hpp"

namespace mca::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The body the double sends: chunk i is 1 KiB of the letter 'a' + i % 26.
std::string expected_body(int chunks) {
  std::string out;
  for (int i = 0; i < chunks; ++i) {
    out.append(1024, static_cast<char>('a' + i % 26));
  }
  return out;
}

class chunked_upstream_double {
 public:
  chunked_upstream_double(const tls::serving_identity& id, int chunks)
      : tls_(asio::ssl::context::tls_server),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}),
        chunks_(chunks) {
    tls_.use_certificate_chain(asio::buffer(id.serving.cert_pem));
    tls_.use_private_key(asio::buffer(id.serving.key_pem),
                         asio::ssl::context::pem);
    thread_ = std::thread([this] { serve(); });
  }
  // The sidecar (destroyed first) has closed its connections; a blocking
  // accept wakes only for a connection, so one is made to end it.
  ~chunked_upstream_double() {
    stop_ = true;
    boost::system::error_code ec;
    asio::ip::tcp::socket wake(io_);
    wake.connect({asio::ip::make_address("127.0.0.1"), port()}, ec);
    if (thread_.joinable()) thread_.join();
  }
  chunked_upstream_double(const chunked_upstream_double&) = delete;
  chunked_upstream_double& operator=(const chunked_upstream_double&) = delete;

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

 private:
  void serve() {
    while (!stop_) {
      asio::ssl::stream<asio::ip::tcp::socket> s(io_, tls_);
      boost::system::error_code ec;
      acceptor_.accept(s.lowest_layer(), ec);
      if (ec || stop_) return;
      s.handshake(asio::ssl::stream_base::server, ec);
      if (ec) continue;
      asio::streambuf in;
      // Keep-alive: one response per request until the sidecar closes.
      while (!ec) {
        asio::read_until(s, in, "\r\n\r\n", ec);
        if (ec) break;
        in.consume(in.size());
        std::string head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < chunks_; ++i) {
          head += "400\r\n";
          head.append(1024, static_cast<char>('a' + i % 26));
          head += "\r\n";
        }
        asio::write(s, asio::buffer(head), ec);
        if (ec) break;
        std::this_thread::sleep_for(30ms);
        asio::write(s, asio::buffer(std::string("0\r\n\r\n")), ec);
      }
    }
  }

  asio::io_context io_;
  asio::ssl::context tls_;
  asio::ip::tcp::acceptor acceptor_;
  int chunks_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string routes_to(unsigned short port, const std::string& ca_file) {
  return "apiVersion: mca.x-k8s.io/v1alpha1\nkind: RoutingTable\n"
         "policy: e2e/relay\ntargets:\n  - name: double\n"
         "    server: https://127.0.0.1:" +
         std::to_string(port) + "\n    caFile: " + ca_file +
         "\n    credentials: {token: {value: not-a-secret}}\n"
         "defaultTarget: double\n";
}

// Sizes below, at and above what the relay gathers into one write (16 KiB
// less 64 bytes), so the last bytes gathered before the terminating chunk
// are sometimes a partial write and sometimes none.
TEST(RelayThroughSidecar, BodyEndingInARecordOfItsOwnArrivesWhole) {
  tls::serving_identity_options o;
  o.ip_addresses = {"127.0.0.1"};
  o.not_before = std::chrono::system_clock::now() - 1h;
  const auto id = tls::make_serving_identity(o);
  ASSERT_TRUE(id) << id.error().message;
  const auto dir =
      std::filesystem::temp_directory_path() / unique_name("mca-relay-test");
  std::filesystem::create_directories(dir);
  const auto ca_file = dir / "ca.crt";
  std::ofstream(ca_file) << id->ca.cert_pem;

  for (const int chunks : {1, 3, 15, 16, 17, 40}) {
    chunked_upstream_double upstream(*id, chunks);
    auto sidecar =
        sidecar_process::start(routes_to(upstream.port(), ca_file.string()));
    raw_request req;
    req.target = "/api/v1/namespaces/default/configmaps";
    req.headers = {{"Accept", "application/json"}};
    for (int attempt = 0; attempt < 2; ++attempt) {  // fresh, then reused
      const auto res = sidecar.request(req);
      ASSERT_EQ(res.status, 200) << chunks << " chunks: " << res.error;
      EXPECT_EQ(res.body.size(), expected_body(chunks).size())
          << chunks << " chunks, attempt " << attempt;
      EXPECT_TRUE(res.body == expected_body(chunks))
          << chunks << " chunks, attempt " << attempt;
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mca::test
