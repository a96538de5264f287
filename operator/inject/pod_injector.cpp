#include "operator/inject/pod_injector.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

#include <openssl/evp.h>

#include "common/util/strings.hpp"

namespace mca::op {

namespace {

using json = nlohmann::json;

// Where every Kubernetes client library looks for in-cluster credentials.
constexpr std::string_view service_account_path =
    "/var/run/secrets/kubernetes.io/serviceaccount";
constexpr std::string_view api_access_volume = "mca-api-access";

// The sidecar's own paths; they must match its flags below.
constexpr std::string_view api_access_dir = "/var/run/mca/api-access";
constexpr std::string_view state_dir = "/var/run/mca/state";
constexpr std::string_view operator_token_dir = "/var/run/mca/operator-token";
constexpr std::string_view operator_ca_dir = "/var/run/mca/operator-ca";

// The sidecar runs as this user, as distroless "nonroot" images do.
constexpr int sidecar_uid = 65532;

// Thrown inside inject_pod only, and turned into a `refused` result.
struct refusal {
  std::string message;
};

[[noreturn]] void refuse(std::string message) {
  throw refusal{std::move(message)};
}

std::string index_path(std::string_view where, std::size_t index) {
  return std::string(where) + "[" + std::to_string(index) + "]";
}

// RFC 6901: "~" and "/" inside a reference token.
std::string escape_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// A member that is absent and one that is null mean the same to the API
// server; both read as nullptr here.
const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// A string-valued entry of metadata.labels or metadata.annotations.
const std::string* metadata_entry(const json& pod, std::string_view map,
                                  std::string_view key) {
  const json* metadata = member(pod, "metadata");
  if (metadata == nullptr) return nullptr;
  if (!metadata->is_object()) refuse("metadata: must be an object");
  const json* entries = member(*metadata, map);
  if (entries == nullptr) return nullptr;
  const std::string where = "metadata." + std::string(map);
  if (!entries->is_object()) refuse(where + ": must be a map");
  const json* value = member(*entries, key);
  if (value == nullptr) return nullptr;
  if (!value->is_string()) {
    refuse(where + "." + std::string(key) + ": must be a string");
  }
  return &value->get_ref<const std::string&>();
}

// Our value for every field we set is there: what the API server adds by
// defaulting (ports[].protocol, probe timeouts, a projected volume's
// defaultMode...) is not a difference. Lists must match item for item.
bool covers(const json& want, const json& have) {
  if (want.is_object()) {
    if (!have.is_object()) return false;
    for (const auto& [key, value] : want.items()) {
      const auto it = have.find(key);
      if (it == have.end() || !covers(value, *it)) return false;
    }
    return true;
  }
  if (want.is_array()) {
    if (!have.is_array() || have.size() != want.size()) return false;
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (!covers(want[i], have[i])) return false;
    }
    return true;
  }
  return want == have;
}

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string sha256_prefix(const std::string& text, std::size_t hex_digits) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(),
                 nullptr) != 1) {
    refuse("internal error: SHA-256 failed");
  }
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size && out.size() < hex_digits; ++i) {
    out += hex[digest[i] >> 4U];
    out += hex[digest[i] & 0xfU];
  }
  return out;
}

// Applies each operation to a working copy as it is recorded, so the index
// in every later operation is computed against the pod as the operations
// before it left it — exactly how a JSON patch is applied.
class patch_builder {
 public:
  explicit patch_builder(json pod) : pod_(std::move(pod)) {}

  const json& pod() const noexcept { return pod_; }
  json take_operations() { return std::move(operations_); }

  void add(const std::string& path, json value) {
    apply({{"op", "add"}, {"path", path}, {"value", std::move(value)}});
  }
  void replace(const std::string& path, json value) {
    apply({{"op", "replace"}, {"path", path}, {"value", std::move(value)}});
  }
  void remove(const std::string& path) {
    apply({{"op", "remove"}, {"path", path}});
  }

