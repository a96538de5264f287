#include "sidecar/proxy/merged_list.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "common/kube/resource.hpp"
#include "sidecar/fanout/continue_token.hpp"
#include "sidecar/fanout/list_merge.hpp"
#include "sidecar/fanout/table_merge.hpp"
#include "sidecar/proxy/status_response.hpp"

namespace mca::sidecar {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// The value of query parameter `name` ("" when absent); enough to tell
// which list requests this reader serves.
std::string query_value(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string()
                                          : std::string(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// `target` with parameters `names` removed and `set` (already decoded
// values) added, for one cluster's page.
std::string rewrite_query(
    std::string_view target, const std::vector<std::string_view>& names,
    const std::vector<std::pair<std::string, std::string>>& set) {
  const auto q = target.find('?');
  std::string out(target.substr(0, q));
  std::string query;
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const std::string_view key = pair.substr(0, pair.find('='));
      if (std::find(names.begin(), names.end(), key) == names.end() &&
          !pair.empty()) {
        query += (query.empty() ? "" : "&") + std::string(pair);
      }
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  for (const auto& [k, v] : set) {
    if (v.empty()) continue;
    query += (query.empty() ? "" : "&") + k + "=" + kube::percent_encode(v);
  }
  if (!query.empty()) out += "?" + query;
  return out;
}

merged_list_answer refuse(int status, std::string message) {
  return merged_list_answer{status, std::move(message), {}};
}

struct fetched {
  std::optional<json> body;
  std::string failure;
};

// One target's answer, judged: its list, or why there is none.
fetched judge(const result<http::response>& res) {
  fetched f;
  if (!res) {
    f.failure = res.error().message;
    return f;
  }
  auto body = json::parse(res->body, nullptr, false);
  if (res->status != 200) {
    std::string message;
    if (body.is_object()) message = body.value("message", "");
    f.failure = "answered " + std::to_string(res->status);
    if (!message.empty()) f.failure += ": " + message;
  } else if (body.is_discarded()) {
    f.failure = "answered with a body that is not JSON";
  } else {
    f.body = std::move(body);
  }
  return f;
}

std::string describe(const routing::routing_table& table,
                     const routing::decision& decision,
                     const std::string& resource) {
  std::string targets;
  for (const auto& t : decision.candidates) {
    if (!targets.empty()) targets += ", ";
    targets += t;
  }
  return "rule " + decision.rule + " of policy " + table.policy + " reads " +
         resource + " from " + targets;
}

// GCC 12 mis-compiles default-argument temporaries and braced
// initialisers inside coroutines, so everything that builds values lives in
// plain functions like these two.
http::request list_request(const std::string& target,
                           const std::string& accept) {
  http::request req;
  req.method = "GET";
  req.target = target;
  req.headers.push_back(http::header_field{"Accept", accept});
  return req;
}

merged_list_answer merge_answer(std::vector<fetched>& results,
                                const routing::decision& decision,
                                bool want_table, const std::string& about) {
  const auto& names = decision.candidates;
  std::vector<fanout::cluster_list> lists;
  std::vector<std::string> missing;
  std::string failures;
  for (std::size_t i = 0; i < names.size(); ++i) {
    fetched& f = results[i];
    if (f.body) {
      fanout::cluster_list one;
      one.cluster = names[i];
      one.body = std::move(*f.body);
      lists.push_back(std::move(one));
    } else {
      missing.push_back(names[i]);
      failures += (failures.empty() ? "" : "; ") + names[i] + ": " + f.failure;
    }
  }
  if (!missing.empty() && (!decision.allow_partial || lists.empty())) {
    return refuse(503, about + ", and it failed for " + failures);
  }
  const fanout::list_paging no_paging;
  auto merged = want_table
                    ? fanout::merge_tables(std::move(lists), missing, no_paging)
                    : fanout::merge_lists(std::move(lists), missing, no_paging);
  if (!merged) return refuse(502, about + ": " + merged.error().message);
  merged_list_answer out;
  out.body = merged->body.dump();
  if (!merged->missing.empty()) {
    out.warning = fanout::partial_warning(merged->missing);
  }
  return out;
}

std::string page_target(const std::string& target,
                        const fanout::page_request& plan) {
  std::vector<std::pair<std::string, std::string>> set;
  set.emplace_back("limit", plan.upstream_limit > 0
                                ? std::to_string(plan.upstream_limit)
                                : std::string());
  set.emplace_back("continue", plan.upstream_continue);
  set.emplace_back("resourceVersion", plan.upstream_resource_version);
  return rewrite_query(target, {"limit", "continue", "resourceVersion"}, set);
}

// One cluster's page of a paged merged list, as the client's page.
merged_list_answer page_answer(fetched& f, const fanout::page_request& plan,
                               const std::vector<std::string>& clusters,
                               bool want_table, const std::string& about) {
  if (!f.body) {
    return refuse(
        503, about + ", and it failed for " + plan.cluster + ": " + f.failure);
  }
  json& body = *f.body;
  fanout::upstream_page page;
  const json* items = body.contains(want_table ? "rows" : "items")
                          ? &body[want_table ? "rows" : "items"]
                          : nullptr;
  page.item_count = items != nullptr && items->is_array() ? items->size() : 0;
  if (body.contains("metadata") && body["metadata"].is_object()) {
    const json& m = body["metadata"];
    page.resource_version = m.value("resourceVersion", "");
    page.continue_token = m.value("continue", "");
    if (m.contains("remainingItemCount") &&
        m["remainingItemCount"].is_number_integer()) {
      page.remaining_item_count = m["remainingItemCount"].get<std::int64_t>();
    }
  }
  auto outcome = fanout::finish_page(plan, clusters, page);
  if (!outcome) return refuse(502, about + ": " + outcome.error().message);
  std::vector<fanout::cluster_list> one(1);
  one[0].cluster = plan.cluster;
  one[0].body = std::move(body);
  fanout::list_paging paging;
  paging.continue_token = outcome->continue_token;
  paging.remaining_item_count = outcome->remaining_item_count;
  const std::vector<std::string> none;
  auto merged = want_table ? fanout::merge_tables(std::move(one), none, paging)
                           : fanout::merge_lists(std::move(one), none, paging);
  if (!merged) return refuse(502, about + ": " + merged.error().message);
  // The page's version covers every cluster listed so far.
  merged->body["metadata"]["resourceVersion"] = outcome->list_version;
  merged_list_answer out;
  out.body = merged->body.dump();
  return out;
}

std::int64_t limit_of(const std::string& text) {
  std::int64_t n = 0;
  for (const char c : text) {
    if (c < '0' || c > '9' || n > 1'000'000'000) return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

asio::awaitable<merged_list_answer> read_merged_list(
    upstream_registry& upstreams, const routing::routing_table& table,
    routing::decision decision, merged_list_request request,
    std::chrono::milliseconds timeout, std::size_t body_limit) {
  const std::string about = describe(table, decision, request.resource);
  // Content negotiation: merged lists are JSON. client-go's default for
  // core types offers protobuf and JSON, and gets JSON; a client that takes
  // only protobuf (or only YAML) is told why it cannot have it.
  const std::string& accept = request.accept;
  if (!accept.empty() && !contains(accept, "json") &&
      !contains(accept, "*/*")) {
    co_return refuse(406, about +
                              ", merged into JSON; the request accepts "
                              "only " +
                              accept + " (accept application/json)");
  }
  if (request.watch) {
    co_return refuse(501, about +
                              "; merged watches are not served by this "
                              "sidecar version yet");
  }
  const std::int64_t limit = limit_of(query_value(request.target, "limit"));
  if (limit < 0) {
    co_return refuse(400, about + "; limit must be a non-negative integer");
  }
  const std::string continue_param = query_value(request.target, "continue");
  const std::string version = query_value(request.target, "resourceVersion");
  const bool paged = fanout::is_paged(limit, continue_param);
  if (!paged && !version.empty() && version != "0") {
    co_return refuse(501, about +
                              "; merged lists from a resourceVersion are "
                              "not served by this sidecar version yet");
  }
  const bool want_table = contains(accept, "as=Table");
  std::string upstream_accept = "application/json";
  if (want_table || contains(accept, "as=PartialObjectMetadata")) {
    upstream_accept = accept;
  }

  if (paged) {
    // One cluster per page, in rule order, so a page never holds more than
    // `limit` items and every object comes exactly once.
    auto plan =
        fanout::plan_page(limit, decision.candidates, continue_param, version);
    if (!plan) {
      co_return refuse(status_code_for(plan.error()),
                       about + ": " + plan.error().message);
    }
    const routing::target_spec* spec = table.find_target(plan->cluster);
    if (spec == nullptr) {
      co_return refuse(500, about + ": unknown target " + plan->cluster);
    }
    auto up = upstreams.get(*spec);
    if (!up) co_return refuse(503, about + ": " + up.error().message);
    http::request_options options;
    options.timeout = timeout;
    options.body_limit = body_limit;
    auto res = co_await (*up)->probe().send(
        list_request(page_target(request.target, *plan), upstream_accept),
        options);
    fetched f = judge(res);
    co_return page_answer(f, *plan, decision.candidates, want_table, about);
  }

  // Every target at once; the slowest bounds the wait.
  struct state {
    std::vector<fetched> results;
    std::size_t remaining = 0;
    asio::steady_timer done;
    explicit state(const asio::any_io_executor& ex) : done(ex) {}
  };
  auto executor = co_await asio::this_coro::executor;
  auto s = std::make_shared<state>(executor);
  const auto& names = decision.candidates;
  s->results.resize(names.size());
  s->remaining = names.size();
  s->done.expires_at(asio::steady_timer::time_point::max());
  for (std::size_t i = 0; i < names.size(); ++i) {
    const routing::target_spec* spec = table.find_target(names[i]);
    std::shared_ptr<upstream_target> up;
    if (spec == nullptr) {
      s->results[i].failure = "unknown target";
    } else if (auto got = upstreams.get(*spec)) {
      up = *got;
    } else {
      s->results[i].failure = got.error().message;
    }
    if (!up) {
      --s->remaining;
      continue;
    }
    asio::co_spawn(
        executor,
        [s, i, up, target = request.target, upstream_accept, timeout,
         body_limit]() -> asio::awaitable<void> {
          http::request req = list_request(target, upstream_accept);
          http::request_options options;
          options.timeout = timeout;
          options.body_limit = body_limit;
          auto res = co_await up->probe().send(std::move(req), options);
          s->results[i] = judge(res);
          if (--s->remaining == 0) s->done.cancel();
        },
        asio::detached);
  }
  if (s->remaining > 0) {
    co_await s->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  co_return merge_answer(s->results, decision, want_table, about);
}

}  // namespace mca::sidecar
