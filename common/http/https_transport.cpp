#include "common/http/https_transport.hpp"

#include <array>
#include <deque>
#include <map>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/version/build_info.hpp"

namespace mca::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ssl_stream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

error transport_error(std::string message) {
  return error::of(error_source::transport, std::move(message));
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string_view find_header(const std::vector<header_field>& headers,
                             std::string_view name) noexcept {
  for (const auto& h : headers) {
    if (beast::iequals(h.name, name)) return h.value;
  }
  return {};
}

// Why a handshake failed, in words a user can act on: OpenSSL's
// verification result names the broken link (expired, unknown CA, name
// mismatch), which the bare "certificate verify failed" does not.
std::string describe_tls_failure(ssl_stream& stream,
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

class https_response_stream;

class https_transport final
    : public transport,
      public std::enable_shared_from_this<https_transport> {
 public:
  https_transport(asio::any_io_executor executor, std::string server,
                  std::string host, std::string port, std::string prefix,
                  tls_settings tls,
                  std::shared_ptr<kube::credential_source> credentials,
                  https_options options)
      : executor_(std::move(executor)),
        server_(std::move(server)),
        host_(std::move(host)),
        port_(std::move(port)),
        prefix_(std::move(prefix)),
        tls_(std::move(tls)),
        credentials_(std::move(credentials)),
        options_(std::move(options)) {
    verify_name_ = tls_.server_name.empty() ? host_ : tls_.server_name;
    user_agent_ =
        options_.user_agent + "/" + std::string(current_build().version);
  }

  const std::string& server() const noexcept override { return server_; }

  asio::awaitable<result<response>> send(request req,
                                         request_options options) override {
    for (int attempt = 0;; ++attempt) {
      auto cred = current_credential();
      if (!cred) co_return cred.error();
      bool stale = false;
      auto r = co_await send_once(req, options, *cred, stale);
      if (!r && stale && attempt < 2) continue;
      if (r && r->status == 401 && credentials_ && attempt == 0) {
        // An exec plugin's token may have been revoked or rotated early.
        credentials_->invalidate();
        continue;
      }
      co_return r;
    }
  }

  asio::awaitable<result<std::unique_ptr<response_stream>>> stream(
      request req, request_options options) override;

 private:
  friend class https_response_stream;

  struct connection {
    std::string identity;
    std::unique_ptr<ssl_stream> stream;
    std::chrono::steady_clock::time_point idle_since;
  };

  result<kube::credential> current_credential() {
    if (!credentials_) return kube::credential{};
    return credentials_->get();
  }

  // One ssl::context per client-certificate identity, built once.
  result<std::pair<std::string, std::shared_ptr<ssl::context>>> context_for(
      const kube::credential& cred) {
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
        return error::of(
            error_source::config,
            "the CA for " + server_ + " from " + tls_.ca_origin +
                " is not a valid PEM certificate: " + ec.message());
      }
    }
    if (!cred.client_cert_pem.empty()) {
      ctx->use_certificate_chain(asio::buffer(cred.client_cert_pem), ec);
      if (!ec) {
        ctx->use_private_key(asio::buffer(cred.client_key_pem),
                             ssl::context::pem, ec);
      }
      if (ec) {
        return error::of(error_source::config,
                         "the client certificate or key for " + server_ + " (" +
                             describe_credentials() +
                             ") is invalid: " + ec.message());
      }
    }
    // Each rotation of an exec plugin's certificate adds an identity; only
    // the current few matter, so drop the old ones rather than grow.
    if (contexts_.size() >= 4) contexts_.clear();
    contexts_.emplace(identity, ctx);
    return std::pair{identity, ctx};
  }

  std::string describe_credentials() const {
    return credentials_ ? credentials_->describe() : "anonymous";
  }

  std::unique_ptr<ssl_stream> take_idle(const std::string& identity) {
    const auto now = std::chrono::steady_clock::now();
    while (!idle_.empty()) {
      auto c = std::move(idle_.front());
      idle_.pop_front();
      if (c.identity == identity &&
          now - c.idle_since < options_.idle_timeout) {
        return std::move(c.stream);
      }
    }
    return nullptr;
  }

  void give_back(std::string identity, std::unique_ptr<ssl_stream> s) {
    if (idle_.size() >= options_.max_idle_connections) idle_.pop_front();
    idle_.push_back(connection{std::move(identity), std::move(s),
                               std::chrono::steady_clock::now()});
  }

  asio::awaitable<result<std::unique_ptr<ssl_stream>>> connect(
      const std::shared_ptr<ssl::context>& ctx,
      std::chrono::milliseconds timeout) {
    tcp::resolver resolver(executor_);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(host_, port_, use_tuple);
    if (rec) {
      co_return transport_error("resolving " + host_ + " for " + server_ +
                                ": " + rec.message());
    }
    auto s = std::make_unique<ssl_stream>(executor_, *ctx);
    auto& lowest = beast::get_lowest_layer(*s);
    lowest.expires_after(timeout);
    auto [cec, ep] = co_await lowest.async_connect(endpoints, use_tuple);
    if (cec) {
      co_return transport_error(
          "connecting to " + server_ + ": " +
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
        co_return error::of(
            error_source::config,
            "cannot verify server name '" + verify_name_ + "' for " + server_);
      }
    }
    auto [hec] =
        co_await s->async_handshake(ssl::stream_base::client, use_tuple);
    if (hec) {
      co_return transport_error(
          hec == beast::error::timeout
              ? "TLS handshake with " + server_ + " timed out"
              : describe_tls_failure(*s, hec, server_, verify_name_, tls_));
    }
    co_return std::move(s);
  }

  bhttp::request<bhttp::string_body> to_beast(const request& req,
                                              const kube::credential& cred) {
    bhttp::request<bhttp::string_body> out;
    out.method_string(req.method);
    out.target(prefix_ + req.target);
    out.version(11);
    out.set(bhttp::field::host, host_header());
    out.set(bhttp::field::user_agent, user_agent_);
    for (const auto& h : req.headers) out.set(h.name, h.value);
    if (!cred.bearer_token.empty()) {
      out.set(bhttp::field::authorization, "Bearer " + cred.bearer_token);
    } else if (!cred.basic_username.empty()) {
      out.set(
          bhttp::field::authorization,
          "Basic " + base64(cred.basic_username + ":" + cred.basic_password));
    }
    if (out.find(bhttp::field::accept) == out.end()) {
      out.set(bhttp::field::accept, "application/json");
    }
    out.body() = req.body;
    out.keep_alive(true);
    out.prepare_payload();
    return out;
  }

  static std::string base64(const std::string& in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(in.data()),
                        static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
  }

  std::string host_header() const {
    const bool v6 = host_.find(':') != std::string::npos;
    std::string h = v6 ? "[" + host_ + "]" : host_;
    if (port_ != "443") h += ":" + port_;
    return h;
  }

  std::string describe_request(const request& req) const {
    return req.method + " " + server_ + prefix_ + req.target;
  }

  static std::vector<header_field> copy_headers(const bhttp::fields& fields) {
    std::vector<header_field> out;
    for (const auto& f : fields) {
      out.push_back({std::string(f.name_string()), std::string(f.value())});
    }
    return out;
  }

  asio::awaitable<result<response>> send_once(const request& req,
                                              const request_options& options,
                                              const kube::credential& cred,
                                              bool& stale) {
    auto ctx = context_for(cred);
    if (!ctx) co_return ctx.error();
    auto s = take_idle(ctx->first);
    const bool reused = s != nullptr;
    if (!s) {
      auto c = co_await connect(ctx->second, options.timeout);
      if (!c) co_return c.error();
      s = std::move(*c);
    }
    beast::get_lowest_layer(*s).expires_after(options.timeout);
    auto breq = to_beast(req, cred);
    auto [wec, wn] = co_await bhttp::async_write(*s, breq, use_tuple);
    if (wec) {
      stale = reused;
      co_return transport_error("sending " + describe_request(req) + ": " +
                                timeout_or(wec));
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.body_limit);
    auto [rec, rn] = co_await bhttp::async_read(*s, buffer, parser, use_tuple);
    if (rec) {
      // A pooled connection the server closed while idle fails before any
      // byte of the response: safe to send again on a new one.
      stale = reused && rn == 0 && rec != beast::error::timeout;
      if (rec == bhttp::error::body_limit) {
        co_return transport_error("the response to " + describe_request(req) +
                                  " is larger than the limit of " +
                                  std::to_string(options.body_limit) +
                                  " bytes");
      }
      co_return transport_error("reading the response to " +
                                describe_request(req) + ": " + timeout_or(rec));
    }
    auto msg = parser.release();
    response out;
    out.status = static_cast<int>(msg.result_int());
    out.headers = copy_headers(msg.base());
    out.body = std::move(msg.body());
    if (msg.keep_alive() && buffer.size() == 0) {
      beast::get_lowest_layer(*s).expires_never();
      give_back(ctx->first, std::move(s));
    }
    co_return out;
  }

  static std::string timeout_or(const boost::system::error_code& ec) {
    return ec == beast::error::timeout ? std::string("timed out")
                                       : ec.message();
  }

  asio::any_io_executor executor_;
  std::string server_;
  std::string host_;
  std::string port_;
  std::string prefix_;
  tls_settings tls_;
  std::shared_ptr<kube::credential_source> credentials_;
  https_options options_;
  std::string verify_name_;
  std::string user_agent_;
  std::map<std::string, std::shared_ptr<ssl::context>> contexts_;
  std::deque<connection> idle_;
};

