#include "kube/scaler.hpp"

#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/kube/resource.hpp"

namespace replica_server {
namespace {

// Recorded in managedFields, so `kubectl get -o yaml --show-managed-fields`
// says who set the count.
constexpr const char* field_manager = "replica-server";

mca::kube::patch_options scale_options() {
  mca::kube::patch_options o;
  o.subresource = "scale";
  o.field_manager = field_manager;
  return o;
}

}  // namespace

std::string scale_patch(std::int32_t count) {
  nlohmann::json patch = nlohmann::json::object();
  patch["spec"]["replicas"] = count;
  return patch.dump();
}

api_error scale_failure(const mca::error& e, const std::string& namespace_name,
                        const std::string& name) {
  const std::string what = "deployment " + namespace_name + "/" + name;
  switch (e.source) {
    case mca::error_source::api: {
      const int code = e.status.code;
      const std::string said =
          e.status.message.empty() ? e.message : e.status.message;
      if (code == 404) return api_error::of(404, what + " not found");
      if (code == 409) {
        return api_error::of(409, "conflict updating " + what + ": " + said);
      }
      if (code == 422) {
        return api_error::of(422, "the Kubernetes API refused the count for " +
                                      what + ": " + said);
      }
      if (code == 429 || code == 503 || code == 504) {
        return api_error::of(503, "the Kubernetes API is unavailable (" +
                                      std::to_string(code) + "): " + said);
      }
      if (code == 401 || code == 403) {
        return api_error::of(502,
                             "the Kubernetes API refused this server's "
                             "credentials for " +
                                 what + " (" + std::to_string(code) +
                                 "): " + said);
      }
      return api_error::of(502, "the Kubernetes API answered " +
                                    std::to_string(code) + " for " + what +
                                    ": " + said);
    }
    case mca::error_source::transport:
      return api_error::of(503,
                           "the Kubernetes API is unreachable: " + e.message);
    case mca::error_source::decode:
      return api_error::of(
          502, "the Kubernetes API's answer could not be read: " + e.message);
    case mca::error_source::config:
    case mca::error_source::client:
    case mca::error_source::internal:
      break;
  }
  return api_error::of(500, "updating " + what + " failed: " + e.message);
}

boost::asio::awaitable<api_result<void>> scaler::set_replicas(
    std::string namespace_name, std::string name, std::int32_t count) {
  std::string body = scale_patch(count);
  mca::kube::patch_options options = scale_options();
  // Named locals, not temporaries, as arguments of a co_awaited call (GCC
  // 12 destroys such temporaries too early).
  mca::kube::resource_ref deployments = mca::kube::resources::deployments();
  auto patched = co_await client_.patch(
      std::move(deployments), namespace_name, name,
      mca::kube::patch_type::merge_patch, std::move(body), std::move(options));
  if (!patched) {
    api_error e = scale_failure(patched.error(), namespace_name, name);
    spdlog::warn("scale: setting {}/{} to {} replicas failed ({}): {}",
                 namespace_name, name, count, e.status,
                 patched.error().message);
    co_return e;
  }
  spdlog::info("scale: {}/{} set to {} replicas", namespace_name, name, count);
  co_return api_result<void>{};
}

}  // namespace replica_server
