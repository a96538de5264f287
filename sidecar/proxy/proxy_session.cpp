#include "sidecar/proxy/proxy_session.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/http/tls_connection_pool.hpp"
#include "common/kube/watch_decoder.hpp"
#include "common/routing/body_metadata.hpp"
#include "common/routing/request_facts.hpp"
#include "common/routing/route_matcher.hpp"
#include "common/util/strings.hpp"
#include "common/util/yaml_json.hpp"
#include "sidecar/fanout/discovery_merge.hpp"
#include "sidecar/fanout/write_back.hpp"
#include "sidecar/metrics/sidecar_metrics.hpp"
#include "sidecar/proxy/header_policy.hpp"
#include "sidecar/proxy/locate.hpp"
#include "sidecar/proxy/merged_discovery.hpp"
#include "sidecar/proxy/merged_list.hpp"
#include "sidecar/proxy/merged_watch.hpp"
#include "sidecar/proxy/request_kind.hpp"
#include "sidecar/proxy/status_response.hpp"

namespace mca::sidecar {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using http::tls_stream;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Relay buffer per direction: large enough that a list response moves in
// few writes, small enough that 1,000 idle connections cost nothing (it
// lives in the coroutine frame only while a response is relayed).
constexpr std::size_t relay_chunk = std::size_t{32} * 1024;
// A list body kept to learn placements from; larger lists are relayed
// without learning.
constexpr std::size_t max_learned_list_bytes = std::size_t{8} * 1024 * 1024;

error client_error(std::string message, int code = 400) {
  error e = error::of(error_source::client, std::move(message));
  e.status.code = code;
  return e;
}

bool is_write(routing::verb v) {
  return v == routing::verb::create || v == routing::verb::update ||
         v == routing::verb::patch || v == routing::verb::delete_;
}

bool is_json(std::string_view content_type) {
  return content_type.substr(0, 16) == "application/json";
}

std::string object_path(const routing::request_info& info) {
  std::string p = "/" + info.api_prefix;
  if (!info.group.empty()) p += "/" + info.group;
  p += "/" + info.version;
  if (info.resource == "namespaces") return p + "/namespaces/" + info.name;
  if (!info.namespace_name.empty()) {
    p += "/namespaces/" + info.namespace_name;
  }
  return p + "/" + info.resource + "/" + info.name;
}

routing::object_ref ref_of(const routing::request_info& info) {
  return {info.group, info.resource,
          info.resource == "namespaces" ? std::string() : info.namespace_name,
          info.name};
}

std::string resource_label(const routing::request_info& info) {
  if (!info.is_resource_request) return "";
  std::string r =
      info.group.empty() ? info.resource : info.resource + "." + info.group;
  if (!info.subresource.empty()) r += "/" + info.subresource;
  return r;
}

// Where the located object is, and its labels/annotations when a probe
// brought them.
struct location {
  std::string target;
  std::optional<nlohmann::json> object;
};

}  // namespace

class proxy_session_impl {
 public:
  proxy_session_impl(tcp::socket socket, asio::ssl::context& tls,
                     proxy_shared& shared, proxy_worker& worker)
      : client_(std::move(socket), tls), shared_(shared), worker_(worker) {}

  asio::awaitable<void> run();
  void begin_drain();

 private:
  enum class phase { handshake, idle, busy, streaming };

  struct request_state {
    std::optional<bhttp::request_parser<bhttp::empty_body>> head;
    std::string method;
    std::string target;
    std::string body;            // read for inspection
    bool body_read = false;      // body (if any) is in `body`
    bool body_consumed = false;  // streamed upstream already
    bool located_by_index = false;
    // Whether relayed lists and watches feed the placement index: only
    // when the table has label rules, the ones that locate objects by it
    // (fan-out rules locate in parallel, or by the object's annotation).
    // Parsing a large list after relaying it costs more than the relay
    // itself and stalls the worker meanwhile.
    bool learn_placements = false;
    routing::inspected_request inspected;
    std::string user_agent;
    std::string content_type;
    clock::time_point started;
    bool client_keep_alive = true;
  };

  // Outcome of one request for the connection loop and the metrics.
  struct outcome {
    bool keep_alive = false;
    int code = 0;
    std::string target;
  };

  asio::awaitable<outcome> handle(request_state& rs);
  asio::awaitable<outcome> respond_error(request_state& rs, int code,
                                         std::string message);
  asio::awaitable<outcome> respond_merged(request_state& rs,
                                          merged_list_answer answer);
  asio::awaitable<outcome> respond_ok(request_state& rs,
                                      std::string content_type,
                                      std::string body, std::string warning);
  // A plain function: GCC 12 mis-destroys temporaries built inside
  // coroutine argument lists.
  static merged_list_request merged_request_of(const request_state& rs) {
    merged_list_request r;
    r.target = rs.target;
    if (rs.head) r.accept = std::string(rs.head->get()[bhttp::field::accept]);
    r.resource = rs.inspected.info.resource;
    return r;
  }
  asio::awaitable<outcome> relay_merged_watch(
      request_state& rs, const routing::routing_table& table,
      const routing::decision& decision);
  asio::awaitable<result<location>> locate(
      const routing::routing_table& table, request_state& rs,
      const std::vector<std::string>& candidates);
  asio::awaitable<result<nlohmann::json>> fetch_object(
      const routing::routing_table& table, const std::string& target,
      const routing::request_info& info);
  asio::awaitable<std::optional<std::string>> check_label_move(
      const routing::routing_table& table, request_state& rs,
      const std::string& target, const std::optional<location>& where);
  asio::awaitable<outcome> forward(request_state& rs,
                                   const routing::target_spec& spec);
  asio::awaitable<void> pump(tls_stream& from, tls_stream& to);

  void learn_begin(const std::string& target, request_state& rs, int status,
                   std::string_view content_type);
  void learn_chunk(std::string_view bytes);
  void learn_end(const std::string& target, request_state& rs, int status);