  // `key` of metadata.<map> set to `value`, creating what is missing.
  void set_metadata_entry(std::string_view map, std::string_view key,
                          const std::string& value) {
    const json* metadata = member(pod_, "metadata");
    if (metadata == nullptr) {
      add("/metadata", {{map, {{key, value}}}});
      return;
    }
    const std::string map_path = "/metadata/" + std::string(map);
    const json* entries = member(*metadata, map);
    if (entries == nullptr) {
      add(map_path, {{key, value}});
      return;
    }
    const std::string path = map_path + "/" + escape_token(key);
    const json* current = member(*entries, key);
    if (current == nullptr) {
      add(path, value);
    } else if (*current != value) {
      replace(path, value);
    }
  }

 private:
  void apply(json operation) {
    pod_.patch_inplace(json::array({operation}));
    operations_.push_back(std::move(operation));
  }

  json pod_;
  json operations_ = json::array();
};

json env_from_field(std::string_view name, std::string_view field_path) {
  return {{"name", name},
          {"valueFrom",
           {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", field_path}}}}}};
}

json mount(std::string_view name, std::string_view path, bool read_only) {
  json out{{"name", name}, {"mountPath", path}};
  if (read_only) out["readOnly"] = true;
  return out;
}

json file_item(std::string_view key) { return {{"key", key}, {"path", key}}; }

json sidecar_container(const injection_config& config) {
  const int port = config.admin_port;
  json args = json::array({
      "--operator=" + config.operator_address,
      "--operator-ca=" + std::string(operator_ca_dir) + "/ca.crt",
      "--token-file=" + std::string(operator_token_dir) + "/token",
      "--pod-sa-dir=" + std::string(api_access_dir),
      "--state-dir=" + std::string(state_dir),
      "--admin-address=0.0.0.0:" + std::to_string(port),
      "--failure-mode=" + std::string(to_string(config.failure_mode)),
  });
  for (const auto& arg : config.extra_args) args.push_back(arg);
  const json ready{{"path", "/readyz"}, {"port", port}};
  json container{
      {"name", sidecar_container_name},
      {"image", config.image},
      {"imagePullPolicy", config.image_pull_policy},
      // A native sidecar: started before the app's init containers, kept
      // running beside the app, stopped after it.
      {"restartPolicy", "Always"},
      {"args", std::move(args)},
      {"env",
       json::array({env_from_field("POD_NAMESPACE", "metadata.namespace"),
                    env_from_field("POD_NAME", "metadata.name")})},
      {"ports",
       json::array({json{{"name", "mca-admin"}, {"containerPort", port}}})},
      {"startupProbe",
       {{"httpGet", ready}, {"periodSeconds", 1}, {"failureThreshold", 120}}},
      {"readinessProbe", {{"httpGet", ready}, {"periodSeconds", 5}}},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", sidecar_uid},
        {"runAsGroup", sidecar_uid},
        {"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"capabilities", {{"drop", json::array({"ALL"})}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumeMounts",
       json::array({
           mount(api_access_volume, api_access_dir, false),
           mount("mca-state", state_dir, false),
           // The pod's real token: the sidecar's `local` credentials.
           mount("mca-service-account", service_account_path, true),
           mount("mca-operator-token", operator_token_dir, true),
           mount("mca-ca-bundle", operator_ca_dir, true),
       })},
  };
  if (config.resources.is_object() && !config.resources.empty()) {
    container["resources"] = config.resources;
  }
  return container;
}

json sidecar_volumes(const injection_config& config) {
  json api_access{{"name", api_access_volume},
                  {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "1Mi"}}}};
  json state{{"name", "mca-state"}, {"emptyDir", {{"sizeLimit", "16Mi"}}}};
  // What the ServiceAccount admission plugin would mount, rebuilt as our own
  // projected volume so the sidecar has it even when the pod sets
  // automountServiceAccountToken: false or its mount was replaced.
  json service_account{
      {"name", "mca-service-account"},
      {"projected",
       {{"defaultMode", 0444},
        {"sources",
         json::array({
             json{{"serviceAccountToken",
                   {{"path", "token"}, {"expirationSeconds", 3607}}}},
             json{{"configMap",
                   {{"name", "kube-root-ca.crt"},
                    {"items", json::array({file_item("ca.crt")})}}}},
             json{
                 {"downwardAPI",
                  {{"items", json::array({json{
                                 {"path", "namespace"},
                                 {"fieldRef",
                                  {{"apiVersion", "v1"},
                                   {"fieldPath", "metadata.namespace"}}}}})}}}},
         })}}}};
  json operator_token{
      {"name", "mca-operator-token"},
      {"projected",
       {{"sources", json::array({json{{"serviceAccountToken",
                                       {{"audience", "mca-operator"},
                                        {"expirationSeconds",
                                         config.token_expiration_seconds},
                                        {"path", "token"}}}}})}}}};
  json ca_bundle{{"name", "mca-ca-bundle"},
                 {"configMap",
                  {{"name", "mca-ca-bundle"},
                   {"items", json::array({file_item("ca.crt")})}}}};
  return json::array({std::move(api_access), std::move(state),
                      std::move(service_account), std::move(operator_token),
                      std::move(ca_bundle)});
}

const json env_overrides = json::array({
    json{{"name", "KUBERNETES_SERVICE_HOST"}, {"value", "127.0.0.1"}},
    json{{"name", "KUBERNETES_SERVICE_PORT"}, {"value", "6443"}},
    json{{"name", "KUBERNETES_SERVICE_PORT_HTTPS"}, {"value", "6443"}},
});

// --- checking the pod's shape before touching it --------------------------

// A list field of the pod spec: empty when absent or null.
const json& list_at(const json& object, std::string_view key,
                    const std::string& where) {
  static const json empty = json::array();
  const json* value = member(object, key);
  if (value == nullptr) return empty;
  if (!value->is_array()) refuse(where + ": must be an array");
  return *value;
}

void check_named_items(const json& list, const std::string& where,
                       std::string_view name_key) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string here = index_path(where, i);
    if (!list[i].is_object()) refuse(here + ": must be an object");
    const json* name = member(list[i], name_key);
    if (name == nullptr || !name->is_string()) {
      refuse(here + "." + std::string(name_key) + ": must be a string");
    }
  }
}

