#include "support/raw_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/x509v3.h>

namespace mca::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

template <class Stream>
raw_response exchange(Stream& stream, const std::string& host,
                      unsigned short port, const raw_request& req) {
  raw_response out;
  bhttp::request<bhttp::string_body> msg;
  msg.method_string(req.method);
  msg.target(req.target);
  msg.version(11);
  msg.set(bhttp::field::host, host + ":" + std::to_string(port));
  for (const auto& [k, v] : req.headers) msg.insert(k, v);
  msg.body() = req.body;
  if (!req.body.empty()) msg.prepare_payload();
  boost::system::error_code ec;
  bhttp::write(stream, msg, ec);
  if (ec) {
    out.error = "write: " + ec.message();
    return out;
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::uint64_t{64} * 1024 * 1024);
  bhttp::read(stream, buffer, parser, ec);
  if (ec) {
    out.error = "read: " + ec.message();
    return out;
  }
  const auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    out.headers.emplace_back(std::string(f.name_string()),
                             std::string(f.value()));
  }
  out.body = res.body();
  return out;
}

}  // namespace

std::string raw_response::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return {};
}

raw_response http_request(const std::string& host, unsigned short port,
                          const raw_request& req) {
  asio::io_context ctx;
  beast::tcp_stream stream(ctx);
  stream.expires_after(req.timeout);
  boost::system::error_code ec;
  stream.connect(tcp::endpoint(asio::ip::make_address(host), port), ec);
  if (ec) return raw_response{0, {}, {}, "connect: " + ec.message()};
  return exchange(stream, host, port, req);
}

raw_response https_request(const std::string& host, unsigned short port,
                           const std::string& ca_pem, const raw_request& req) {
  asio::io_context ctx;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_peer);
  tls.add_certificate_authority(asio::buffer(ca_pem));
  beast::ssl_stream<beast::tcp_stream> stream(ctx, tls);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.native_handle()),
                                host.c_str());
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(req.timeout);
  boost::system::error_code ec;
  lowest.connect(tcp::endpoint(asio::ip::make_address(host), port), ec);
  if (ec) return raw_response{0, {}, {}, "connect: " + ec.message()};
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return raw_response{0, {}, {}, "handshake: " + ec.message()};
  return exchange(stream, host, port, req);
}

}  // namespace mca::test