class https_response_stream final : public response_stream {
 public:
  https_response_stream(
      std::unique_ptr<ssl_stream> s, beast::flat_buffer buffer,
      std::unique_ptr<bhttp::response_parser<bhttp::buffer_body>> parser,
      std::string what)
      : stream_(std::move(s)),
        buffer_(std::move(buffer)),
        parser_(std::move(parser)),
        what_(std::move(what)) {}

  int status() const noexcept override {
    return static_cast<int>(parser_->get().result_int());
  }

  std::string_view header(std::string_view name) const noexcept override {
    auto it = parser_->get().find(beast::string_view(name.data(), name.size()));
    if (it == parser_->get().end()) return {};
    return {it->value().data(), it->value().size()};
  }

  asio::awaitable<result<std::string_view>> read_some(
      std::chrono::milliseconds idle_timeout) override {
    while (!parser_->is_done()) {
      auto& body = parser_->get().body();
      body.data = chunk_.data();
      body.size = chunk_.size();
      beast::get_lowest_layer(*stream_).expires_after(idle_timeout);
      auto [ec, n] = co_await bhttp::async_read_some(*stream_, buffer_,
                                                     *parser_, use_tuple);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        co_return transport_error(
            "reading " + what_ + ": " +
            (ec == beast::error::timeout
                 ? "nothing received for " +
                       std::to_string(idle_timeout.count()) + " ms"
                 : ec.message()));
      }
      const std::size_t got = chunk_.size() - parser_->get().body().size;
      if (got > 0) co_return std::string_view(chunk_.data(), got);
    }
    co_return std::string_view{};
  }

  void close() noexcept override {
    boost::system::error_code ignored;
    beast::get_lowest_layer(*stream_).socket().close(ignored);
  }

 private:
  std::unique_ptr<ssl_stream> stream_;
  beast::flat_buffer buffer_;
  std::unique_ptr<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::string what_;
  std::array<char, std::size_t{64} * 1024> chunk_{};
};

