#include "operator/auth/sidecar_identity.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace mca::op {

namespace {

constexpr std::string_view sa_prefix = "system:serviceaccount:";

error refused(const std::string& why) {
  return error::of(error_source::client, "sidecar token refused: " + why);
}

// `user.extra` values are lists of strings; the pod claims have one each.
std::string extra_value(const nlohmann::json& user, const char* key) {
  const auto extra = user.find("extra");
  if (extra == user.end() || !extra->is_object()) return {};
  const auto values = extra->find(key);
  if (values == extra->end() || !values->is_array() || values->size() != 1 ||
      !(*values)[0].is_string()) {
    return {};
  }
  return (*values)[0].get<std::string>();
}

}  // namespace

nlohmann::json token_review_request(const std::string& token,
                                    const std::string& audience) {
  return {{"apiVersion", "authentication.k8s.io/v1"},
          {"kind", "TokenReview"},
          {"spec", {{"token", token}, {"audiences", {audience}}}}};
}

mca::result<sidecar_identity> identity_from_token_review(
    const nlohmann::json& review, const std::string& audience) {
  const auto status = review.find("status");
  if (status == review.end() || !status->is_object()) {
    return refused("the TokenReview has no status");
  }
  if (!status->value("authenticated", false)) {
    std::string why = status->value("error", std::string());
    return refused(why.empty()
                       ? "the API server did not authenticate it"
                       : "the API server did not authenticate it: " + why);
  }
  const auto audiences = status->find("audiences");
  if (audiences == status->end() || !audiences->is_array() ||
      std::find(audiences->begin(), audiences->end(), audience) ==
          audiences->end()) {
    return refused("it is not for audience \"" + audience + "\"");
  }
  const auto user = status->find("user");
  if (user == status->end() || !user->is_object()) {
    return refused("the TokenReview names no user");
  }
  const std::string username = user->value("username", std::string());
  if (username.rfind(sa_prefix, 0) != 0) {
    return refused("user \"" + username + "\" is not a service account");
  }
  const std::string rest = username.substr(sa_prefix.size());
  const auto colon = rest.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    return refused("user \"" + username + "\" is not a service account");
  }
  sidecar_identity id;
  id.namespace_name = rest.substr(0, colon);
  id.service_account = rest.substr(colon + 1);
  id.pod_name = extra_value(*user, "authentication.kubernetes.io/pod-name");
  id.pod_uid = extra_value(*user, "authentication.kubernetes.io/pod-uid");
  if (id.pod_name.empty() || id.pod_uid.empty()) {
    return refused("the token of " + username +
                   " is not bound to a pod (mint it with a projected volume "
                   "or TokenRequest boundObjectRef kind Pod)");
  }
  return id;
}

}  // namespace mca::op
