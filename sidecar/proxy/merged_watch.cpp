#include "sidecar/proxy/merged_watch.hpp"

#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/kube/watch_decoder.hpp"
#include "common/util/strings.hpp"
#include "sidecar/fanout/composite_version.hpp"
#include "sidecar/fanout/watch_merge.hpp"
#include "sidecar/proxy/gather.hpp"
#include "sidecar/proxy/query_params.hpp"
#include "sidecar/proxy/status_response.hpp"
#include "sidecar/proxy/upstream_get.hpp"

namespace mca::sidecar {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Events decoded but not yet relayed, over all upstreams. A reader that
// finds the queue this full waits, so a slow client slows the upstreams
// (TCP pushes back on the API servers) instead of growing the sidecar.
constexpr std::size_t max_queued_events = 512;
// The most of an upstream's error body kept for the message.
constexpr std::size_t max_error_body = 16 * 1024;

// What an upstream reader hands the relay: an event, or the end of that
// upstream's watch.
struct upstream_item {
  std::string cluster;
  std::optional<kube::watch_event> event;
  bool clean_end = false;  // without event: ended normally (else: broke)
  std::string why;         // without event and not clean
};

std::string describe(const routing::routing_table& table,
                     const routing::decision& decision,
                     const std::string& resource) {
  return "rule " + decision.rule + " of policy " + table.policy + " watches " +
         resource + " on " + join(decision.candidates, ", ");
}

std::string serialize(const kube::watch_event& e) {
  json line = json::object();
  line["type"] = kube::to_string(e.type);
  line["object"] = e.object;
  return line.dump() + "\n";
}

}  // namespace

struct merged_watch::state {
  explicit state(const asio::any_io_executor& ex) : ready(ex), space(ex) {}

  std::vector<std::string> clusters;  // taking part, in rule order
  std::vector<std::unique_ptr<http::response_stream>> streams;
  std::chrono::milliseconds idle_timeout{};
  std::deque<upstream_item> queue;
  asio::steady_timer ready;  // cancelled when the queue gains an item
  asio::steady_timer space;  // cancelled when the queue loses items
  fanout::watch_merge_state merge;
  bool closed = false;
  bool ended = false;

  void push(upstream_item item) {
    queue.push_back(std::move(item));
    ready.cancel();
  }
  void close_streams() noexcept {
    closed = true;
    for (auto& s : streams) {
      if (s) s->close();
    }
    ready.cancel();
    space.cancel();
  }
};

namespace {

// Reads one upstream watch until it ends, breaks or the merged watch
// closes, handing its events to the relay in order.
asio::awaitable<void> read_upstream(std::shared_ptr<merged_watch::state> s,
                                    std::size_t index) {
  const std::string cluster = s->clusters[index];
  kube::watch_decoder decoder;
  std::vector<kube::watch_event> events;
  for (;;) {
    while (!s->closed && s->queue.size() >= max_queued_events) {
      s->space.expires_at(asio::steady_timer::time_point::max());
      co_await s->space.async_wait(use_tuple);
    }
    if (s->closed) co_return;
    auto piece = co_await s->streams[index]->read_some(s->idle_timeout);
    if (s->closed) co_return;
    upstream_item end;
    end.cluster = cluster;
    if (!piece) {
      end.why = piece.error().message;
      s->push(std::move(end));
      co_return;
    }
    if (piece->empty()) {
      end.clean_end = decoder.at_boundary();
      end.why = "its watch ended in the middle of an event";
      s->push(std::move(end));
      co_return;
    }
    events.clear();
    auto fed = decoder.feed(*piece, events);
    for (auto& e : events) {
      upstream_item item;
      item.cluster = cluster;
      item.event = std::move(e);
      s->push(std::move(item));
    }
    if (!fed) {
      end.why = fed.error().message;
      s->push(std::move(end));
      co_return;
    }
  }
}

struct open_attempt {
  std::unique_ptr<http::response_stream> stream;
  int status = 0;           // the upstream's, or 0 when it never answered
  std::string failure;      // when not usable
  bool not_served = false;  // 404: the cluster lacks the resource
};

// Owns its arguments (gather).
asio::awaitable<open_attempt> open_one(
    result<std::shared_ptr<upstream_target>> up, http::request req,
    http::request_options options) {
  open_attempt a;
  if (!up) {
    a.failure = up.error().message;
    co_return a;
  }
  auto got = co_await (*up)->probe().stream(std::move(req), options);
  if (!got) {
    a.failure = got.error().message;
    co_return a;
  }
  auto stream = std::move(*got);
  a.status = stream->status();
  if (a.status == 200) {
    a.stream = std::move(stream);
    co_return a;
  }
  std::string body;
  while (body.size() < max_error_body) {
    auto piece = co_await stream->read_some(std::chrono::seconds(5));
    if (!piece || piece->empty()) break;
    body.append(piece->data(), piece->size());
  }
  stream->close();
  a.not_served = a.status == 404;
  a.failure = refusal_text(a.status, body);
  co_return a;
}

merged_watch::opened refuse(int status, std::string message) {
  merged_watch::opened o;
  o.status = status;
  o.message = std::move(message);
  return o;
}

// The code a failed open answers with: the upstream's own 4xx (410 for a
// compacted version makes the client relist; 403 says whose permission is
// missing), else 503: the cluster is unavailable.
int failure_code(const open_attempt& a) {
  if (a.status >= 400 && a.status < 500) return a.status;
  return 503;
}

}  // namespace

merged_watch::merged_watch(std::shared_ptr<state> s) : state_(std::move(s)) {}

merged_watch::~merged_watch() { close(); }

