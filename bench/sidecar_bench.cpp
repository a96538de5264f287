// A first simple measurement of the sidecar's data path (issue 4): GET of
// one ConfigMap through the sidecar and directly, sequential latency
// p50/p99 over one keep-alive connection, requests per second with several
// connections, and the sidecar's RSS idle and under load. The full
// benchmark is its own issue. Needs `make testenv-up`.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/x509v3.h>

#include "common/util/text_file.hpp"
#include "support/sidecar_process.hpp"
#include "support/testenv.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using clock_type = std::chrono::steady_clock;

std::string read_file(const std::filesystem::path& p) {
  auto text = mca::util::read_text_file(p);
  if (!text) throw std::runtime_error(text.error().message);
  return *text;
}

// Sends `n` GETs over one connection; returns each one's latency in µs.
std::vector<double> run_connection(unsigned short port, const std::string& ca,
                                   const std::string& token,
                                   const std::string& target, int n) {
  asio::io_context ctx;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_peer);
  tls.add_certificate_authority(asio::buffer(ca));
  beast::ssl_stream<beast::tcp_stream> s(ctx, tls);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s.native_handle()), "127.0.0.1");
  beast::get_lowest_layer(s).connect(
      {asio::ip::make_address("127.0.0.1"), port});
  beast::get_lowest_layer(s).socket().set_option(asio::ip::tcp::no_delay(true));
  s.handshake(asio::ssl::stream_base::client);
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(n));
  beast::flat_buffer buf;
  for (int i = 0; i < n; ++i) {
    bhttp::request<bhttp::empty_body> req(bhttp::verb::get, target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::authorization, "Bearer " + token);
    req.set(bhttp::field::accept, "application/json");
    const auto t0 = clock_type::now();
    bhttp::write(s, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    const auto t1 = clock_type::now();
    if (res.result_int() != 200) {
      throw std::runtime_error("GET " + target + " answered " +
                               std::to_string(res.result_int()) + ": " +
                               res.body());
    }
    out.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return out;
}

struct figures {
  double p50 = 0, p99 = 0, rps = 0;
};

figures measure(unsigned short port, const std::string& ca,
                const std::string& token, const std::string& target,
                int sequential, int connections, int per_connection) {
  run_connection(port, ca, token, target, 200);  // warm up
  auto lat = run_connection(port, ca, token, target, sequential);
  std::sort(lat.begin(), lat.end());
  figures f;
  f.p50 = lat[lat.size() / 2];
  f.p99 = lat[lat.size() * 99 / 100];
  const auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back(
        [&] { run_connection(port, ca, token, target, per_connection); });
  }
  for (auto& t : threads) t.join();
  const double secs =
      std::chrono::duration<double>(clock_type::now() - t0).count();
  f.rps = connections * per_connection / secs;
  return f;
}

}  // namespace

int main() {
  std::string error;
  auto env = mca::test::testenv::load(error);
  if (!error.empty()) {
    std::cerr << error << "\n";
    return 1;
  }
  const auto& home = env.at("home");
  const auto name = mca::test::unique_name("bench-cm");
  if (!env.kubectl("home", {"create", "configmap", name, "--from-literal=k=v"})
           .ok()) {
    std::cerr << "cannot create the ConfigMap\n";
    return 1;
  }
  auto sidecar = mca::test::sidecar_process::start(
      mca::test::standard_routes(env), {"--log-level", "info"});
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long idle_rss = sidecar.process().status_kb("VmRSS");
  const std::string target = "/api/v1/namespaces/default/configmaps/" + name;
  const std::string home_token = read_file(home.token_file);
  const auto home_port = static_cast<unsigned short>(
      std::stoi(home.server.substr(home.server.rfind(':') + 1)));

  constexpr int sequential = 2000, connections = 8, per_connection = 500;
  const auto direct = measure(home_port, read_file(home.ca_file), home_token,
                              target, sequential, connections, per_connection);
  const auto via = measure(sidecar.port(), sidecar.ca_pem(), "placeholder",
                           target, sequential, connections, per_connection);
  const long load_rss = sidecar.process().status_kb("VmHWM");
  std::cout << "GET one ConfigMap (" << sequential
            << " sequential on one connection; " << connections
            << " connections x " << per_connection << " for req/s)\n";
  std::printf("  direct to home:   p50 %7.1f us  p99 %7.1f us  %8.0f req/s\n",
              direct.p50, direct.p99, direct.rps);
  std::printf("  through sidecar:  p50 %7.1f us  p99 %7.1f us  %8.0f req/s\n",
              via.p50, via.p99, via.rps);
  std::printf("  added by sidecar: p50 %7.1f us  p99 %7.1f us\n",
              via.p50 - direct.p50, via.p99 - direct.p99);
  std::printf("sidecar RSS idle %.1f MiB, peak under load %.1f MiB\n",
              static_cast<double>(idle_rss) / 1024.0,
              static_cast<double>(load_rss) / 1024.0);
  env.kubectl("home", {"delete", "configmap", name});
  return 0;
}