  tls_stream client_;
  beast::flat_buffer client_buffer_;
  proxy_shared& shared_;
  proxy_worker& worker_;
  phase phase_ = phase::handshake;
  bool drain_ = false;
  // The upstream of a long-running stream, so that drain can end it.
  tls_stream* stream_upstream_ = nullptr;
  merged_watch* merged_watch_ = nullptr;  // likewise, for a merged one
  bool ending_stream_ = false;
  std::optional<kube::watch_decoder> watch_learner_;
  std::string list_learner_;
  bool learning_list_ = false;
  std::string learn_target_;
  routing::object_ref learn_ref_;
};

asio::awaitable<void> proxy_session_impl::run() {
  auto& lowest = beast::get_lowest_layer(client_);
  lowest.expires_after(shared_.limits.handshake_timeout);
  auto [hec] = co_await client_.async_handshake(asio::ssl::stream_base::server,
                                                use_tuple);
  if (hec) {
    spdlog::debug("client TLS handshake failed: {}", hec.message());
    co_return;
  }
  for (;;) {
    if (drain_ || shared_.draining.load()) break;
    phase_ = phase::idle;
    request_state rs;
    rs.head.emplace();
    rs.head->header_limit(
        static_cast<std::uint32_t>(shared_.limits.header_bytes));
    rs.head->body_limit(boost::none);
    lowest.expires_after(shared_.limits.idle_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(client_, client_buffer_,
                                                     *rs.head, use_tuple);
    if (ec == bhttp::error::header_limit) {
      rs.started = clock::now();
      rs.client_keep_alive = false;
      rs.head.reset();
      co_await respond_error(
          rs, 431,
          "the request's headers are larger than the sidecar's limit of " +
              std::to_string(shared_.limits.header_bytes) + " bytes");
      break;
    }
    if (ec) {
      // Closed, timed out while idle, or drained: nothing to answer. A
      // malformed request line is answered, since a client waits for it.
      if (n > 0 && ec != beast::error::timeout &&
          ec != asio::error::operation_aborted && ec != asio::error::eof &&
          ec != asio::ssl::error::stream_truncated) {
        rs.started = clock::now();
        rs.client_keep_alive = false;
        co_await respond_error(rs, 400,
                               "malformed HTTP request: " + ec.message());
      }
      break;
    }
    phase_ = phase::busy;
    rs.started = clock::now();
    rs.method = std::string(rs.head->get().method_string());
    rs.target = std::string(rs.head->get().target());
    rs.client_keep_alive = rs.head->get().keep_alive();
    outcome out;
    try {
      out = co_await handle(rs);
    } catch (const std::exception& e) {
      // Nothing may escape a connection; a bug answers 500 if it can.
      spdlog::error("internal error serving a request: {}", e.what());
      break;
    }
    if (!out.keep_alive) break;
  }
  // Best effort: a client that is gone cannot be told.
  lowest.expires_after(std::chrono::seconds(2));
  co_await client_.async_shutdown(use_tuple);
}

void proxy_session_impl::begin_drain() {
  drain_ = true;
  if (phase_ == phase::idle || phase_ == phase::handshake) {
    beast::get_lowest_layer(client_).cancel();
  } else if (phase_ == phase::streaming && merged_watch_ != nullptr) {
    merged_watch_->close();
  } else if (phase_ == phase::streaming && stream_upstream_ != nullptr) {
    ending_stream_ = true;
    boost::system::error_code ignored;
    beast::get_lowest_layer(*stream_upstream_).socket().close(ignored);
  }
}

asio::awaitable<proxy_session_impl::outcome> proxy_session_impl::respond_error(
    request_state& rs, int code, std::string message) {
  // Unread request body: the connection cannot carry another request.
  const bool body_pending =
      rs.head && !rs.head->is_done() && !rs.body_read && !rs.body_consumed;
  const bool keep = rs.client_keep_alive && !body_pending && !drain_ &&
                    !shared_.draining.load();
  bhttp::response<bhttp::string_body> res(static_cast<bhttp::status>(code), 11);
  res.set(bhttp::field::content_type, "application/json");
  res.set(bhttp::field::cache_control, "no-cache, private");
  const auto& about = rs.inspected.info;
  if (about.name.empty()) {
    res.body() = status_json(code, message);
  } else {
    status_details details{about.name, about.group, about.resource, {}, {}, {}};
    if (code == 422) {
      // The only 422 the sidecar makes: a label change that would move the
      // object to another cluster.
      details.cause_field = "metadata.labels";
      details.cause_reason = "FieldValueForbidden";
      details.cause_message = message;
    }
    res.body() = status_json(code, message, {}, details);
  }
  res.keep_alive(keep);
  res.prepare_payload();
  auto& lowest = beast::get_lowest_layer(client_);
  lowest.expires_after(shared_.limits.request_timeout);
  auto [ec, n] = co_await bhttp::async_write(client_, res, use_tuple);
  const auto& info = rs.inspected.info;
  shared_.metrics.record_request(
      "", routing::to_string(info.kind), resource_label(info), code,
      std::chrono::duration<double>(clock::now() - rs.started));
  spdlog::info("{} {} -> {} {}", rs.method, rs.target, code, message);
  co_return outcome{keep && !ec, code, ""};
}

asio::awaitable<proxy_session_impl::outcome> proxy_session_impl::respond_merged(
    request_state& rs, merged_list_answer answer) {
  if (answer.status >= 400) {
    co_return co_await respond_error(rs, answer.status, std::move(answer.body));
  }
  std::string content_type = "application/json";
  if (rs.head && wants_yaml(rs.head->get()[bhttp::field::accept])) {
    content_type = "application/yaml";
    answer.body = util::json_to_yaml(nlohmann::json::parse(answer.body));
  }
  co_return co_await respond_ok(rs, std::move(content_type),
                                std::move(answer.body),
                                std::move(answer.warning));
}

asio::awaitable<proxy_session_impl::outcome> proxy_session_impl::respond_ok(
    request_state& rs, std::string content_type, std::string body,
    std::string warning) {
  const bool keep = rs.client_keep_alive && !drain_ && !shared_.draining.load();
  bhttp::response<bhttp::string_body> res(bhttp::status::ok, 11);
  res.set(bhttp::field::content_type, content_type);
  res.set(bhttp::field::cache_control, "no-cache, private");
  if (!warning.empty()) res.set("Warning", warning);
  res.body() = std::move(body);
  res.keep_alive(keep);
  res.prepare_payload();
  auto& lowest = beast::get_lowest_layer(client_);
  lowest.expires_after(shared_.limits.request_timeout);
  auto [ec, n] = co_await bhttp::async_write(client_, res, use_tuple);
  const auto& info = rs.inspected.info;
  shared_.metrics.record_request(
      "", routing::to_string(info.kind), resource_label(info), 200,
      std::chrono::duration<double>(clock::now() - rs.started));
  co_return outcome{keep && !ec, 200, ""};
}

asio::awaitable<proxy_session_impl::outcome>
proxy_session_impl::relay_merged_watch(request_state& rs,
                                       const routing::routing_table& table,
                                       const routing::decision& decision) {
  merged_list_request merged = merged_request_of(rs);
  auto opened = co_await merged_watch::open(
      worker_.upstreams, table, decision, std::move(merged),
      shared_.limits.request_timeout, shared_.limits.stream_idle_timeout);
  if (opened.status != 200) {
    co_return co_await respond_error(rs, opened.status,
                                     std::move(opened.message));
  }
  const auto& info = rs.inspected.info;
  const bool keep = rs.client_keep_alive && !drain_ && !shared_.draining.load();
  bhttp::response<bhttp::buffer_body> res(bhttp::status::ok, 11);
  res.set(bhttp::field::content_type, "application/json");
  res.set(bhttp::field::cache_control, "no-cache, private");
  res.chunked(true);
  res.keep_alive(keep);
  res.body().data = nullptr;
  res.body().more = true;
  bhttp::response_serializer<bhttp::buffer_body> sr(res);
  auto& clowest = beast::get_lowest_layer(client_);
  clowest.expires_after(shared_.limits.stream_idle_timeout);
  auto [hec, hn] = co_await bhttp::async_write_header(client_, sr, use_tuple);
  bool clean = !hec;
  shared_.metrics.stream_opened(stream_kind(info));
  phase_ = phase::streaming;
  merged_watch_ = opened.watch.get();
  std::size_t relayed = 0;
  while (clean) {
    merged_watch_batch batch = co_await opened.watch->next(relay_chunk * 4);
    if (!batch.bytes.empty()) {
      relayed += batch.events;
      res.body().data = batch.bytes.data();
      res.body().size = batch.bytes.size();
      res.body().more = true;
      clowest.expires_after(shared_.limits.stream_idle_timeout);
      auto [wec, wn] = co_await bhttp::async_write(client_, sr, use_tuple);
      if (wec == bhttp::error::need_buffer) wec = {};
      if (wec) clean = false;
    }
    if (batch.last) break;
  }
  merged_watch_ = nullptr;
  opened.watch->close();
  if (clean) {
    // The terminating chunk: the watch ended, it did not break.
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    clowest.expires_after(shared_.limits.request_timeout);
    auto [wec, wn] = co_await bhttp::async_write(client_, sr, use_tuple);
    if (wec == bhttp::error::need_buffer) wec = {};
    if (wec) clean = false;
  }
  shared_.metrics.stream_closed(stream_kind(info));
  shared_.metrics.record_request(
      "", routing::to_string(info.kind), resource_label(info), 200,
      std::chrono::duration<double>(clock::now() - rs.started));
  spdlog::debug("{} {} -> merged watch over {} ended after {} events",
                rs.method, rs.target, join(decision.candidates, ","), relayed);
  co_return outcome{keep && clean, 200, ""};
}

asio::awaitable<proxy_session_impl::outcome> proxy_session_impl::handle(
    request_state& rs) {
  auto& head = rs.head->get();
  const std::string& method = rs.method;
  const std::string& target = rs.target;
  rs.user_agent = std::string(head[bhttp::field::user_agent]);
  rs.content_type = std::string(head[bhttp::field::content_type]);

  auto info = routing::classify(method, target);
  if (!info) {
    co_return co_await respond_error(rs, 400, info.error().message);
  }
  rs.inspected.info = *info;

  const auto table = shared_.tables.current();
  if (!table) {
    co_return co_await respond_error(rs, 503,
                                     shared_.tables.unavailable_message());
  }

  // Discovery spans every target, so what only a remote cluster serves is
  // discoverable (and, with a rule for it, routable).
  if (info->kind == routing::verb::non_resource && method == "GET" &&
      table->targets.size() > 1 &&
      fanout::classify_discovery(info->path) != fanout::discovery_path::none) {
    std::string accept(head[bhttp::field::accept]);
    auto answer = co_await read_merged_discovery(
        worker_.upstreams, worker_.discovery, *table, target, std::move(accept),
        shared_.limits.probe_timeout, shared_.limits.inspected_body_bytes * 32);
    if (answer.status != 200) {
      co_return co_await respond_error(rs, answer.status,
                                       std::move(answer.body));
    }
    co_return co_await respond_ok(rs, std::move(answer.content_type),
                                  std::move(answer.body), std::string());
  }

  const bool has_body = !rs.head->is_done();
  const bool label_rules = std::any_of(
      table->rules.begin(), table->rules.end(),
      [](const routing::rule& r) { return r.match.needs_object_metadata(); });
  // Fan-out rules hand out composite versions and the cluster annotation;
  // writes bring them back, to be translated for the owning cluster.
  const bool fan_out_rules =
      std::any_of(table->rules.begin(), table->rules.end(),
                  [](const routing::rule& r) { return r.fan_out.has_value(); });
  // Only lists and watches teach placements (learn_begin); the extra
  // match() it costs stays off every other request.
  rs.learn_placements = label_rules &&
                        (info->kind == routing::verb::list ||
                         info->kind == routing::verb::watch) &&
                        routing::placement_ambiguous(*table, *info);
  const bool translate = fan_out_rules && is_write(info->kind) &&
                         fanout::is_translatable(rs.content_type);
  const bool inspect_body =
      has_body &&
      (routing::needs_object_body(*info, rs.content_type) ||
       (info->kind == routing::verb::patch && label_rules) || translate);
  if (inspect_body) {
    bhttp::request_parser<bhttp::string_body> bp(std::move(*rs.head));
    rs.head.reset();
    bp.body_limit(shared_.limits.inspected_body_bytes);
    beast::get_lowest_layer(client_).expires_after(
        shared_.limits.request_timeout);
    auto [ec, n] =
        co_await bhttp::async_read(client_, client_buffer_, bp, use_tuple);
    if (ec == bhttp::error::body_limit) {
      rs.client_keep_alive = false;
      co_return co_await respond_error(
          rs, 413,
          "the request body is larger than the " +
              std::to_string(shared_.limits.inspected_body_bytes) +
              " bytes the sidecar reads to route it");
    }
    if (ec) {
      spdlog::debug("reading a request body failed: {}", ec.message());
      co_return outcome{};
    }
    rs.body = std::move(bp.get().body());
    rs.body_read = true;
    // Keep the header for forwarding: a parser over an empty body again.
    auto msg = bp.release();
    rs.head.emplace();
    rs.head->get().base() = std::move(msg.base());
    if (routing::needs_object_body(*info, rs.content_type)) {
      auto inspected =
          routing::inspect(method, target, rs.content_type, rs.body,
                           shared_.limits.inspected_body_bytes);
      if (!inspected) {
        co_return co_await respond_error(rs, status_code_for(inspected.error()),
                                         inspected.error().message);
      }
      rs.inspected = std::move(*inspected);
    }
  }

  const auto facts = routing::facts_of(rs.inspected, rs.user_agent);
  auto decision = routing::match(*table, facts);
  if (!decision.rule.empty()) {
    shared_.metrics.record_rule_match(table->policy, decision.rule);
  }
  std::optional<location> where;
  switch (decision.what) {
    case routing::decision::kind::reject:
      co_return co_await respond_error(rs, decision.code, decision.message);
    case routing::decision::kind::fan_out: {
      if (info->watch) {
        co_return co_await relay_merged_watch(rs, *table, decision);
      }
      merged_list_request merged = merged_request_of(rs);
      const auto timeout = shared_.limits.request_timeout;
      const std::size_t limit = shared_.limits.inspected_body_bytes * 32;
      auto answer =
          co_await read_merged_list(worker_.upstreams, *table, decision,
                                    std::move(merged), timeout, limit);
      co_return co_await respond_merged(rs, std::move(answer));
    }
    case routing::decision::kind::route:
      break;
    case routing::decision::kind::locate: {
      // An object from a merged list says where it lives: that settles a
      // name that exists in several of the targets.
      if (rs.body_read && translate) {
        auto named = fanout::cluster_named_in(rs.body, rs.content_type);
        if (named &&
            std::find(decision.candidates.begin(), decision.candidates.end(),
                      *named) != decision.candidates.end()) {
          decision.target = *named;
          break;
        }
      }
      auto found = co_await locate(*table, rs, decision.candidates);
      if (!found) {
        // Nothing found: a path-alone refusal carried by the decision
        // answers in preference to the 404, as it would without locate.
        const int code = status_code_for(found.error());
        if (code == 404 && decision.code != 0) {
          co_return co_await respond_error(rs, decision.code, decision.message);
        }
        co_return co_await respond_error(rs, code, found.error().message);
      }
      where = std::move(*found);
      decision.target = where->target;
      break;
    }
  }

  if (label_rules && (info->kind == routing::verb::update ||
                      info->kind == routing::verb::patch)) {
    auto refusal =
        co_await check_label_move(*table, rs, decision.target, where);
    if (refusal) {
      co_return co_await respond_error(rs, 422, *refusal);
    }
  }

  const auto* spec = table->find_target(decision.target);
  if (spec == nullptr) {
    co_return co_await respond_error(
        rs, 500, "routing table names unknown target " + decision.target);
  }
  if (rs.body_read && translate) {
    auto translated =
        fanout::translate_write(std::move(rs.body), rs.content_type,
                                decision.target, table->targets.size());
    if (!translated) {
      co_return co_await respond_error(rs, status_code_for(translated.error()),
                                       translated.error().message);
    }
    rs.body = std::move(translated->body);
  }
  co_return co_await forward(rs, *spec);
}

asio::awaitable<result<nlohmann::json>> proxy_session_impl::fetch_object(
    const routing::routing_table& table, const std::string& target,
    const routing::request_info& info) {
  const auto* spec = table.find_target(target);
  if (spec == nullptr) {
    co_return error::of(error_source::internal, "unknown target " + target);
  }
  auto up = worker_.upstreams.get(*spec);
  if (!up) co_return up.error();
  http::request req;
  req.method = "GET";
  req.target = object_path(info);
  req.headers.push_back({"Accept", "application/json"});
  http::request_options options;
  options.timeout = shared_.limits.probe_timeout;
  options.body_limit = shared_.limits.inspected_body_bytes * 4;
  auto res = co_await (*up)->probe().send(std::move(req), options);
  if (!res) {
    shared_.metrics.record_upstream_error(target, "locate");
    co_return error::of(res.error().source,
                        "target " + target + ": " + res.error().message);
  }
  if (res->status == 404) {
    error e = error::of(error_source::api, "not found in " + target);
    e.status.code = 404;
    co_return e;
  }
  if (res->status != 200) {
    std::string message;
    try {
      message = nlohmann::json::parse(res->body).value("message", "");
    } catch (const std::exception&) {
    }
    error e = error::of(error_source::api,
                        "target " + target + " answered " +
                            std::to_string(res->status) +
                            (message.empty() ? "" : ": " + message));
    e.status.code = res->status;
    co_return e;
  }
  try {
    co_return ok(nlohmann::json::parse(res->body));
  } catch (const std::exception& e) {
    co_return error::of(
        error_source::decode,
        "target " + target + " sent an object that is not JSON");
  }
}

asio::awaitable<result<location>> proxy_session_impl::locate(
    const routing::routing_table& table, request_state& rs,
    const std::vector<std::string>& candidates) {
  const auto& info = rs.inspected.info;
  if (info.name.empty()) {
    // Nothing names an object (a list the rules cannot place): the first
    // candidate is where path-alone routing would have sent it.
    co_return location{candidates.front(), std::nullopt};
  }
  const auto ref = ref_of(info);
  if (auto known = shared_.placements.lookup(ref)) {
    if (std::find(candidates.begin(), candidates.end(), *known) !=
        candidates.end()) {
      rs.located_by_index = true;
      co_return location{*known, std::nullopt};
    }
  }
  // Ask every candidate at once; the slowest bounds the wait.
  struct probe_state {
    std::vector<probe_result> results;
    std::vector<std::optional<nlohmann::json>> objects;
    std::size_t remaining = 0;
    asio::steady_timer done;
    explicit probe_state(const asio::any_io_executor& ex) : done(ex) {}
  };
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<probe_state>(executor);
  state->results.resize(candidates.size());
  state->objects.resize(candidates.size());
  state->remaining = candidates.size();
  state->done.expires_at(clock::time_point::max());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    state->results[i].target = candidates[i];
    asio::co_spawn(
        executor,
        [this, &table, state, i, target = candidates[i],
         info]() -> asio::awaitable<void> {
          auto got = co_await fetch_object(table, target, info);
          auto& r = state->results[i];
          if (got) {
            r.what = probe_result::outcome::found;
            state->objects[i] = std::move(*got);
          } else if (got.error().is_api(404)) {
            r.what = probe_result::outcome::not_found;
          } else {
            r.what = probe_result::outcome::failed;
            r.detail = got.error().message;
          }
          if (--state->remaining == 0) state->done.cancel();
        },
        asio::detached);
  }
  if (state->remaining > 0) {
    co_await state->done.async_wait(use_tuple);
  }
  const auto decided =
      decide_location(state->results, info.group, info.resource, info.name);
  switch (decided.what) {
    case locate_outcome::kind::found: {
      shared_.placements.remember(ref, decided.target);
      location loc{decided.target, std::nullopt};
      for (std::size_t i = 0; i < candidates.size(); ++i) {
        if (candidates[i] == decided.target) loc.object = state->objects[i];
      }
      co_return loc;
    }
    case locate_outcome::kind::ambiguous:
      co_return client_error(decided.message, 409);
    case locate_outcome::kind::unavailable: {
      error e = error::of(error_source::transport, decided.message);
      e.status.code = 503;
      co_return e;
    }
    case locate_outcome::kind::not_found:
      break;
  }
  co_return client_error(decided.message, 404);
}

