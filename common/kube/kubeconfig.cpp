#include "common/kube/kubeconfig.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include <boost/system/error_code.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include "common/util/base64.hpp"
#include "common/util/strings.hpp"

namespace mca::kube {
namespace {

namespace fs = std::filesystem;

error config_error(std::string message) {
  return error::of(error_source::config, std::move(message));
}

// ---------------------------------------------------------------- files

boost::system::error_code last_errno() {
  return {errno, boost::system::generic_category()};
}

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  fd_guard(fd_guard&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  fd_guard& operator=(fd_guard&&) = delete;
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// POSIX rather than iostreams: an ifstream cannot say *why* it failed, and
// "permission denied" versus "no such file" is what the user needs to know.
boost::system::result<fd_guard> open_regular(const fs::path& path) {
  fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return last_errno();
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return last_errno();
  if (S_ISDIR(st.st_mode)) {
    return boost::system::error_code(EISDIR, boost::system::generic_category());
  }
  return fd;
}

boost::system::result<void> check_readable(const fs::path& path) {
  auto fd = open_regular(path);
  if (!fd) return fd.error();
  return {};
}

boost::system::result<std::string> read_file(const fs::path& path) {
  auto fd = open_regular(path);
  if (!fd) return fd.error();
  std::string out;
  std::array<char, 8192> buf{};
  for (;;) {
    const ssize_t n = ::read(fd->get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_errno();
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// ---------------------------------------------------------------- YAML

// Every accessor takes `const YAML::Node&`: yaml-cpp's non-const operator[]
// inserts the key, silently turning a null node into a map.
bool is_absent(const YAML::Node& node) {
  return !node.IsDefined() || node.IsNull();
}

result<std::string> get_string(const YAML::Node& map, const char* key,
                               const std::string& where) {
  if (is_absent(map)) return std::string();
  const YAML::Node node = map[key];
  if (is_absent(node)) return std::string();
  if (!node.IsScalar()) {
    return config_error(where + ": " + key + ": expected a string");
  }
  return node.Scalar();
}

result<bool> get_bool(const YAML::Node& map, const char* key,
                      const std::string& where) {
  if (is_absent(map)) return false;
  const YAML::Node node = map[key];
  if (is_absent(node)) return false;
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return config_error(where + ": " + key + ": expected true or false");
  }
  return value;
}

std::string describe_yaml_error(const YAML::Exception& e) {
  if (e.mark.is_null()) return e.msg;
  return "line " + std::to_string(e.mark.line + 1) + ", column " +
         std::to_string(e.mark.column + 1) + ": " + e.msg;
}

// ---------------------------------------------------------------- merging

struct source {
  std::string origin;  // "kubeconfig /path" or what parse_kubeconfig got
  fs::path base_dir;   // relative paths in this source are relative to it
};

struct named_entry {
  YAML::Node body;  // the `cluster`/`user`/`context` mapping (may be null)
  std::size_t source_index = 0;
};

using entry_map = std::map<std::string, named_entry, std::less<>>;

struct merged_config {
  std::vector<source> sources;
  entry_map clusters;
  entry_map users;
  entry_map contexts;
  std::string current_context;

  std::string all_origins() const {
    std::vector<std::string> origins;
    origins.reserve(sources.size());
    for (const auto& s : sources) origins.push_back(s.origin);
    return join(origins, ", ");
  }
};

// `list_key` is e.g. "clusters", `body_key` "cluster". Within one source a
// name may appear once (client-go refuses duplicates); across sources the
// first one wins.
result<void> merge_list(const YAML::Node& root, const char* list_key,
                        const char* body_key, std::size_t source_index,
                        const std::string& origin, entry_map& target) {
  const YAML::Node list = root[list_key];
  if (is_absent(list)) return {};
  if (!list.IsSequence()) {
    return config_error(origin + ": " + list_key + ": expected a list");
  }
  std::set<std::string, std::less<>> seen;
  std::size_t index = 0;
  for (const YAML::Node& item : list) {
    const std::string where =
        origin + ": " + list_key + "[" + std::to_string(index++) + "]";
    if (!item.IsMap()) return config_error(where + ": expected a mapping");
    auto name = get_string(item, "name", where);
    if (!name) return name.error();
    if (name->empty()) return config_error(where + ": name is not set");
    if (!seen.insert(*name).second) {
      return config_error(origin + ": " + list_key + ": duplicate name " +
                          quote(*name));
    }
    const YAML::Node body = item[body_key];
    if (!is_absent(body) && !body.IsMap()) {
      return config_error(origin + ": " + body_key + " " + quote(*name) + ": " +
                          body_key + ": expected a mapping");
    }
    target.try_emplace(*name, named_entry{body, source_index});
  }
  return {};
}

result<void> merge_document(merged_config& merged, const std::string& yaml,
                            source src) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return config_error(src.origin + ": malformed YAML at " +
                        describe_yaml_error(e));
  }
  const std::size_t index = merged.sources.size();
  merged.sources.push_back(std::move(src));
  const std::string& origin = merged.sources.back().origin;
  // An empty file is an empty config, as for kubectl.
  if (is_absent(root)) return {};
  if (!root.IsMap()) {
    return config_error(origin + ": expected a YAML mapping at the top level");
  }
  if (auto r = merge_list(root, "clusters", "cluster", index, origin,
                          merged.clusters);
      !r) {
    return r;
  }
  if (auto r = merge_list(root, "users", "user", index, origin, merged.users);
      !r) {
    return r;
  }
  if (auto r = merge_list(root, "contexts", "context", index, origin,
                          merged.contexts);
      !r) {
    return r;
  }
  auto current = get_string(root, "current-context", origin);
  if (!current) return current.error();
  if (merged.current_context.empty()) {
    merged.current_context = std::move(*current);
  }
  return {};
}

// ---------------------------------------------------------------- resolving

fs::path resolve_path(const fs::path& base_dir, const std::string& value) {
  fs::path path(value);
  if (path.is_relative() && !base_dir.empty()) path = base_dir / path;
  return path.lexically_normal();
}

// Reads a PEM that is given either inline as base64 (`data_key`) or as a
// file (`file_key`); the inline form wins, as in client-go.
result<std::string> read_pem(const YAML::Node& body, const char* file_key,
                             const char* data_key, const source& src,
                             const std::string& where) {
  auto data = get_string(body, data_key, where);
  if (!data) return data.error();
  if (!data->empty()) {
    auto decoded = util::base64_decode(*data);
    if (!decoded) {
      return config_error(where + ": " + data_key + ": not valid base64");
    }
    return std::move(*decoded);
  }
  auto file = get_string(body, file_key, where);
  if (!file) return file.error();
  if (file->empty()) return std::string();
  const fs::path path = resolve_path(src.base_dir, *file);
  auto content = read_file(path);
  if (!content) {
    return config_error(where + ": " + file_key + ": cannot read " +
                        path.string() + ": " + content.error().message());
  }
  if (content->empty()) {
    return config_error(where + ": " + file_key + ": " + path.string() +
                        " is empty");
  }
  return std::move(*content);
}

// Empty values count as unset: kubectl itself writes `as-user-extra: {}`.
bool has_any(const YAML::Node& body, std::initializer_list<const char*> keys) {
  if (is_absent(body)) return false;
  return std::any_of(keys.begin(), keys.end(), [&](const char* key) {
    const YAML::Node node = body[key];
    if (is_absent(node)) return false;
    return node.IsScalar() ? !node.Scalar().empty() : node.size() > 0;
  });
}

// The value is echoed to help spot typos, unless it may carry userinfo.
std::string describe_server(const std::string& server) {
  if (server.find('@') != std::string::npos) return "(value withheld)";
  return quote(server);
}

result<void> resolve_cluster(const named_entry& entry, const source& src,
                             const std::string& name, client_config& out) {
  const std::string where = src.origin + ": cluster " + quote(name);
  const YAML::Node& body = entry.body;

  auto server = get_string(body, "server", where);
  if (!server) return server.error();
  if (server->empty()) return config_error(where + ": server is not set");
  auto url = boost::urls::parse_uri(*server);
  if (!url ||
      (url->scheme_id() != boost::urls::scheme::https &&
       url->scheme_id() != boost::urls::scheme::http) ||
      url->encoded_host().empty()) {
    return config_error(where + ": server " + describe_server(*server) +
                        " is not an http:// or https:// URL");
  }
  out.server = std::move(*server);

  auto server_name = get_string(body, "tls-server-name", where);
  if (!server_name) return server_name.error();
  out.tls_server_name = std::move(*server_name);

  auto insecure = get_bool(body, "insecure-skip-tls-verify", where);
  if (!insecure) return insecure.error();
  out.insecure_skip_tls_verify = *insecure;
  if (*insecure &&
      has_any(body, {"certificate-authority", "certificate-authority-data"})) {
    // kubectl's wording, so users can search for it.
    return config_error(where +
                        ": insecure-skip-tls-verify: specifying a root "
                        "certificates file with the insecure flag is not "
                        "allowed");
  }

  auto ca = read_pem(body, "certificate-authority",
                     "certificate-authority-data", src, where);
  if (!ca) return ca.error();
  out.ca_pem = std::move(*ca);
  return {};
}

result<exec_config> resolve_exec(const YAML::Node& node, const source& src,
                                 const std::string& where) {
  if (!node.IsMap()) return config_error(where + ": exec: expected a mapping");
  const std::string exec_where = where + ": exec";
  exec_config exec;

  auto command = get_string(node, "command", exec_where);
  if (!command) return command.error();
  if (command->empty()) {
    return config_error(where + ": exec.command is not set");
  }
  // A bare name is looked up in $PATH when run; only a path is resolved.
  exec.command = command->find('/') == std::string::npos
                     ? std::move(*command)
                     : resolve_path(src.base_dir, *command).string();

  auto api_version = get_string(node, "apiVersion", exec_where);
  if (!api_version) return api_version.error();
  if (api_version->empty()) {
    return config_error(where + ": exec.apiVersion is not set");
  }
  if (*api_version != "client.authentication.k8s.io/v1" &&
      *api_version != "client.authentication.k8s.io/v1beta1") {
    return config_error(where + ": exec.apiVersion " + quote(*api_version) +
                        " is not supported (use "
                        "client.authentication.k8s.io/v1 or v1beta1)");
  }
  exec.api_version = std::move(*api_version);

  const YAML::Node args = node["args"];
  if (!is_absent(args)) {
    if (!args.IsSequence()) {
      return config_error(where + ": exec.args: expected a list of strings");
    }
    for (const YAML::Node& arg : args) {
      if (!arg.IsScalar()) {
        return config_error(where + ": exec.args: expected a list of strings");
      }
      exec.args.push_back(arg.Scalar());
    }
  }

  const YAML::Node env = node["env"];
  if (!is_absent(env)) {
    if (!env.IsSequence()) {
      return config_error(where + ": exec.env: expected a list of name/value");
    }
    std::size_t index = 0;
    for (const YAML::Node& var : env) {
      // Values may be secrets: messages name the variable, never its value.
      const std::string var_where =
          where + ": exec.env[" + std::to_string(index++) + "]";
      if (!var.IsMap()) return config_error(var_where + ": expected a mapping");
      auto var_name = get_string(var, "name", var_where);
      if (!var_name) return var_name.error();
      if (var_name->empty()) {
        return config_error(var_where + ": name is not set");
      }
      auto value = get_string(var, "value", var_where);
      if (!value) return value.error();
      exec.env.emplace_back(std::move(*var_name), std::move(*value));
    }
  }

  auto hint = get_string(node, "installHint", exec_where);
  if (!hint) return hint.error();
  exec.install_hint = std::move(*hint);

  auto provide = get_bool(node, "provideClusterInfo", exec_where);
  if (!provide) return provide.error();
  exec.provide_cluster_info = *provide;
  return exec;
}

result<void> resolve_user(const named_entry& entry, const source& src,
                          const std::string& name, auth_config& out) {
  const std::string where = src.origin + ": user " + quote(name);
  const YAML::Node& body = entry.body;

  // Dropping these silently would send requests as a different identity
  // than the kubeconfig asks for.
  if (has_any(body, {"auth-provider"})) {
    return config_error(where +
                        ": auth-provider is not supported; use an exec "
                        "credential plugin instead");
  }
  if (has_any(body, {"as", "as-uid", "as-groups", "as-user-extra"})) {
    return config_error(where +
                        ": impersonation (as, as-uid, as-groups, "
                        "as-user-extra) is not supported");
  }

  auto token = get_string(body, "token", where);
  if (!token) return token.error();
  auto token_file = get_string(body, "tokenFile", where);
  if (!token_file) return token_file.error();
  auto username = get_string(body, "username", where);
  if (!username) return username.error();
  auto password = get_string(body, "password", where);
  if (!password) return password.error();

  const bool has_token = !token->empty() || !token_file->empty();
  const bool has_basic = !username->empty() || !password->empty();
  if (has_token && has_basic) {
    return config_error(where +
                        ": more than one authentication method (token and "
                        "username/password); only one is allowed");
  }
  // Both token and tokenFile: the inline token wins, as in client-go.
  if (!token->empty()) {
    out.token = std::move(*token);
  } else if (!token_file->empty()) {
    // Kept as a path (it rotates), but a missing one is a mistake now.
    out.token_file = resolve_path(src.base_dir, *token_file);
    if (auto readable = check_readable(out.token_file); !readable) {
      return config_error(where + ": tokenFile: cannot read " +
                          out.token_file.string() + ": " +
                          readable.error().message());
    }
  }
  out.username = std::move(*username);
  out.password = std::move(*password);

  const bool has_cert =
      has_any(body, {"client-certificate", "client-certificate-data"});
  const bool has_key = has_any(body, {"client-key", "client-key-data"});
  if (has_cert && !has_key) {
    return config_error(where +
                        ": client-certificate is set but client-key is not "
                        "(set client-key or client-key-data)");
  }
  if (has_key && !has_cert) {
    return config_error(where +
                        ": client-key is set but client-certificate is not "
                        "(set client-certificate or client-certificate-data)");
  }
  auto cert = read_pem(body, "client-certificate", "client-certificate-data",
                       src, where);
  if (!cert) return cert.error();
  out.client_cert_pem = std::move(*cert);
  auto key = read_pem(body, "client-key", "client-key-data", src, where);
  if (!key) return key.error();
  out.client_key_pem = std::move(*key);

  if (!is_absent(body)) {
    const YAML::Node exec = body["exec"];
    if (!is_absent(exec)) {
      auto resolved = resolve_exec(exec, src, where);
      if (!resolved) return resolved.error();
      out.exec = std::move(*resolved);
    }
  }
  return {};
}

std::string list_names(const entry_map& entries) {
  std::vector<std::string> names;
  names.reserve(entries.size());
  for (const auto& [name, entry] : entries) names.push_back(name);
  return names.empty() ? std::string("none") : join(names, ", ");
}

result<client_config> resolve(const merged_config& merged,
                              const std::optional<std::string>& context) {
  const bool overridden = context.has_value() && !context->empty();
  const std::string& context_name =
      overridden ? *context : merged.current_context;
  if (context_name.empty()) {
    return config_error(merged.all_origins() +
                        ": current-context is not set and no context was "
                        "given");
  }
  const auto ctx = merged.contexts.find(context_name);
  if (ctx == merged.contexts.end()) {
    return config_error(
        merged.all_origins() + ": context " + quote(context_name) + " (from " +
        (overridden ? "the options" : "current-context") +
        ") not found; known contexts: " + list_names(merged.contexts));
  }
  const source& ctx_source = merged.sources[ctx->second.source_index];
  const std::string where =
      ctx_source.origin + ": context " + quote(context_name);
  // Entries may come from any file: say where we looked.
  const std::string looked_in =
      merged.sources.size() > 1 ? " in any of " + merged.all_origins() : "";

  client_config out;
  const YAML::Node& body = ctx->second.body;
  auto cluster_name = get_string(body, "cluster", where);
  if (!cluster_name) return cluster_name.error();
  if (cluster_name->empty()) {
    return config_error(where + ": cluster is not set");
  }
  const auto cluster = merged.clusters.find(*cluster_name);
  if (cluster == merged.clusters.end()) {
    return config_error(where + ": cluster: no cluster named " +
                        quote(*cluster_name) + looked_in);
  }
  if (auto r = resolve_cluster(cluster->second,
                               merged.sources[cluster->second.source_index],
                               cluster->first, out);
      !r) {
    return r.error();
  }

  auto user_name = get_string(body, "user", where);
  if (!user_name) return user_name.error();
  // No user is valid: anonymous access.
  if (!user_name->empty()) {
    const auto user = merged.users.find(*user_name);
    if (user == merged.users.end()) {
      return config_error(where + ": user: no user named " + quote(*user_name) +
                          looked_in);
    }
    if (auto r = resolve_user(user->second,
                              merged.sources[user->second.source_index],
                              user->first, out.auth);
        !r) {
      return r.error();
    }
  }

  auto ns = get_string(body, "namespace", where);
  if (!ns) return ns.error();
  out.namespace_name = ns->empty() ? std::string("default") : std::move(*ns);
  out.origin = ctx_source.origin + ", context " + context_name;
  return out;
}

// ---------------------------------------------------------------- loading

struct file_list {
  std::vector<fs::path> files;
  bool skip_missing = false;  // only for $KUBECONFIG, as kubectl does
  std::string description;    // what the files came from, for errors
};

result<file_list> files_to_load(const kubeconfig_options& options) {
  file_list list;
  if (!options.files.empty()) {
    list.files = options.files;
    return list;
  }
  const char* env = std::getenv("KUBECONFIG");
  if (env != nullptr && *env != '\0') {
    const std::string_view value(env);
    std::set<std::string, std::less<>> seen;
    std::size_t begin = 0;
    while (begin <= value.size()) {
      const std::size_t end = std::min(value.find(':', begin), value.size());
      const std::string part(value.substr(begin, end - begin));
      if (!part.empty() && seen.insert(part).second) {
        list.files.emplace_back(part);
      }
      begin = end + 1;
    }
    if (!list.files.empty()) {
      list.skip_missing = true;
      list.description = "$KUBECONFIG";
      return list;
    }
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    return config_error(
        "kubeconfig: no file given and neither $KUBECONFIG nor $HOME is set");
  }
  list.files.push_back(fs::path(home) / ".kube" / "config");
  return list;
}

fs::path directory_of(const fs::path& file) {
  std::error_code ec;
  fs::path absolute = fs::absolute(file, ec);
  if (ec) absolute = file;
  return absolute.lexically_normal().parent_path();
}

result<client_config> load_kubeconfig_impl(const kubeconfig_options& options) {
  auto list = files_to_load(options);
  if (!list) return list.error();
  merged_config merged;
  for (const auto& file : list->files) {
    const std::string origin = "kubeconfig " + file.string();
    auto content = read_file(file);
    if (!content) {
      if (list->skip_missing &&
          content.error() == boost::system::errc::no_such_file_or_directory) {
        continue;
      }
      return config_error(origin +
                          ": cannot read file: " + content.error().message());
    }
    if (auto r = merge_document(merged, *content,
                                source{origin, directory_of(file)});
        !r) {
      return r.error();
    }
  }
  if (merged.sources.empty()) {
    std::vector<std::string> names;
    names.reserve(list->files.size());
    for (const auto& file : list->files) names.push_back(file.string());
    return config_error("kubeconfig: none of the files in " +
                        list->description + " exists: " + join(names, ", "));
  }
  return resolve(merged, options.context);
}

std::string trim(std::string_view s) {
  const auto first = std::find_if_not(s.begin(), s.end(), is_space);
  const auto last = std::find_if_not(s.rbegin(), s.rend(), is_space).base();
  return first < last ? std::string(first, last) : std::string();
}

bool is_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  if (!std::all_of(s.begin(), s.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int port = std::stoi(std::string(s));
  return port > 0 && port <= 65535;
}

result<client_config> load_in_cluster_impl(const in_cluster_options& options) {
  const std::string origin = "in-cluster config (" + options.dir.string() + ")";
  auto lookup = [](const std::optional<std::string>& given,
                   const char* name) -> std::optional<std::string> {
    if (given) return given;
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  const auto host = lookup(options.service_host, "KUBERNETES_SERVICE_HOST");
  if (!host || host->empty()) {
    return config_error(origin +
                        ": KUBERNETES_SERVICE_HOST is not set: not running "
                        "in a cluster?");
  }
  const auto port = lookup(options.service_port, "KUBERNETES_SERVICE_PORT");
  if (!port || port->empty()) {
    return config_error(origin +
                        ": KUBERNETES_SERVICE_PORT is not set: not running "
                        "in a cluster?");
  }
  if (!is_port(*port)) {
    return config_error(origin + ": KUBERNETES_SERVICE_PORT " + quote(*port) +
                        " is not a port number");
  }

  client_config out;
  const bool ipv6 =
      host->find(':') != std::string::npos && host->front() != '[';
  out.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;

  const fs::path ca_path = options.dir / "ca.crt";
  auto ca = read_file(ca_path);
  if (!ca) {
    return config_error(origin + ": ca.crt: cannot read " + ca_path.string() +
                        ": " + ca.error().message());
  }
  out.ca_pem = std::move(*ca);

  out.auth.token_file = options.dir / "token";
  if (auto readable = check_readable(out.auth.token_file); !readable) {
    return config_error(origin + ": token: cannot read " +
                        out.auth.token_file.string() + ": " +
                        readable.error().message());
  }

  // As client-go: an unreadable or empty namespace file means "default".
  if (auto ns = read_file(options.dir / "namespace"); ns) {
    if (auto trimmed = trim(*ns); !trimmed.empty()) {
      out.namespace_name = std::move(trimmed);
    }
  }
  out.origin = origin;
  return out;
}

}  // namespace

result<client_config> load_kubeconfig(const kubeconfig_options& options) {
  try {
    return load_kubeconfig_impl(options);
  } catch (const YAML::Exception& e) {
    return config_error("kubeconfig: " + describe_yaml_error(e));
  } catch (const std::exception& e) {
    return config_error(std::string("kubeconfig: ") + e.what());
  }
}

result<client_config> parse_kubeconfig(
    const std::string& yaml, const std::string& origin,
    const std::filesystem::path& base_dir,
    const std::optional<std::string>& context) {
  try {
    merged_config merged;
    if (auto r = merge_document(merged, yaml, source{origin, base_dir}); !r) {
      return r.error();
    }
    return resolve(merged, context);
  } catch (const YAML::Exception& e) {
    return config_error(origin + ": " + describe_yaml_error(e));
  } catch (const std::exception& e) {
    return config_error(origin + ": " + e.what());
  }
}

result<client_config> load_in_cluster(const in_cluster_options& options) {
  try {
    return load_in_cluster_impl(options);
  } catch (const std::exception& e) {
    return config_error("in-cluster config (" + options.dir.string() +
                        "): " + e.what());
  }
}

}  // namespace mca::kube