asio::awaitable<result<std::unique_ptr<response_stream>>>
https_transport::stream(request req, request_options options) {
  for (int attempt = 0;; ++attempt) {
    auto cred = current_credential();
    if (!cred) co_return cred.error();
    auto ctx = context_for(*cred);
    if (!ctx) co_return ctx.error();
    // Long-lived: always its own connection, never one from the pool.
    auto c = co_await connect(ctx->second, options.timeout);
    if (!c) co_return c.error();
    auto s = std::move(*c);
    beast::get_lowest_layer(*s).expires_after(options.timeout);
    auto breq = to_beast(req, *cred);
    auto [wec, wn] = co_await bhttp::async_write(*s, breq, use_tuple);
    if (wec) {
      co_return transport_error("sending " + describe_request(req) + ": " +
                                timeout_or(wec));
    }
    beast::flat_buffer buffer;
    auto parser =
        std::make_unique<bhttp::response_parser<bhttp::buffer_body>>();
    parser->body_limit(boost::none);
    auto [rec, rn] =
        co_await bhttp::async_read_header(*s, buffer, *parser, use_tuple);
    if (rec) {
      co_return transport_error("reading the response to " +
                                describe_request(req) + ": " + timeout_or(rec));
    }
    if (parser->get().result_int() == 401 && credentials_ && attempt == 0) {
      credentials_->invalidate();
      continue;
    }
    co_return std::unique_ptr<response_stream>(
        std::make_unique<https_response_stream>(std::move(s), std::move(buffer),
                                                std::move(parser),
                                                describe_request(req)));
  }
}

}  // namespace

std::string_view response::header(std::string_view name) const noexcept {
  return find_header(headers, name);
}

result<std::shared_ptr<transport>> make_https_transport(
    const asio::any_io_executor& executor, const std::string& server,
    tls_settings tls, std::shared_ptr<kube::credential_source> credentials,
    https_options options) {
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
  std::string host(url->encoded_host_address());
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return error::of(error_source::config,
                     "server '" + server + "' has no host");
  }
  std::string port = url->has_port() ? std::string(url->port()) : "443";
  std::string prefix(url->encoded_path());
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  std::string canonical =
      "https://" + std::string(url->encoded_host_and_port()) + prefix;
  return std::shared_ptr<transport>(std::make_shared<https_transport>(
      executor, std::move(canonical), std::move(host), std::move(port),
      std::move(prefix), std::move(tls), std::move(credentials),
      std::move(options)));
}

}  // namespace mca::http