void check_container(const json& container, const std::string& where) {
  if (!container.is_object()) refuse(where + ": must be an object");
  const json* name = member(container, "name");
  if (name == nullptr || !name->is_string()) {
    refuse(where + ".name: must be a string");
  }
  check_named_items(list_at(container, "env", where + ".env"), where + ".env",
                    "name");
  check_named_items(list_at(container, "volumeMounts", where + ".volumeMounts"),
                    where + ".volumeMounts", "mountPath");
}

void check_spec(const json& spec) {
  if (member(spec, "containers") == nullptr) {
    refuse("spec.containers: is required");
  }
  for (std::string_view list : {"initContainers", "containers"}) {
    const std::string where = "spec." + std::string(list);
    const json& containers = list_at(spec, list, where);
    for (std::size_t i = 0; i < containers.size(); ++i) {
      check_container(containers[i], index_path(where, i));
    }
  }
  if (list_at(spec, "containers", "spec.containers").empty()) {
    refuse("spec.containers: must not be empty");
  }
  check_named_items(list_at(spec, "volumes", "spec.volumes"), "spec.volumes",
                    "name");
}

std::vector<std::size_t> indices_named(const json& list, std::string_view key,
                                       std::string_view value) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json* v = member(list[i], key);
    if (v != nullptr && v->is_string() && *v == value) out.push_back(i);
  }
  return out;
}

// --- the edits --------------------------------------------------------------

void place_sidecar(patch_builder& patch, const json& sidecar) {
  const json& spec = patch.pod()["spec"];
  const auto in_containers = indices_named(list_at(spec, "containers", ""),
                                           "name", sidecar_container_name);
  if (in_containers.size() == list_at(spec, "containers", "").size()) {
    refuse(
        "spec.containers: every container is named mca-sidecar, a name "
        "the injector reserves for its sidecar, which it would move to "
        "initContainers and leave the pod without containers");
  }
  // Highest index first, so the indices still to remove stay valid.
  for (auto it = in_containers.rbegin(); it != in_containers.rend(); ++it) {
    patch.remove("/spec/containers/" + std::to_string(*it));
  }

  if (member(patch.pod()["spec"], "initContainers") == nullptr) {
    patch.add("/spec/initContainers", json::array({sidecar}));
    return;
  }
  const auto in_init = indices_named(patch.pod()["spec"]["initContainers"],
                                     "name", sidecar_container_name);
  const bool first = !in_init.empty() && in_init.front() == 0;
  for (auto it = in_init.rbegin(); it != in_init.rend(); ++it) {
    if (*it == 0) continue;
    patch.remove("/spec/initContainers/" + std::to_string(*it));
  }
  if (!first) {
    patch.add("/spec/initContainers/0", sidecar);
    return;
  }
  // Ours already, but maybe edited since: put back just the fields that
  // differ.
  for (const auto& [key, want] : sidecar.items()) {
    const json& have = patch.pod()["spec"]["initContainers"][0];
    const std::string path = "/spec/initContainers/0/" + escape_token(key);
    const auto it = have.find(key);
    if (it == have.end()) {
      patch.add(path, want);
    } else if (!covers(want, *it)) {
      patch.replace(path, want);
    }
  }
}

