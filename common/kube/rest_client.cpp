#include "common/kube/rest_client.hpp"

namespace mca::kube {
namespace {

namespace asio = boost::asio;

http::request make_request(std::string method, std::string target,
                           std::string body = {},
                           std::string body_type = "application/json") {
  http::request req;
  req.method = std::move(method);
  req.target = std::move(target);
  if (!body.empty()) {
    req.headers.push_back({"Content-Type", std::move(body_type)});
    req.body = std::move(body);
  }
  return req;
}

std::string name_of(const json& object) {
  if (!object.is_object()) return {};
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return {};
  return meta->value("name", "");
}

}  // namespace

const char* content_type(patch_type type) noexcept {
  switch (type) {
    case patch_type::json_patch:
      return "application/json-patch+json";
    case patch_type::merge_patch:
      return "application/merge-patch+json";
    case patch_type::strategic_merge_patch:
      return "application/strategic-merge-patch+json";
    case patch_type::apply:
      return "application/apply-patch+yaml";
  }
  return "application/json";
}

error api_error(const http::response& response, const std::string& what) {
  error e;
  e.source = error_source::api;
  e.status.code = response.status;
  json body = json::parse(response.body, nullptr, false);
  if (body.is_object() && body.value("kind", "") == "Status") {
    e.status.reason = body.value("reason", "");
    e.status.message = body.value("message", "");
    if (body.contains("code") && body["code"].is_number_integer()) {
      e.status.code = body["code"].get<int>();
    }
    if (body.contains("details")) e.status.details = body["details"].dump();
  } else {
    // Not a Status (a proxy in between, or an HTML error page): keep a
    // bounded prefix so the message says something without flooding logs.
    e.status.message = "HTTP " + std::to_string(response.status);
    if (!response.body.empty()) {
      e.status.message += ": " + response.body.substr(0, 200);
    }
  }
  e.message = what + ": " + std::to_string(e.status.code) +
              (e.status.reason.empty() ? "" : " " + e.status.reason) + ": " +
              e.status.message;
  return e;
}

rest_client::rest_client(std::shared_ptr<http::transport> transport,
                         http::request_options options)
    : transport_(std::move(transport)), options_(options) {}

asio::awaitable<result<json>> rest_client::call(http::request req) {
  const std::string what = req.method + " " + transport_->server() + req.target;
  auto r = co_await transport_->send(std::move(req), options_);
  if (!r) co_return r.error();
  if (r->status < 200 || r->status > 299) co_return api_error(*r, what);
  if (r->body.empty()) co_return ok(json::object());
  json body = json::parse(r->body, nullptr, false);
  if (body.is_discarded()) {
    co_return error::of(error_source::decode,
                        "the response to " + what + " is not JSON (" +
                            std::string(r->header("Content-Type")) + ", " +
                            std::to_string(r->body.size()) + " bytes)");
  }
  co_return ok(std::move(body));
}

asio::awaitable<result<json>> rest_client::get(resource_ref ref, std::string ns,
                                               std::string name,
                                               std::string subresource) {
  co_return co_await call(
      make_request("GET", resource_path(ref, ns, name, subresource)));
}

asio::awaitable<result<json>> rest_client::list(resource_ref ref,
                                                std::string ns,
                                                list_options options) {
  query_string q;
  q.add("labelSelector", options.label_selector)
      .add("fieldSelector", options.field_selector)
      .add("limit", options.limit > 0 ? std::to_string(options.limit) : "")
      .add("continue", options.continue_token)
      .add("resourceVersion", options.resource_version);
  co_return co_await call(
      make_request("GET", resource_path(ref, ns) + q.str()));
}

asio::awaitable<result<json>> rest_client::create(resource_ref ref,
                                                  std::string ns, json object,
                                                  write_options options) {
  query_string q;
  q.add("fieldManager", options.field_manager)
      .add("dryRun", options.dry_run ? "All" : "");
  std::string path =
      options.subresource.empty()
          ? resource_path(ref, ns)
          : resource_path(ref, ns, name_of(object), options.subresource);
  co_return co_await call(make_request("POST", path + q.str(), object.dump()));
}

asio::awaitable<result<json>> rest_client::update(resource_ref ref,
                                                  std::string ns, json object,
                                                  write_options options) {
  const auto name = name_of(object);
  if (name.empty()) {
    co_return error::of(
        error_source::client,
        "update of " + ref.resource + " needs metadata.name in the object");
  }
  query_string q;
  q.add("fieldManager", options.field_manager)
      .add("dryRun", options.dry_run ? "All" : "");
  co_return co_await call(make_request(
      "PUT", resource_path(ref, ns, name, options.subresource) + q.str(),
      object.dump()));
}

asio::awaitable<result<json>> rest_client::patch(
    resource_ref ref, std::string ns, std::string name, patch_type type,
    std::string body, patch_options options) {
  if (type == patch_type::apply && options.field_manager.empty()) {
    co_return error::of(error_source::client, "server-side apply of " +
                                                  ref.resource + " " + name +
                                                  " needs a field manager");
  }
  query_string q;
  q.add("fieldManager", options.field_manager)
      .add("force", options.force ? "true" : "");
  co_return co_await call(make_request(
      "PATCH", resource_path(ref, ns, name, options.subresource) + q.str(),
      body, content_type(type)));
}

asio::awaitable<result<json>> rest_client::remove(resource_ref ref,
                                                  std::string ns,
                                                  std::string name,
                                                  delete_options options) {
  json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!options.propagation_policy.empty()) {
    body["propagationPolicy"] = options.propagation_policy;
  }
  if (options.grace_period_seconds) {
    body["gracePeriodSeconds"] = *options.grace_period_seconds;
  }
  if (options.precondition_uid) {
    body["preconditions"]["uid"] = *options.precondition_uid;
  }
  if (options.precondition_resource_version) {
    body["preconditions"]["resourceVersion"] =
        *options.precondition_resource_version;
  }
  co_return co_await call(
      make_request("DELETE", resource_path(ref, ns, name), body.dump()));
}