asio::awaitable<std::optional<std::string>>
proxy_session_impl::check_label_move(const routing::routing_table& table,
                                     request_state& rs,
                                     const std::string& target,
                                     const std::optional<location>& where) {
  const auto& info = rs.inspected.info;
  if (info.name.empty() || !info.subresource.empty()) co_return std::nullopt;
  auto unknown = rs.inspected;
  unknown.object.reset();
  auto facts = routing::facts_of(unknown, rs.user_agent);
  facts.labels.reset();
  facts.annotations.reset();
  const auto by_path = routing::match(table, facts);
  if (by_path.what != routing::decision::kind::locate) co_return std::nullopt;

  std::optional<location> current = where;
  if (!current) {
    auto found = co_await locate(table, rs, by_path.candidates);
    if (!found) co_return std::nullopt;  // the target answers for itself
    current = std::move(*found);
  }
  std::string moves_to = target;
  if (info.kind == routing::verb::patch) {
    auto kind = routing::patch_kind_from_content_type(rs.content_type);
    if (!kind) co_return std::nullopt;
    auto change = routing::extract_label_change(
        *kind, rs.body, shared_.limits.inspected_body_bytes);
    if (!change || !change->touches_labels) co_return std::nullopt;
    if (!current->object) {
      auto got = co_await fetch_object(table, current->target, info);
      if (!got) co_return std::nullopt;
      current->object = std::move(*got);
    }
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    const auto& meta = (*current->object)["metadata"];
    if (!change->replaces_all && meta.contains("labels") &&
        meta["labels"].is_object()) {
      for (const auto& [k, v] : meta["labels"].items()) {
        if (v.is_string()) labels[k] = v.get<std::string>();
      }
    }
    if (meta.contains("annotations") && meta["annotations"].is_object()) {
      for (const auto& [k, v] : meta["annotations"].items()) {
        if (v.is_string()) annotations[k] = v.get<std::string>();
      }
    }
    for (const auto& [k, v] : change->set) {
      if (v) {
        labels[k] = *v;
      } else {
        labels.erase(k);
      }
    }
    auto after = facts;
    after.labels = labels;
    after.annotations = annotations;
    const auto d = routing::match(table, after);
    if (d.what != routing::decision::kind::route) co_return std::nullopt;
    moves_to = d.target;
  }
  if (moves_to == current->target) co_return std::nullopt;
  co_return "this " + std::string(routing::to_string(info.kind)) +
      " would move " + resource_label(info) + " " + quote(info.name) +
      " from cluster " + current->target + " to cluster " + moves_to +
      " (a routing label changes); objects do not move between clusters: "
      "delete it and create it again with the new labels";
}

