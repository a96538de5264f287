#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "common/core/error.hpp"
#include "common/http/transport.hpp"
#include "common/kube/resource.hpp"
#include "common/kube/watch_decoder.hpp"

namespace mca::kube {

using json = nlohmann::json;

struct list_options {
  std::string label_selector;
  std::string field_selector;
  std::int64_t limit = 0;  // 0: no paging
  std::string continue_token;
  std::string resource_version;
};

struct write_options {
  std::string subresource;  // "status", "scale", ...
  std::string field_manager;
  bool dry_run = false;
};

enum class patch_type { json_patch, merge_patch, strategic_merge_patch, apply };

const char* content_type(patch_type type) noexcept;

struct patch_options {
  std::string subresource;
  std::string field_manager;  // required for apply
  bool force = false;         // apply: take ownership of conflicting fields
};

struct delete_options {
  std::string propagation_policy;  // Foreground, Background, Orphan
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::optional<std::int64_t> grace_period_seconds;
};

struct watch_options {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;
  bool allow_bookmarks = true;
  std::int64_t timeout_seconds = 300;  // the server ends the watch after this
};

// The events of one watch request, decoded as they arrive. An ERROR event
// becomes an error with the Status it carried (a 410 is is_api(410): the
// caller must relist).
class watch_stream {
 public:
  watch_stream(std::unique_ptr<http::response_stream> stream, std::string what,
               std::chrono::milliseconds idle_timeout);

  // The next event; nullopt when the server ended the watch normally.
  boost::asio::awaitable<result<std::optional<watch_event>>> next();
  // Ends the watch now; a pending next() fails. From the same executor.
  void close() noexcept { stream_->close(); }

 private:
  std::unique_ptr<http::response_stream> stream_;
  std::string what_;
  std::chrono::milliseconds idle_timeout_;
  watch_decoder decoder_;
  std::deque<watch_event> ready_;
  std::vector<watch_event> batch_;
};

// Typed verbs over a transport, for any group/version/resource. Errors from
// the API server come back as its Status (source api), never a bare string.
// Same thread affinity as the transport.
class rest_client {
 public:
  explicit rest_client(std::shared_ptr<http::transport> transport,
                       http::request_options options = {});

  // Coroutines take every argument by value and have no default arguments:
  // a reference parameter would dangle once the caller's temporaries die,
  // and GCC 12 mis-destroys default-argument temporaries of coroutines. The
  // short overloads below are plain functions that forward.
  boost::asio::awaitable<result<json>> get(resource_ref ref, std::string ns,
                                           std::string name,
                                           std::string subresource);
  boost::asio::awaitable<result<json>> list(resource_ref ref, std::string ns,
                                            list_options options);
  boost::asio::awaitable<result<json>> create(resource_ref ref, std::string ns,
                                              json object,
                                              write_options options);
  // The name comes from object.metadata.name.
  boost::asio::awaitable<result<json>> update(resource_ref ref, std::string ns,
                                              json object,
                                              write_options options);
  boost::asio::awaitable<result<json>> patch(resource_ref ref, std::string ns,
                                             std::string name, patch_type type,
                                             std::string body,
                                             patch_options options);
  boost::asio::awaitable<result<json>> remove(resource_ref ref, std::string ns,
                                              std::string name,
                                              delete_options options);
  boost::asio::awaitable<result<std::unique_ptr<watch_stream>>> watch(
      resource_ref ref, std::string ns, watch_options options);

  boost::asio::awaitable<result<json>> get(resource_ref ref, std::string ns,
                                           std::string name) {
    return get(std::move(ref), std::move(ns), std::move(name), std::string());
  }
  boost::asio::awaitable<result<json>> list(resource_ref ref, std::string ns) {
    return list(std::move(ref), std::move(ns), list_options());
  }
  boost::asio::awaitable<result<json>> create(resource_ref ref, std::string ns,
                                              json object) {
    return create(std::move(ref), std::move(ns), std::move(object),
                  write_options());
  }
  boost::asio::awaitable<result<json>> update(resource_ref ref, std::string ns,
                                              json object) {
    return update(std::move(ref), std::move(ns), std::move(object),
                  write_options());
  }
  boost::asio::awaitable<result<json>> patch(resource_ref ref, std::string ns,
                                             std::string name, patch_type type,
                                             std::string body) {
    return patch(std::move(ref), std::move(ns), std::move(name), type,
                 std::move(body), patch_options());
  }
  boost::asio::awaitable<result<json>> remove(resource_ref ref, std::string ns,
                                              std::string name) {
    return remove(std::move(ref), std::move(ns), std::move(name),
                  delete_options());
  }

  // Any other request (e.g. a non-resource path such as /version).
  boost::asio::awaitable<result<json>> call(http::request req);

  http::transport& transport() noexcept { return *transport_; }

 private:
  std::shared_ptr<http::transport> transport_;
  http::request_options options_;
};

// Turns a non-2xx response into an error carrying the API server's Status
// (or one made up from the code when the body is not a Status). `what`
// names the request: "GET https://host/api/v1/...".
error api_error(const http::response& response, const std::string& what);

}  // namespace mca::kube