// Sets `want` as the first item of `list_key` whose `key` equals `value`
// (in place, so the order the author chose is kept), removes any later
// duplicate, or appends it; `equal` decides whether an item needs setting.
template <class Equal>
void set_named_item(patch_builder& patch, const std::string& holder,
                    std::string_view list_key, std::string_view key,
                    const std::string& value, const json& want, Equal equal) {
  const json& object = patch.pod().at(json::json_pointer(holder));
  const std::string list_path = holder + "/" + std::string(list_key);
  const json* list = member(object, list_key);
  if (list == nullptr) {
    patch.add(list_path, json::array({want}));
    return;
  }
  std::vector<std::size_t> found;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json* v = member((*list)[i], key);
    // "/a/" mounts over the same directory as "/a".
    if (v != nullptr && v->is_string() &&
        (key == "mountPath"
             ? without_trailing_slashes(v->get<std::string>()) == value
             : *v == value)) {
      found.push_back(i);
    }
  }
  if (found.empty()) {
    patch.add(list_path + "/-", want);
    return;
  }
  const bool intact = equal(want, (*list)[found.front()]);
  // Duplicates first (from the end), while `list` still points at the
  // unchanged array; the first match keeps its index.
  for (auto it = found.rbegin(); it + 1 != found.rend(); ++it) {
    patch.remove(list_path + "/" + std::to_string(*it));
  }
  if (!intact) {
    patch.replace(list_path + "/" + std::to_string(found.front()), want);
  }
}

void route_to_sidecar(patch_builder& patch, const std::string& container) {
  // Explicit env wins over envFrom in Kubernetes, so a ConfigMap or Secret
  // imported with envFrom cannot undo these and is left as it is. Of two
  // env entries with one name the later wins, hence removing duplicates.
  for (const auto& entry : env_overrides) {
    set_named_item(patch, container, "env", "name",
                   entry["name"].get<std::string>(), entry,
                   [](const json& a, const json& b) { return a == b; });
  }
  // Replaces the ServiceAccount admission plugin's kube-api-access-xxxxx
  // mount (or any other at that path): clients read the sidecar's token and
  // CA from here.
  set_named_item(patch, container, "volumeMounts", "mountPath",
                 std::string(service_account_path),
                 mount(api_access_volume, service_account_path, true),
                 [](const json& a, const json& b) { return a == b; });
}

std::vector<std::string> route_containers(patch_builder& patch) {
  std::vector<std::string> names;
  for (std::string_view list : {"initContainers", "containers"}) {
    const std::size_t count = list_at(patch.pod()["spec"], list, "").size();
    for (std::size_t i = 0; i < count; ++i) {
      const json& c = patch.pod()["spec"][std::string(list)][i];
      const std::string& name = c["name"].get_ref<const std::string&>();
      if (name == sidecar_container_name) continue;  // only init [0] left
      names.push_back(name);
      route_to_sidecar(patch,
                       "/spec/" + std::string(list) + "/" + std::to_string(i));
    }
  }
  return names;
}

void add_volumes(patch_builder& patch, const json& volumes) {
  for (const auto& volume : volumes) {
    set_named_item(patch, "/spec", "volumes", "name",
                   volume["name"].get<std::string>(), volume, covers);
  }
}

