#include "common/http/https_transport.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/http/tls_connection_pool.hpp"
#include "common/version/build_info.hpp"

namespace mca::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ssl_stream = tls_stream;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

error transport_error(std::string message) {
  return error::of(error_source::transport, std::move(message));
}

std::string_view find_header(const std::vector<header_field>& headers,
                             std::string_view name) noexcept {
  for (const auto& h : headers) {
    if (beast::iequals(h.name, name)) return h.value;
  }
  return {};
}

class https_response_stream;

class https_transport final
    : public transport,
      public std::enable_shared_from_this<https_transport> {
 public:
  https_transport(const asio::any_io_executor& executor, server_address address,
                  tls_settings tls,
                  std::shared_ptr<kube::credential_source> credentials,
                  const https_options& options)
      : pool_(executor, address, std::move(tls), options),
        address_(std::move(address)),
        credentials_(std::move(credentials)) {
    user_agent_ =
        options.user_agent + "/" + std::string(current_build().version);
  }

  const std::string& server() const noexcept override { return address_.url; }

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

  result<kube::credential> current_credential() {
    if (!credentials_) return kube::credential{};
    return credentials_->get();
  }

  bhttp::request<bhttp::string_body> to_beast(const request& req,
                                              const kube::credential& cred) {
    bhttp::request<bhttp::string_body> out;
    out.method_string(req.method);
    out.target(address_.prefix + req.target);
    out.version(11);
    out.set(bhttp::field::host, address_.host_header());
    out.set(bhttp::field::user_agent, user_agent_);
    for (const auto& h : req.headers) out.set(h.name, h.value);
    if (auto auth = kube::authorization_value(cred); !auth.empty()) {
      out.set(bhttp::field::authorization, auth);
    }
    if (out.find(bhttp::field::accept) == out.end()) {
      out.set(bhttp::field::accept, "application/json");
    }
    out.body() = req.body;
    out.keep_alive(true);
    out.prepare_payload();
    return out;
  }

  std::string describe_request(const request& req) const {
    return req.method + " " + address_.url + req.target;
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
    auto leased = co_await pool_.acquire(cred, options.timeout);
    if (!leased) co_return leased.error();
    const bool reused = leased->reused;
    auto& s = leased->stream;
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
      pool_.release(std::move(*leased));
    }
    co_return out;
  }

  static std::string timeout_or(const boost::system::error_code& ec) {
    return ec == beast::error::timeout ? std::string("timed out")
                                       : ec.message();
  }

  tls_connection_pool pool_;
  server_address address_;
  std::shared_ptr<kube::credential_source> credentials_;
  std::string user_agent_;
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
    // Long-lived: always its own connection, never one from the pool.
    auto c = co_await pool_.connect_new(*cred, options.timeout);
    if (!c) co_return c.error();
    auto s = std::move(c->stream);
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
  auto address = parse_server_url(server);
  if (!address) return address.error();
  return std::shared_ptr<transport>(std::make_shared<https_transport>(
      executor, std::move(*address), std::move(tls), std::move(credentials),
      options));
}

}  // namespace mca::http