namespace {

bool wants_upgrade(const bhttp::fields& f) {
  if (f.find(bhttp::field::upgrade) == f.end()) return false;
  for (const auto& token : bhttp::token_list(f[bhttp::field::connection])) {
    if (beast::iequals(token, "upgrade")) return true;
  }
  return false;
}

bool is_timeout(const boost::system::error_code& ec) {
  return ec == beast::error::timeout;
}

}  // namespace

asio::awaitable<proxy_session_impl::outcome> proxy_session_impl::forward(
    request_state& rs, const routing::target_spec& spec) {
  const auto& info = rs.inspected.info;
  const auto fail = [&](const error& e, std::string_view reason) {
    shared_.metrics.record_upstream_error(spec.name, reason);
    return respond_error(rs, status_code_for(e),
                         "target " + spec.name + ": " + e.message);
  };
  auto looked_up = worker_.upstreams.get(spec);
  if (!looked_up) {
    co_return co_await fail(looked_up.error(), "config");
  }
  auto target = std::move(*looked_up);
  auto& pool = target->pool();
  const auto& in = rs.head->get();
  const bool long_running = is_long_running(info, rs.target);
  const bool upgrade = wants_upgrade(in);
  const bool has_body = !rs.head->is_done() && !rs.body_read;
  const bool replayable = !has_body;

  bhttp::request_header<> out;
  out.method_string(in.method_string());
  out.target(pool.address().prefix + rs.target);
  out.version(11);
  for (const auto& f : in) {
    const auto name = f.name_string();
    if (is_dropped_request_header({name.data(), name.size()})) continue;
    if (f.name() == bhttp::field::host) continue;
    out.insert(name, f.value());
  }
  out.set(bhttp::field::host, pool.address().host_header());
  if (!spec.impersonate_user.empty()) {
    out.set("Impersonate-User", spec.impersonate_user);
  }
  if (upgrade) {
    out.set(bhttp::field::connection, "Upgrade");
    out.set(bhttp::field::upgrade, in[bhttp::field::upgrade]);
  }
  if (rs.body_read) {
    out.erase(bhttp::field::transfer_encoding);
    out.set(bhttp::field::content_length, std::to_string(rs.body.size()));
  }

  const auto deadline = rs.started + shared_.limits.request_timeout;
  std::optional<http::tls_connection_pool::lease> lease;
  beast::flat_buffer ubuf;
  // Without room reserved, Beast reads what fits in the buffer's capacity
  // (512 bytes at first), so a large body would be relayed in 512-byte
  // TLS records and system calls.
  ubuf.reserve(relay_chunk);
  std::optional<bhttp::response_parser<bhttp::buffer_body>> rp;
  for (int attempt = 0;; ++attempt) {
    auto cred = target->credentials().get();
    if (!cred) {
      co_return co_await fail(cred.error(), "credentials");
    }
    out.erase(bhttp::field::authorization);
    if (auto auth = kube::authorization_value(*cred); !auth.empty()) {
      out.set(bhttp::field::authorization, auth);
    }
    // Not a conditional expression: GCC 12 miscompiles co_await in both
    // arms of ?: (the result is garbage).
    result<http::tls_connection_pool::lease> got =
        error::of(error_source::internal, "no connection");
    if (upgrade || long_running) {
      got = co_await pool.connect_new(*cred, shared_.limits.connect_timeout);
    } else {
      got = co_await pool.acquire(*cred, shared_.limits.connect_timeout);
    }
    if (!got) {
      co_return co_await fail(got.error(), "connect");
    }
    lease = std::move(*got);
    auto& up = *lease->stream;
    auto& ulowest = beast::get_lowest_layer(up);
    if (long_running) {
      ulowest.expires_after(shared_.limits.stream_idle_timeout);
    } else {
      ulowest.expires_at(deadline);
    }

    boost::system::error_code wec;
    if (!has_body) {
      bhttp::request<bhttp::string_body> msg(out, rs.body);
      std::tie(wec, std::ignore) =
          co_await bhttp::async_write(up, msg, use_tuple);
    } else {
      // Stream the body: routing did not need it, so it is not held.
      bhttp::request_parser<bhttp::buffer_body> bp(std::move(*rs.head));
      rs.head.reset();
      rs.body_consumed = true;
      bp.body_limit(boost::none);
      bhttp::request<bhttp::buffer_body> msg(out);
      msg.body().data = nullptr;
      msg.body().more = true;
      bhttp::request_serializer<bhttp::buffer_body> sr(msg);
      std::tie(wec, std::ignore) =
          co_await bhttp::async_write_header(up, sr, use_tuple);
      std::array<char, relay_chunk> buf{};
      while (!wec && !bp.is_done()) {
        bp.get().body().data = buf.data();
        bp.get().body().size = buf.size();
        beast::get_lowest_layer(client_).expires_at(deadline);
        auto [rec, rn] = co_await bhttp::async_read_some(
            client_, client_buffer_, bp, use_tuple);
        if (rec == bhttp::error::need_buffer) rec = {};
        if (rec) {
          spdlog::debug("reading the request body failed: {}", rec.message());
          co_return outcome{};
        }
        msg.body().data = buf.data();
        msg.body().size = buf.size() - bp.get().body().size;
        msg.body().more = !bp.is_done();
        std::tie(wec, std::ignore) =
            co_await bhttp::async_write(up, sr, use_tuple);
        if (wec == bhttp::error::need_buffer) wec = {};
      }
      if (!wec && !sr.is_done()) {
        msg.body().data = nullptr;
        msg.body().size = 0;
        msg.body().more = false;
        std::tie(wec, std::ignore) =
            co_await bhttp::async_write(up, sr, use_tuple);
        if (wec == bhttp::error::need_buffer) wec = {};
      }
    }
    if (wec) {
      if (lease->reused && replayable && attempt < 2) continue;
      error e = error::of(error_source::transport,
                          "sending to " + pool.address().url + ": " +
                              (is_timeout(wec) ? "timed out" : wec.message()));
      co_return co_await fail(e, is_timeout(wec) ? "timeout" : "send");
    }
    rp.emplace();
    rp->header_limit(1024U * 1024U);
    rp->body_limit(boost::none);
    if (in.method() == bhttp::verb::head) rp->skip(true);
    ubuf.clear();
    auto [rec, rn] =
        co_await bhttp::async_read_header(up, ubuf, *rp, use_tuple);
    if (rec) {
      if (lease->reused && replayable && rn == 0 && !is_timeout(rec) &&
          attempt < 2) {
        continue;
      }
      error e =
          error::of(error_source::transport,
                    "reading the response from " + pool.address().url + ": " +
                        (is_timeout(rec) ? "timed out" : rec.message()));
      co_return co_await fail(e, is_timeout(rec) ? "timeout" : "receive");
    }
    if (rp->get().result_int() == 401 && replayable && attempt == 0) {
      // A rotated token: read it again and retry once on a new connection.
      target->credentials().invalidate();
      continue;
    }
    break;
  }

  auto& up = *lease->stream;
  const int status = static_cast<int>(rp->get().result_int());
  const bool drain_now = drain_ || shared_.draining.load();
  auto& clowest = beast::get_lowest_layer(client_);

  if (status == 101 && upgrade) {
    bhttp::response<bhttp::empty_body> res(rp->get().base());
    clowest.expires_after(shared_.limits.stream_idle_timeout);
    auto [wec, wn] = co_await bhttp::async_write(client_, res, use_tuple);
    if (wec) co_return outcome{};
    shared_.metrics.stream_opened(stream_kind(info));
    phase_ = phase::streaming;
    stream_upstream_ = &up;
    // Bytes either side sent right after the headers are already read.
    boost::system::error_code ec;
    if (client_buffer_.size() > 0) {
      std::tie(ec, std::ignore) =
          co_await asio::async_write(up, client_buffer_.data(), use_tuple);
      client_buffer_.consume(client_buffer_.size());
    }
    if (!ec && ubuf.size() > 0) {
      std::tie(ec, std::ignore) =
          co_await asio::async_write(client_, ubuf.data(), use_tuple);
      ubuf.consume(ubuf.size());
    }
    spdlog::debug("{} {} -> {} 101: relaying the upgraded connection",
                  rs.method, rs.target, spec.name);
    if (!ec) {
      using namespace asio::experimental::awaitable_operators;
      co_await (pump(client_, up) && pump(up, client_));
    }
    stream_upstream_ = nullptr;
    // A clean end for the target too (the client's comes in run()): a
    // WebSocket or SPDY peer expects close_notify, not a cut connection.
    beast::get_lowest_layer(up).expires_after(std::chrono::seconds(2));
    co_await up.async_shutdown(use_tuple);
    shared_.metrics.stream_closed(stream_kind(info));
    shared_.metrics.record_request(
        spec.name, routing::to_string(info.kind), resource_label(info), status,
        std::chrono::duration<double>(clock::now() - rs.started));
    co_return outcome{false, status, spec.name};
  }

  const bool keep = rs.client_keep_alive && !drain_now && !upgrade;
  bhttp::response<bhttp::buffer_body> res(rp->get().base());
  for (auto f : {bhttp::field::connection, bhttp::field::keep_alive,
                 bhttp::field::proxy_connection, bhttp::field::te,
                 bhttp::field::trailer, bhttp::field::upgrade}) {
    res.erase(f);
  }
  res.keep_alive(keep);

  const bool streaming = long_running && status == 200;
  if (streaming) {
    shared_.metrics.stream_opened(stream_kind(info));
    phase_ = phase::streaming;
    stream_upstream_ = &up;
  }
  learn_begin(spec.name, rs, status, res[bhttp::field::content_type]);

  bool clean = true;
  if (rp->is_done()) {
    bhttp::response<bhttp::empty_body> head_only(res.base());
    clowest.expires_at(deadline);
    auto [wec, wn] = co_await bhttp::async_write(client_, head_only, use_tuple);
    clean = !wec;
  } else {
    bhttp::response_serializer<bhttp::buffer_body> sr(res);
    res.body().data = nullptr;
    res.body().more = true;
    const auto client_deadline = [&] {
      if (streaming) {
        clowest.expires_after(shared_.limits.stream_idle_timeout);
      } else {
        clowest.expires_at(deadline);
      }
    };
    if (streaming) {
      // A watch's client learns at once that it is open; an ordinary
      // response's header goes out with its first body bytes instead, in
      // one TLS record and one send (a small answer in a single write).
      client_deadline();
      auto [hec, hn] =
          co_await bhttp::async_write_header(client_, sr, use_tuple);
      clean = !hec;
    }
    std::array<char, relay_chunk> buf{};
    // What one write may carry so that Beast's flat_stream sends the chunk
    // framing and the bytes in one TLS record (it flattens at most 16 KiB;
    // above that the few bytes of a chunk's size line go out alone).
    constexpr std::size_t write_limit = std::size_t{16} * 1024 - 64;
    static_assert(write_limit <= relay_chunk);
    std::size_t filled = 0;
    while (clean && !rp->is_done()) {
      rp->get().body().data = buf.data() + filled;
      rp->get().body().size = write_limit - filled;
      if (streaming) {
        beast::get_lowest_layer(up).expires_after(
            shared_.limits.stream_idle_timeout);
      }
      auto [rec, rn] =
          co_await bhttp::async_read_some(up, ubuf, *rp, use_tuple);
      if (rec == bhttp::error::need_buffer) rec = {};
      if (rec) {
        if (!ending_stream_) {
          shared_.metrics.record_upstream_error(
              spec.name, is_timeout(rec) ? "timeout" : "receive");
          spdlog::warn("{} {}: the response from target {} broke off: {}",
                       rs.method, rs.target, spec.name, rec.message());
          clean = false;
        }
        break;
      }
      const std::size_t got = write_limit - filled - rp->get().body().size;
      if (got == 0) continue;
      learn_chunk(std::string_view(buf.data() + filled, got));
      filled += got;
      // The API server sends a list item per chunk (about 1 KiB), and each
      // read ends at a chunk: relaying each alone cost a TLS record, a send
      // and a timer per item. An ordinary response is gathered into writes
      // of nearly write_limit; a stream's bytes go out as they come.
      if (!streaming && !rp->is_done() && write_limit - filled > 2048) {
        continue;
      }
      res.body().data = buf.data();
      res.body().size = filled;
      filled = 0;
      // The last bytes carry the end of the body (the terminating chunk)
      // in the same write.
      res.body().more = streaming || !rp->is_done();
      client_deadline();
      auto [wec, wn] = co_await bhttp::async_write(client_, sr, use_tuple);
      if (wec == bhttp::error::need_buffer) wec = {};
      if (wec) clean = false;
    }
    if (clean && !sr.is_done()) {
      // The end of the body; for a drained watch, the terminating chunk
      // that tells the client the watch ended rather than broke.
      // With what is still gathered: the read that ended the message may
      // have brought no new bytes of its own.
      res.body().data = filled > 0 ? buf.data() : nullptr;
      res.body().size = filled;
      res.body().more = false;
      client_deadline();
      auto [wec, wn] = co_await bhttp::async_write(client_, sr, use_tuple);
      if (wec == bhttp::error::need_buffer) wec = {};
      if (wec) clean = false;
    }
  }
  if (streaming) {
    stream_upstream_ = nullptr;
    shared_.metrics.stream_closed(stream_kind(info));
  }
  learn_end(spec.name, rs, status);
  if (rp->is_done() && rp->get().keep_alive() && ubuf.size() == 0 &&
      !ending_stream_) {
    pool.release(std::move(*lease));
  }
  ending_stream_ = false;
  shared_.metrics.record_request(
      spec.name, routing::to_string(info.kind), resource_label(info), status,
      std::chrono::duration<double>(clock::now() - rs.started));
  spdlog::debug("{} {} -> {} {}", rs.method, rs.target, spec.name, status);
  co_return outcome{keep && clean, status, spec.name};
}