injection_result decide(const json& pod, const injection_context& ctx) {
  injection_result out;
  const auto skip = [&out](std::string reason) {
    out.outcome = injection_outcome::skipped;
    out.reason = std::move(reason);
    return out;
  };
  if (!pod.is_object()) refuse("the pod: must be an object");
  const std::string* opt =
      metadata_entry(pod, "annotations", inject_annotation);
  if (opt != nullptr && *opt == "false") {
    return skip("opted out by annotation mca.k8s.io/inject: \"false\"");
  }
  const std::string* label = metadata_entry(pod, "labels", inject_label);
  if (ctx.mode == injection_mode::cli && label != nullptr &&
      *label == "false") {
    return skip("opted out by label mca.k8s.io/inject: \"false\"");
  }
  std::string namespace_name = ctx.namespace_name;
  if (namespace_name.empty()) {
    const json* metadata = member(pod, "metadata");
    const json* ns = metadata ? member(*metadata, "namespace") : nullptr;
    if (ns != nullptr && ns->is_string())
      namespace_name = ns->get<std::string>();
  }
  const auto& excluded = ctx.excluded_namespaces;
  if (!namespace_name.empty() && std::find(excluded.begin(), excluded.end(),
                                           namespace_name) != excluded.end()) {
    return skip("namespace " + namespace_name + " is excluded from injection");
  }
  if (ctx.mode == injection_mode::webhook &&
      (label == nullptr || *label != "true")) {
    return skip("not labelled mca.k8s.io/inject: \"true\"");
  }

  const json* spec = member(pod, "spec");
  if (spec == nullptr) refuse("spec: is required");
  if (!spec->is_object()) refuse("spec: must be an object");
  if (const json* host_network = member(*spec, "hostNetwork")) {
    if (!host_network->is_boolean()) {
      refuse("spec.hostNetwork: must be a boolean");
    }
    if (host_network->get<bool>()) {
      refuse(
          "spec.hostNetwork: a pod on the host network cannot be injected: "
          "the sidecar serves the API on 127.0.0.1:6443, which for such a "
          "pod is port 6443 of the node itself, shared by every hostNetwork "
          "pod on it, so the sidecar cannot own it; opt the pod out with "
          "annotation mca.k8s.io/inject: \"false\"");
    }
  }
  check_spec(*spec);

  const json sidecar = sidecar_container(ctx.config);
  const json volumes = sidecar_volumes(ctx.config);
  patch_builder patch(pod);
  place_sidecar(patch, sidecar);
  out.containers = route_containers(patch);
  add_volumes(patch, volumes);
  // Projected service-account tokens need a named service account. The
  // ServiceAccount admission plugin names "default" before webhooks run; a
  // cluster without it (or a manifest outside any cluster) would have the
  // API server refuse the injected pod, so do what the plugin would do.
  const json* account = member(patch.pod()["spec"], "serviceAccountName");
  if (account == nullptr || !account->is_string() ||
      account->get<std::string>().empty()) {
    if (account == nullptr) {
      patch.add("/spec/serviceAccountName", "default");
    } else {
      patch.replace("/spec/serviceAccountName", "default");
    }
  }
  if (ctx.mode == injection_mode::cli) {
    patch.set_metadata_entry("labels", inject_label, "true");
  }
  const std::string config_hash = sha256_prefix(
      json{{"sidecar", sidecar}, {"volumes", volumes}}.dump(), 16);
  const nlohmann::ordered_json status{
      {"version", ctx.version},
      {"sidecar", sidecar_container_name},
      {"containers", out.containers},
      {"config", config_hash},
  };
  patch.set_metadata_entry("annotations", status_annotation, status.dump());

  out.patch = patch.take_operations();
  out.outcome = out.patch.empty() ? injection_outcome::unchanged
                                  : injection_outcome::injected;
  return out;
}

}  // namespace

const char* to_string(injection_outcome outcome) noexcept {
  switch (outcome) {
    case injection_outcome::injected:
      return "injected";
    case injection_outcome::unchanged:
      return "unchanged";
    case injection_outcome::skipped:
      return "skipped";
    case injection_outcome::refused:
      return "refused";
  }
  return "unknown";
}

injection_result inject_pod(const json& pod, const injection_context& ctx) {
  const auto refused = [](std::string reason) {
    injection_result out;
    out.outcome = injection_outcome::refused;
    out.reason = std::move(reason);
    return out;
  };
  try {
    return decide(pod, ctx);
  } catch (const refusal& r) {
    return refused(r.message);
  } catch (const std::exception& e) {
    // The checks above should make this unreachable; a pod must still never
    // take the webhook down.
    return refused(std::string("internal error while injecting: ") + e.what());
  }
}

}  // namespace mca::op
