#include "operator/webhook/webhook_server.hpp"

#include <atomic>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/util/strings.hpp"

namespace mca::op {
namespace {

// A Kubernetes Status, so that what the API server logs about a refused
// call reads like its own errors.
std::string status_json(unsigned code, std::string_view reason,
                        std::string message) {
  const nlohmann::json status{{"kind", "Status"},
                              {"apiVersion", "v1"},
                              {"metadata", nlohmann::json::object()},
                              {"status", "Failure"},
                              {"message", std::move(message)},
                              {"reason", std::string(reason)},
                              {"code", code}};
  return status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

http::server_reply status_reply(unsigned code, std::string_view reason,
                                std::string message) {
  http::server_reply r;
  r.status = code;
  r.body = status_json(code, reason, std::move(message));
  return r;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

http::server_reply to_server(webhook_http_reply r) {
  http::server_reply out;
  out.status = r.status;
  out.content_type = std::move(r.content_type);
  out.body = std::move(r.body);
  return out;
}

webhook_http_request to_webhook(http::server_request r) {
  return webhook_http_request{std::move(r.method), std::move(r.target),
                              std::move(r.content_type), std::move(r.body)};
}

}  // namespace

// The routes and what the server counts beyond tls_server: paths it does
// not serve are its own refusals.
struct webhook_server::routing {
  std::map<std::string, webhook_handler, std::less<>> handlers;
  std::string served;  // "/healthz, /mutate", for the 404's message
  std::atomic<std::uint64_t> not_found{0};
};

mca::result<std::unique_ptr<webhook_server>> webhook_server::bind(
    const boost::asio::any_io_executor& executor, webhook_tls_source tls,
    webhook_server_config config,
    std::map<std::string, webhook_handler, std::less<>> routes) {
  if (!tls) {
    return error::of(error_source::internal, "the webhook server on port " +
                                                 std::to_string(config.port) +
                                                 " on " + config.address +
                                                 " has no certificate");
  }
  auto table = std::make_shared<routing>();
  table->handlers = std::move(routes);
  for (const auto& [path, h] : table->handlers) {
    table->served += (table->served.empty() ? "" : ", ") + path;
  }

  http::server_config server;
  server.name = "webhook";
  server.address = config.address;
  server.port = config.port;
  server.flag = config.flag;
  server.limits = config.limits;
  server.hooks.refusal = [](unsigned code, std::string_view reason,
                            std::string message) {
    return status_reply(code, reason, std::move(message));
  };
  server.hooks.failure = [on_request = config.on_request_failure,
                          on_handler = config.on_handler_failure](
                             const http::server_request& req,
                             std::string_view what,
                             bool) -> http::server_reply {
    const std::string path(path_of(req.target));
    const std::string said =
        "the handler for " + path + " " +
        (what.starts_with("the handler ") ? std::string(what.substr(12))
                                          : std::string(what));
    if (on_request) return to_server(on_request(to_webhook(req), said));
    if (on_handler) return to_server(on_handler(said));
    // Details stay in the log: the reply may reach whoever made the
    // request.
    return status_reply(500, "InternalError",
                        "the webhook's handler for " + path +
                            " failed; see the operator's log");
  };

  http::server_handler handler = [table](http::server_request req)
      -> boost::asio::awaitable<http::server_reply> {
    const std::string_view path = path_of(req.target);
    const auto route = table->handlers.find(path);
    if (route == table->handlers.end()) {
      table->not_found.fetch_add(1);
      spdlog::debug("webhook: a request for {}, which is not served", path);
      co_return status_reply(404, "NotFound",
                             "the webhook serves no path " + quote(path) +
                                 "; it serves " + table->served);
    }
    // Named, not a temporary in the call: GCC 12 mis-destroys those in a
    // coroutine call's arguments.
    webhook_http_request in = to_webhook(std::move(req));
    webhook_http_reply reply = co_await route->second(std::move(in));
    co_return to_server(std::move(reply));
  };

  auto source = [tls = std::move(tls)]() -> http::server_tls {
    auto ctx = tls();
    http::server_tls out;
    out.context = ctx ? ctx->native_handle() : nullptr;
    out.owner = std::move(ctx);
    return out;
  };
  auto bound = http::tls_server::bind(executor, std::move(source),
                                      std::move(server), std::move(handler));
  if (!bound) return bound.error();
  return std::unique_ptr<webhook_server>(
      new webhook_server(std::move(*bound), std::move(table)));
}

webhook_server::webhook_server(std::unique_ptr<http::tls_server> server,
                               std::shared_ptr<routing> routes)
    : server_(std::move(server)), routes_(std::move(routes)) {}

webhook_server::~webhook_server() = default;

unsigned short webhook_server::port() const noexcept { return server_->port(); }

void webhook_server::start() { server_->start(); }

void webhook_server::stop() { server_->stop(); }

webhook_server::stats webhook_server::counts() const {
  const auto s = server_->counts();
  stats out;
  out.accepted = s.accepted;
  out.open = s.open;
  out.handshakes_failed = s.handshakes_failed;
  out.requests = s.requests;
  out.handler_failures = s.handler_failures;
  out.refused = s.refused + routes_->not_found.load();
  return out;
}

}  // namespace mca::op