asio::awaitable<void> proxy_session_impl::pump(tls_stream& from,
                                               tls_stream& to) {
  std::array<char, relay_chunk> buf{};
  for (;;) {
    beast::get_lowest_layer(from).expires_after(
        shared_.limits.stream_idle_timeout);
    auto [rec, n] = co_await from.async_read_some(asio::buffer(buf), use_tuple);
    if (rec || n == 0) {
      spdlog::debug("upgraded connection: one side ended: {}", rec.message());
      break;
    }
    beast::get_lowest_layer(to).expires_after(
        shared_.limits.stream_idle_timeout);
    auto [wec, wn] =
        co_await asio::async_write(to, asio::buffer(buf.data(), n), use_tuple);
    if (wec) {
      spdlog::debug("upgraded connection: a write failed: {}", wec.message());
      break;
    }
  }
  // Either side ending ends the session: cancel the other direction's
  // read (pending on `to`) so both pumps finish; the TLS close_notify to
  // each side is sent afterwards, when no read is pending on either stream.
  beast::get_lowest_layer(to).cancel();
}

void proxy_session_impl::learn_begin(const std::string& target,
                                     request_state& rs, int status,
                                     std::string_view content_type) {
  watch_learner_.reset();
  learning_list_ = false;
  list_learner_.clear();
  const auto& info = rs.inspected.info;
  if (!rs.learn_placements || status != 200 || !is_json(content_type) ||
      !info.subresource.empty()) {
    return;
  }
  learn_target_ = target;
  learn_ref_ =
      routing::object_ref{info.group, info.resource, info.namespace_name, ""};
  if (info.kind == routing::verb::watch) {
    watch_learner_.emplace(max_learned_list_bytes);
  } else if (info.kind == routing::verb::list) {
    learning_list_ = true;
  }
}

