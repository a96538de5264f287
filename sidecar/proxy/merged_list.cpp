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
#include "common/util/strings.hpp"
#include "sidecar/fanout/continue_token.hpp"
#include "sidecar/fanout/list_merge.hpp"
#include "sidecar/fanout/table_merge.hpp"
#include "sidecar/proxy/gather.hpp"
#include "sidecar/proxy/query_params.hpp"
#include "sidecar/proxy/status_response.hpp"
#include "sidecar/proxy/upstream_get.hpp"

namespace mca::sidecar {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

merged_list_answer refuse(int status, std::string message) {
  return merged_list_answer{status, std::move(message), {}};
}

using fetched = judged_answer;

// 404 to a list: the cluster does not serve the resource (a CRD installed
// on some targets only). It contributes no items and is no failure.
bool not_served(const fetched& f) { return !f.body && f.status == 404; }

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

merged_list_answer merge_answer(std::vector<fetched>& results,
                                const routing::decision& decision,
                                bool want_table, const std::string& about) {
  const auto& names = decision.candidates;
  std::vector<fanout::cluster_list> lists;
  std::vector<std::string> missing;
  std::string failures;
  std::vector<std::string> absent;  // not serving the resource
  for (std::size_t i = 0; i < names.size(); ++i) {
    fetched& f = results[i];
    if (not_served(f)) {
      absent.push_back(names[i]);
    } else if (f.body) {
      fanout::cluster_list one;
      one.cluster = names[i];
      one.body = std::move(*f.body);
      lists.push_back(std::move(one));
    } else {
      missing.push_back(names[i]);
      failures += (failures.empty() ? "" : "; ") + names[i] + ": " + f.failure;
    }
  }
  if (lists.empty() && missing.empty()) {
    return refuse(404, about + ", and none of them serves it");
  }
  if (!missing.empty() && (!decision.allow_partial || lists.empty())) {
    return refuse(503, about + ", and it failed for " + failures);
  }
  const fanout::list_paging no_paging;
  auto merged = want_table
                    ? fanout::merge_tables(std::move(lists), missing, no_paging)
                    : fanout::merge_lists(std::move(lists), missing, no_paging);
  if (!merged) return refuse(502, about + ": " + merged.error().message);
  if (!absent.empty()) {
    // "0" for them, as skip_page records them: a watch from this version
    // takes them from any version, so their objects arrive as ADDED should
    // the resource appear there.
    auto& version = merged->body["metadata"]["resourceVersion"];
    auto listed = fanout::decode(version.get<std::string>());
    if (!listed) return refuse(500, about + ": " + listed.error().message);
    for (const auto& name : absent) {
      *listed = fanout::with(std::move(*listed), name, "0");
    }
    auto encoded = fanout::encode(*listed);
    if (!encoded) return refuse(500, about + ": " + encoded.error().message);
    version = *encoded;
  }
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
                               bool want_table, const std::string& about,
                               const std::vector<std::string>& missing) {
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
  // Nobody knows how many items remain when a cluster is missing.
  if (missing.empty()) {
    paging.remaining_item_count = outcome->remaining_item_count;
  }
  const std::vector<std::string> none;
  auto merged = want_table ? fanout::merge_tables(std::move(one), none, paging)
                           : fanout::merge_lists(std::move(one), none, paging);
  if (!merged) return refuse(502, about + ": " + merged.error().message);
  // The page's version covers every cluster listed so far.
  merged->body["metadata"]["resourceVersion"] = outcome->list_version;
  merged_list_answer out;
  out.body = merged->body.dump();
  if (!missing.empty()) out.warning = fanout::partial_warning(missing);
  return out;
}

// A field selector nothing matches (object names never contain '/'), added
// to the client's own: the empty list of the right kind (and, for a Table,
// the right columns) to end a paged list whose last cluster is missing.
std::string nothing_target(const std::string& target) {
  std::string selector = query_value(target, "fieldSelector");
  if (!selector.empty()) selector += ",";
  selector += "metadata.name=mca.k8s.io/none";
  std::vector<std::pair<std::string, std::string>> set;
  set.emplace_back("fieldSelector", selector);
  return rewrite_query(
      target, {"fieldSelector", "limit", "continue", "resourceVersion"}, set);
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

bool wants_yaml(std::string_view accept) noexcept {
  return contains(accept, "yaml") && !contains(accept, "json");
}

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
      !contains(accept, "*/*") && !wants_yaml(accept)) {
    co_return refuse(406, about +
                              ", merged into JSON or YAML; the request "
                              "accepts only " +
                              accept + " (accept application/json)");
  }
  const std::int64_t limit = limit_of(query_value(request.target, "limit"));
  if (limit < 0) {
    co_return refuse(400, about + "; limit must be a non-negative integer");
  }
  const std::string continue_param = query_value(request.target, "continue");
  const std::string version = query_value(request.target, "resourceVersion");
  const bool paged = fanout::is_paged(limit, continue_param);
  const bool want_table = contains(accept, "as=Table");
  std::string upstream_accept = "application/json";
  if (want_table || contains(accept, "as=PartialObjectMetadata")) {
    upstream_accept = accept;
  }