asio::awaitable<result<std::unique_ptr<watch_stream>>> rest_client::watch(
    resource_ref ref, std::string ns, watch_options options) {
  query_string q;
  q.add("watch", "1")
      .add("labelSelector", options.label_selector)
      .add("fieldSelector", options.field_selector)
      .add("resourceVersion", options.resource_version)
      .add("allowWatchBookmarks", options.allow_bookmarks ? "true" : "")
      .add("timeoutSeconds", options.timeout_seconds > 0
                                 ? std::to_string(options.timeout_seconds)
                                 : "");
  auto req = make_request("GET", resource_path(ref, ns) + q.str());
  const std::string what = "watch " + transport_->server() + req.target;
  auto s = co_await transport_->stream(std::move(req), options_);
  if (!s) co_return s.error();
  auto& stream = **s;
  if (stream.status() != 200) {
    // Read the (small) Status body the server sent instead of events.
    http::response failed;
    failed.status = stream.status();
    while (failed.body.size() < std::size_t{64} * 1024) {
      auto piece = co_await stream.read_some(options_.timeout);
      if (!piece || piece->empty()) break;
      failed.body.append(*piece);
    }
    co_return api_error(failed, what);
  }
  // The server sends bookmarks about once a minute and ends the watch at
  // timeoutSeconds; silence well past both means the connection is dead.
  const auto idle = std::chrono::seconds(
      options.timeout_seconds > 0 ? options.timeout_seconds + 30 : 330);
  co_return std::make_unique<watch_stream>(std::move(*s), what, idle);
}

watch_stream::watch_stream(std::unique_ptr<http::response_stream> stream,
                           std::string what,
                           std::chrono::milliseconds idle_timeout)
    : stream_(std::move(stream)),
      what_(std::move(what)),
      idle_timeout_(idle_timeout) {}

asio::awaitable<result<std::optional<watch_event>>> watch_stream::next() {
  while (ready_.empty()) {
    auto piece = co_await stream_->read_some(idle_timeout_);
    if (!piece) co_return piece.error();
    if (piece->empty()) {
      if (!decoder_.at_boundary()) {
        co_return error::of(error_source::decode,
                            what_ + ": the stream ended inside an event");
      }
      co_return std::optional<watch_event>{};
    }
    batch_.clear();
    auto fed = decoder_.feed(*piece, batch_);
    if (!fed) {
      auto e = fed.error();
      e.message = what_ + ": " + e.message;
      co_return e;
    }
    for (auto& ev : batch_) ready_.push_back(std::move(ev));
  }
  auto ev = std::move(ready_.front());
  ready_.pop_front();
  if (ev.type == watch_event_type::error) {
    http::response as_response;
    as_response.status = ev.object.value("code", 500);
    as_response.body = ev.object.dump();
    co_return api_error(as_response, what_);
  }
  co_return std::optional<watch_event>(std::move(ev));
}

}  // namespace mca::kube
