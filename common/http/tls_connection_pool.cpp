#include "common/http/tls_connection_pool.hpp"

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace mca::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

error transport_error(std::string message) {
  return error::of(error_source::transport, std::move(message));
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Why a handshake failed, in words a user can act on: OpenSSL's
// verification result names the broken link (expired, unknown CA, name
// mismatch), which the bare "certificate verify failed" does not.
std::string describe_tls_failure(tls_stream& stream,
                                 const boost::system::error_code& ec,
                                 const std::string& server,
                                 const std::string& name,
                                 const tls_settings& tls) {
  std::string msg = "TLS handshake with " + server + " failed: ";
  const long verify = SSL_get_verify_result(stream.native_handle());
  if (verify != X509_V_OK) {
    msg += "certificate verification failed (";
    msg += X509_verify_cert_error_string(verify);
    msg += ") checking server name '" + name + "' against ";
    msg += tls.ca_pem.empty()
               ? std::string("the system trust store")
               : "the CA from " + (tls.ca_origin.empty()
                                       ? std::string("the config")
                                       : tls.ca_origin);
  } else {
    msg += ec.message();
  }
  return msg;
}

}  // namespace

std::string server_address::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  if (port != "443") h += ":" + port;
  return h;
}

result<server_address> parse_server_url(const std::string& server) {
  auto url = boost::urls::parse_uri(server);
  if (!url) {
    return error::of(
        error_source::config,
        "server '" + server + "' is not a URL: " + url.error().message());
  }
  if (url->scheme() != "https") {
    return error::of(error_source::config,
                     "server '" + server +
                         "' must be an https:// URL (plain HTTP is not "
                         "supported)");
  }
  server_address out;
  out.host = std::string(url->encoded_host_address());
  if (out.host.size() > 2 && out.host.front() == '[' &&
      out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.host.empty()) {
    return error::of(error_source::config,
                     "server '" + server + "' has no host");
  }
  out.port = url->has_port() ? std::string(url->port()) : "443";
  out.prefix = std::string(url->encoded_path());
  while (!out.prefix.empty() && out.prefix.back() == '/') {
    out.prefix.pop_back();
  }
  out.url = "https://" + std::string(url->encoded_host_and_port()) + out.prefix;
  return out;
}

tls_connection_pool::tls_connection_pool(asio::any_io_executor executor,
                                         server_address address,
                                         tls_settings tls,
                                         https_options options)
    : executor_(std::move(executor)),
      address_(std::move(address)),
      tls_(std::move(tls)),
      options_(std::move(options)) {
  verify_name_ = tls_.server_name.empty() ? address_.host : tls_.server_name;
}

// One ssl::context per client-certificate identity, built once.
result<std::pair<std::string, std::shared_ptr<ssl::context>>>
tls_connection_pool::context_for(const kube::credential& cred) {
  std::string identity = cred.client_cert_pem;
  if (auto it = contexts_.find(identity); it != contexts_.end()) {
    return std::pair{identity, it->second};
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (tls_.insecure_skip_verify) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
    if (tls_.ca_pem.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->add_certificate_authority(asio::buffer(tls_.ca_pem), ec);
    }
    if (ec) {
      return error::of(error_source::config,
                       "the CA for " + address_.url + " from " +
                           tls_.ca_origin +
                           " is not a valid PEM certificate: " + ec.message());
    }
  }
  if (!cred.client_cert_pem.empty()) {
    ctx->use_certificate_chain(asio::buffer(cred.client_cert_pem), ec);
    if (!ec) {
      ctx->use_private_key(asio::buffer(cred.client_key_pem), ssl::context::pem,
                           ec);
    }
    if (ec) {
      return error::of(error_source::config,
                       "the client certificate or key for " + address_.url +
                           " is invalid: " + ec.message());
    }
  }
  // Each rotation of an exec plugin's certificate adds an identity; only
  // the current few matter, so drop the old ones rather than grow.
  if (contexts_.size() >= 4) contexts_.clear();
  contexts_.emplace(identity, ctx);
  return std::pair{identity, ctx};
}

asio::awaitable<result<tls_connection_pool::lease>>
tls_connection_pool::acquire(kube::credential cred,
                             std::chrono::milliseconds timeout) {
  const std::string& identity = cred.client_cert_pem;
  const auto now = std::chrono::steady_clock::now();
  while (!idle_.empty()) {
    auto c = std::move(idle_.front());
    idle_.pop_front();
    if (c.identity == identity && now - c.idle_since < options_.idle_timeout) {
      co_return lease{std::move(c.stream), std::move(c.identity), true};
    }
  }
  auto fresh = co_await connect_new(std::move(cred), timeout);
  co_return fresh;
}

void tls_connection_pool::release(lease l) {
  if (!l.stream) return;
  beast::get_lowest_layer(*l.stream).expires_never();
  if (idle_.size() >= options_.max_idle_connections) idle_.pop_front();
  idle_.push_back(idle_connection{std::move(l.identity), std::move(l.stream),
                                  std::chrono::steady_clock::now()});
}

asio::awaitable<result<tls_connection_pool::lease>>
tls_connection_pool::connect_new(kube::credential cred,
                                 std::chrono::milliseconds timeout) {
  auto ctx = context_for(cred);
  if (!ctx) co_return ctx.error();
  tcp::resolver resolver(executor_);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(address_.host, address_.port, use_tuple);
  if (rec) {
    co_return transport_error("resolving " + address_.host + " for " +
                              address_.url + ": " + rec.message());
  }
  auto s = std::make_unique<tls_stream>(executor_, *ctx->second);
  auto& lowest = beast::get_lowest_layer(*s);
  lowest.expires_after(timeout);
  auto [cec, ep] = co_await lowest.async_connect(endpoints, use_tuple);
  if (cec) {
    co_return transport_error(
        "connecting to " + address_.url + ": " +
        (cec == beast::error::timeout ? "timed out" : cec.message()));
  }
  lowest.socket().set_option(tcp::no_delay(true));
  SSL* ssl_handle = s->native_handle();
  if (!is_ip_literal(verify_name_)) {
    // SSL_set_tlsext_host_name is a macro with a C cast; call what it does.
    SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME,
             TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(verify_name_.c_str()));
  }
  if (!tls_.insecure_skip_verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok =
        is_ip_literal(verify_name_)
            ? X509_VERIFY_PARAM_set1_ip_asc(param, verify_name_.c_str())
            : X509_VERIFY_PARAM_set1_host(param, verify_name_.c_str(), 0);
    if (ok != 1) {
      co_return error::of(error_source::config, "cannot verify server name '" +
                                                    verify_name_ + "' for " +
                                                    address_.url);
    }
  }
  auto [hec] = co_await s->async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) {
    co_return transport_error(
        hec == beast::error::timeout
            ? "TLS handshake with " + address_.url + " timed out"
            : describe_tls_failure(*s, hec, address_.url, verify_name_, tls_));
  }
  co_return lease{std::move(s), std::move(ctx->first), false};
}

}  // namespace mca::http