void merged_watch::close() noexcept {
  if (state_) state_->close_streams();
}

asio::awaitable<merged_watch::opened> merged_watch::open(
    upstream_registry& upstreams, const routing::routing_table& table,
    routing::decision decision, merged_list_request request,
    std::chrono::milliseconds open_timeout,
    std::chrono::milliseconds idle_timeout) {
  const std::string about = describe(table, decision, request.resource);
  const std::string& accept = request.accept;
  if (!accept.empty() && accept.find("json") == std::string::npos &&
      accept.find("*/*") == std::string::npos) {
    co_return refuse(406, about +
                              ", merged into JSON; the request accepts only " +
                              accept + " (accept application/json)");
  }
  // PartialObjectMetadata events are objects like any other; Table events
  // (kubectl get -w) gain a Cluster column (fanout::merge_event).
  std::string upstream_accept = "application/json";
  if (accept.find("as=PartialObjectMetadata") != std::string::npos ||
      accept.find("as=Table") != std::string::npos) {
    upstream_accept = accept;
  }
  const std::string version = query_value(request.target, "resourceVersion");
  const auto& names = decision.candidates;

  auto executor = co_await asio::this_coro::executor;
  auto s = std::make_shared<state>(executor);
  s->idle_timeout = idle_timeout;
  if (fanout::is_composite(version)) {
    auto decoded = fanout::decode(version);
    if (!decoded) {
      co_return refuse(status_code_for(decoded.error()),
                       about + ": resourceVersion " + decoded.error().message);
    }
    s->merge.current = std::move(*decoded);
  }

  // A composite from before the rule gained a target: 410, so the client
  // lists again and gets one that has it.
  auto targets = cluster_targets(request.target, version, names);
  if (!targets) {
    co_return refuse(status_code_for(targets.error()),
                     about + ": " + targets.error().message);
  }
  std::vector<asio::awaitable<open_attempt>> opens;
  for (std::size_t i = 0; i < names.size(); ++i) {
    http::request req = get_request((*targets)[i], upstream_accept);
    http::request_options options;
    options.timeout = open_timeout;
    auto up = upstreams.get(table, names[i]);
    opens.push_back(open_one(std::move(up), std::move(req), options));
  }
  std::vector<open_attempt> attempts = co_await gather(std::move(opens));

  std::string failures;
  int code = 0;
  std::size_t not_served = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const open_attempt& a = attempts[i];
    if (a.stream) continue;
    if (a.not_served) {
      ++not_served;
      continue;
    }
    if (!failures.empty()) failures += "; ";
    failures += names[i] + ": " + a.failure;
    if (code == 0) code = failure_code(a);
  }
  if (code == 0 && not_served == names.size()) {
    code = 404;
    failures = "no target serves " + request.resource;
  }
  if (code != 0) {
    for (auto& a : attempts) {
      if (a.stream) a.stream->close();
    }
    co_return refuse(code, about + ", and it failed for " + failures);
  }
  const bool initial_events =
      query_value(request.target, "sendInitialEvents") == "true";
  for (std::size_t i = 0; i < names.size(); ++i) {
    open_attempt& a = attempts[i];
    if (!a.stream) {
      // Not served there: "0" in the composite, so a watch resumed from it
      // gets that cluster's objects as ADDED events should the resource
      // appear there meanwhile, and nothing otherwise.
      s->merge.current =
          fanout::with(std::move(s->merge.current), names[i], std::string("0"));
      continue;
    }
    s->clusters.push_back(names[i]);
    s->streams.push_back(std::move(a.stream));
    if (initial_events) s->merge.initial_events_pending.insert(names[i]);
  }
  for (std::size_t i = 0; i < s->clusters.size(); ++i) {
    asio::co_spawn(executor, read_upstream(s, i), asio::detached);
  }
  opened o;
  o.watch.reset(new merged_watch(std::move(s)));
  co_return o;
}

asio::awaitable<merged_watch_batch> merged_watch::next(std::size_t max_bytes) {
  merged_watch_batch batch;
  state& s = *state_;
  if (s.ended) {
    batch.last = true;
    co_return batch;
  }
  while (s.queue.empty() && !s.closed) {
    s.ready.expires_at(asio::steady_timer::time_point::max());
    co_await s.ready.async_wait(use_tuple);
  }
  if (s.closed && s.queue.empty()) {
    s.ended = true;
    batch.last = true;
    co_return batch;
  }
  while (!s.queue.empty() && batch.bytes.size() < max_bytes) {
    upstream_item item = std::move(s.queue.front());
    s.queue.pop_front();
    if (!item.event) {
      // One upstream is over, so the merged watch is: cleanly when it was
      // (the client resumes every cluster from its last version), else
      // with the 410 that makes the client relist.
      if (!item.clean_end) {
        spdlog::warn("merged watch: cluster {} {}; ending the watch with 410",
                     item.cluster, item.why);
        batch.bytes +=
            serialize(fanout::upstream_ended(item.cluster, item.why));
        ++batch.events;
      }
      batch.last = true;
      break;
    }
    auto step = fanout::merge_event(std::move(s.merge), item.cluster,
                                    std::move(*item.event));
    if (!step) {
      batch.bytes +=
          serialize(fanout::upstream_ended(item.cluster, step.error().message));
      ++batch.events;
      batch.last = true;
      break;
    }
    s.merge = std::move(step->state);
    batch.bytes += serialize(step->event);
    ++batch.events;
    if (step->ends) {
      batch.last = true;
      break;
    }
  }
  s.space.cancel();
  if (batch.last) {
    s.ended = true;
    s.close_streams();
  }
  co_return batch;
}

}  // namespace mca::sidecar