void proxy_session_impl::learn_chunk(std::string_view bytes) {
  if (learning_list_) {
    if (list_learner_.size() + bytes.size() > max_learned_list_bytes) {
      learning_list_ = false;
      list_learner_ = std::string();
    } else {
      list_learner_.append(bytes);
    }
  }
  if (watch_learner_) {
    std::vector<kube::watch_event> events;
    if (!watch_learner_->feed(bytes, events)) {
      watch_learner_.reset();
      return;
    }
    for (const auto& ev : events) {
      const auto& meta = ev.object.contains("metadata") ? ev.object["metadata"]
                                                        : nlohmann::json();
      if (!meta.is_object() || !meta.contains("name") ||
          !meta["name"].is_string()) {
        continue;
      }
      routing::object_ref ref{learn_ref_.group, learn_ref_.resource,
                              meta.value("namespace", ""),
                              meta["name"].get<std::string>()};
      if (ev.type == kube::watch_event_type::deleted) {
        shared_.placements.forget(ref);
      } else if (ev.type == kube::watch_event_type::added ||
                 ev.type == kube::watch_event_type::modified) {
        shared_.placements.remember(ref, learn_target_);
      }
    }
  }
}

void proxy_session_impl::learn_end(const std::string& target, request_state& rs,
                                   int status) {
  const auto& info = rs.inspected.info;
  const bool success = status >= 200 && status < 300;
  if (learning_list_ && success) {
    shared_.placements.remember_list(learn_ref_, list_learner_, target);
  }
  learning_list_ = false;
  list_learner_ = std::string();
  watch_learner_.reset();
  if (!info.is_resource_request || !info.subresource.empty() ||
      info.name.empty()) {
    return;
  }
  const auto ref = ref_of(info);
  if (info.kind == routing::verb::create && success) {
    shared_.placements.remember(ref, target);
  } else if ((info.kind == routing::verb::delete_ && success) ||
             (status == 404 && rs.located_by_index)) {
    // Deleted, or the index was wrong (deleted or moved behind our back):
    // next time ask the clusters.
    shared_.placements.forget(ref);
  }
}

proxy_session::proxy_session(tcp::socket socket, asio::ssl::context& tls,
                             proxy_shared& shared, proxy_worker& worker)
    : impl_(std::make_unique<proxy_session_impl>(std::move(socket), tls, shared,
                                                 worker)) {}

proxy_session::~proxy_session() = default;

asio::awaitable<void> proxy_session::run() { return impl_->run(); }

void proxy_session::begin_drain() { impl_->begin_drain(); }

}  // namespace mca::sidecar