  if (paged) {
    // One cluster per page, in rule order, so a page never holds more than
    // `limit` items and every object comes exactly once.
    auto planned =
        fanout::plan_page(limit, decision.candidates, continue_param, version);
    if (!planned) {
      co_return refuse(status_code_for(planned.error()),
                       about + ": " + planned.error().message);
    }
    const auto& names = decision.candidates;
    fanout::page_request plan = std::move(*planned);
    std::vector<std::string> missing;
    for (;;) {
      // Named, not temporaries in the call: GCC 12 mis-destroys those in a
      // coroutine's argument list.
      auto up = upstreams.get(table, plan.cluster);
      std::string target = page_target(request.target, plan);
      fetched f = co_await get_json(std::move(up), std::move(target),
                                    upstream_accept, timeout, body_limit);
      if (f.body) {
        co_return page_answer(f, plan, names, want_table, about, missing);
      }
      // A cluster without the resource is left out; a failing one only
      // when the rule allows partial lists.
      if (!not_served(f) && !decision.allow_partial) {
        co_return refuse(503, about + ", and it failed for " + plan.cluster +
                                  ": " + f.failure);
      }
      if (!not_served(f)) missing.push_back(plan.cluster);
      if (plan.cluster_index + 1 < names.size()) {
        auto next = fanout::skip_page(plan, names);
        if (!next) co_return refuse(500, about + ": " + next.error().message);
        plan = std::move(*next);
        continue;
      }
      // The last cluster left out: end the list with an empty page of the
      // right kind, asked of a cluster that answers.
      for (std::size_t i = 0; i + 1 < names.size(); ++i) {
        if (std::find(missing.begin(), missing.end(), names[i]) !=
            missing.end()) {
          continue;
        }
        auto other = upstreams.get(table, names[i]);
        std::string nothing = nothing_target(request.target);
        fetched empty = co_await get_json(std::move(other), std::move(nothing),
                                          upstream_accept, timeout, body_limit);
        if (!empty.body || !(*empty.body)["metadata"].is_object()) continue;
        auto& meta = (*empty.body)["metadata"];
        meta["resourceVersion"] = "0";
        meta.erase("continue");
        meta.erase("remainingItemCount");
        co_return page_answer(empty, plan, names, want_table, about, missing);
      }
      co_return refuse(missing.empty() ? 404 : 503,
                       about + ", and none of them answers (" +
                           join(missing, ", ") + " failed)");
    }
  }

  // Every target at once, each from its own version of the client's (a
  // composite from an earlier list); "" and "0" mean the same everywhere.
  const auto& names = decision.candidates;
  auto targets = cluster_targets(request.target, version, names);
  if (!targets) {
    co_return refuse(status_code_for(targets.error()),
                     about + ": " + targets.error().message);
  }
  std::vector<asio::awaitable<fetched>> reads;
  for (std::size_t i = 0; i < names.size(); ++i) {
    // Named, not temporaries in the call: see fetch's other callers.
    std::string accept_copy = upstream_accept;
    auto up = upstreams.get(table, names[i]);
    reads.push_back(get_json(std::move(up), std::move((*targets)[i]),
                             std::move(accept_copy), timeout, body_limit));
  }
  std::vector<fetched> results = co_await gather(std::move(reads));
  co_return merge_answer(results, decision, want_table, about);
}

}  // namespace mca::sidecar
