#include "common/routing/routing_table.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <initializer_list>
#include <set>
#include <system_error>
#include <utility>

#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include "common/util/strings.hpp"

namespace mca::routing {
namespace {

constexpr std::string_view api_version = "mca.x-k8s.io/v1alpha1";
constexpr std::string_view kind_name = "RoutingTable";

// Validation runs deep in the document tree; one exception caught at the
// boundary of parse() keeps each check a single line instead of threading a
// result through every helper. It never escapes this file.
struct invalid {
  std::string message;
};

[[noreturn]] void fail(const std::string& where, std::string_view what) {
  throw invalid{where + ": " + std::string(what)};
}

std::string field(const std::string& where, std::string_view name) {
  if (where.empty()) return std::string(name);
  return where + "." + std::string(name);
}

std::string item(const std::string& where, std::size_t index) {
  return where + "[" + std::to_string(index) + "]";
}

// ---------------------------------------------------------------- YAML

// Every accessor takes `const YAML::Node&`: yaml-cpp's non-const operator[]
// inserts the key, silently turning a null node into a map.
bool is_absent(const YAML::Node& node) {
  return !node.IsDefined() || node.IsNull();
}

// Strictness is the point: a typo such as `namepsaces` would otherwise drop a
// condition and silently widen the rule.
void check_fields(const YAML::Node& map, const std::string& where,
                  std::initializer_list<std::string_view> allowed) {
  std::set<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) fail(where, "field names must be strings");
    const std::string& key = kv.first.Scalar();
    bool known = false;
    for (const std::string_view a : allowed) known = known || a == key;
    if (!known) fail(field(where, key), "unknown field");
    if (!seen.insert(key).second) fail(field(where, key), "duplicate field");
  }
}

void require_map(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) fail(where, "must be a mapping");
}

std::string as_string(const YAML::Node& node, const std::string& where) {
  if (!node.IsScalar()) fail(where, "must be a string");
  return node.Scalar();
}

std::optional<std::string> optional_string(const YAML::Node& map,
                                           const char* key,
                                           const std::string& where) {
  const YAML::Node node = map[key];
  if (is_absent(node)) return std::nullopt;
  return as_string(node, field(where, key));
}

std::string required_string(const YAML::Node& map, const char* key,
                            const std::string& where) {
  auto value = optional_string(map, key, where);
  if (!value || value->empty()) fail(field(where, key), "is required");
  return *std::move(value);
}

bool optional_bool(const YAML::Node& map, const char* key,
                   const std::string& where) {
  const YAML::Node node = map[key];
  if (is_absent(node)) return false;
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    fail(field(where, key), "must be true or false");
  }
  return value;
}

// nullopt when absent; an error when present but empty, because an empty
// list in a rule matches nothing and is almost certainly a mistake.
std::optional<std::vector<YAML::Node>> optional_list(const YAML::Node& map,
                                                     const char* key,
                                                     const std::string& where) {
  const YAML::Node node = map[key];
  if (is_absent(node)) return std::nullopt;
  if (!node.IsSequence()) fail(field(where, key), "must be a list");
  if (node.size() == 0) fail(field(where, key), "must not be empty");
  std::vector<YAML::Node> out;
  out.reserve(node.size());
  for (const YAML::Node& element : node) out.push_back(element);
  return out;
}

std::map<std::string, std::string> string_map(const YAML::Node& node,
                                              const std::string& where) {
  require_map(node, where);
  std::map<std::string, std::string> out;
  for (const auto& kv : node) {
    const std::string key = as_string(kv.first, where);
    if (key.empty()) fail(where, "keys must not be empty");
    if (is_absent(kv.second)) fail(field(where, key), "must be a string");
    if (!out.emplace(key, as_string(kv.second, field(where, key))).second) {
      fail(field(where, key), "duplicate key");
    }
  }
  return out;
}

glob parse_glob(const YAML::Node& node, const std::string& where) {
  auto g = glob::parse(as_string(node, where));
  if (!g) fail(where, g.error().message);
  return *std::move(g);
}

std::string describe_yaml_error(const YAML::Exception& e) {
  if (e.mark.is_null()) return e.msg;
  return "line " + std::to_string(e.mark.line + 1) + ", column " +
         std::to_string(e.mark.column + 1) + ": " + e.msg;
}

// ---------------------------------------------------------------- targets

bool is_https_url(const std::string& server) {
  const auto url = boost::urls::parse_absolute_uri(server);
  return url && url->scheme_id() == boost::urls::scheme::https &&
         !url->host().empty() && !url->has_query() && !url->has_fragment();
}

credential_source parse_credentials(const YAML::Node& node,
                                    const std::string& where) {
  require_map(node, where);
  check_fields(node, where,
               {"local", "token", "clientCertificate", "kubeconfig"});
  if (node.size() != 1) {
    fail(where,
         "must set exactly one of local, token, clientCertificate, "
         "kubeconfig");
  }
  const auto kv = *node.begin();
  const std::string kind = kv.first.Scalar();
  const YAML::Node& body = kv.second;
  const std::string at = field(where, kind);
  if (kind == "local") {
    // `local:` with nothing after it is as clear as `local: {}`.
    if (!body.IsNull()) {
      require_map(body, at);
      check_fields(body, at, {});
    }
    return local_credentials{};
  }
  require_map(body, at);
  if (kind == "token") {
    check_fields(body, at, {"file", "value"});
    token_credentials t;
    t.file = optional_string(body, "file", at).value_or("");
    t.value = optional_string(body, "value", at).value_or("");
    if (t.file.empty() == t.value.empty()) {
      fail(at, "must set exactly one of file, value");
    }
    return t;
  }
  if (kind == "clientCertificate") {
    check_fields(body, at, {"certFile", "keyFile", "certData", "keyData"});
    client_certificate_credentials c;
    c.cert_file = optional_string(body, "certFile", at).value_or("");
    c.key_file = optional_string(body, "keyFile", at).value_or("");
    c.cert_data = optional_string(body, "certData", at).value_or("");
    c.key_data = optional_string(body, "keyData", at).value_or("");
    const bool files = !c.cert_file.empty() && !c.key_file.empty() &&
                       c.cert_data.empty() && c.key_data.empty();
    const bool data = !c.cert_data.empty() && !c.key_data.empty() &&
                      c.cert_file.empty() && c.key_file.empty();
    if (!files && !data) {
      fail(at, "must set either certFile and keyFile, or certData and keyData");
    }
    return c;
  }
  check_fields(body, at, {"file", "context"});
  kubeconfig_credentials k;
  k.file = required_string(body, "file", at);
  k.context = optional_string(body, "context", at).value_or("");
  return k;
}

target_spec parse_target(const YAML::Node& node, const std::string& where) {
  require_map(node, where);
  target_spec t;
  t.name = required_string(node, "name", where);
  // Named from here on: "targets[1] ("east")" is what the user looks for.
  const std::string at = where + " (" + quote(t.name) + ")";
  check_fields(node, at,
               {"name", "server", "caFile", "caData", "tlsServerName",
                "insecureSkipTLSVerify", "credentials", "impersonateUser"});
  t.server = required_string(node, "server", at);
  if (!is_https_url(t.server)) {
    fail(field(at, "server"),
         "must be an https:// URL, got " + quote(t.server));
  }
  t.ca_file = optional_string(node, "caFile", at).value_or("");
  t.ca_data = optional_string(node, "caData", at).value_or("");
  if (!t.ca_file.empty() && !t.ca_data.empty()) {
    fail(at, "caFile and caData are mutually exclusive");
  }
  t.tls_server_name = optional_string(node, "tlsServerName", at).value_or("");
  t.insecure_skip_tls_verify = optional_bool(node, "insecureSkipTLSVerify", at);
  t.impersonate_user =
      optional_string(node, "impersonateUser", at).value_or("");
  const YAML::Node creds = node["credentials"];
  if (is_absent(creds)) fail(field(at, "credentials"), "is required");
  t.credentials = parse_credentials(creds, field(at, "credentials"));
  return t;
}

// ---------------------------------------------------------------- rules

std::optional<verb> verb_from_string(std::string_view name) {
  for (const verb v :
       {verb::get, verb::list, verb::watch, verb::create, verb::update,
        verb::patch, verb::delete_, verb::deletecollection, verb::connect,
        verb::non_resource}) {
    if (name == to_string(v)) return v;
  }
  return std::nullopt;
}

resource_match parse_resource(const YAML::Node& node,
                              const std::string& where) {
  require_map(node, where);
  check_fields(node, where, {"group", "resource", "subresource"});
  resource_match r;
  // Absent group/subresource mean any; see resource_match. An explicit null
  // is treated like absence, as Kubernetes does for optional fields.
  r.group = optional_string(node, "group", where).value_or("*");
  r.resource = required_string(node, "resource", where);
  r.subresource = optional_string(node, "subresource", where).value_or("*");
  return r;
}

label_requirement parse_requirement(const YAML::Node& node,
                                    const std::string& where) {
  require_map(node, where);
  check_fields(node, where, {"key", "operator", "values"});
  label_requirement req;
  req.key = required_string(node, "key", where);
  const std::string op = required_string(node, "operator", where);
  if (op == "In") {
    req.operator_ = label_requirement::op::in;
  } else if (op == "NotIn") {
    req.operator_ = label_requirement::op::not_in;
  } else if (op == "Exists") {
    req.operator_ = label_requirement::op::exists;
  } else if (op == "DoesNotExist") {
    req.operator_ = label_requirement::op::does_not_exist;
  } else {
    fail(field(where, "operator"),
         "must be In, NotIn, Exists or DoesNotExist, got " + quote(op));
  }
  const YAML::Node values = node["values"];
  const bool has_values = !is_absent(values) && values.size() > 0;
  if (!is_absent(values) && !values.IsSequence()) {
    fail(field(where, "values"), "must be a list");
  }
  const bool wants_values = req.operator_ == label_requirement::op::in ||
                            req.operator_ == label_requirement::op::not_in;
  if (wants_values && !has_values) {
    fail(field(where, "values"), "must not be empty for operator " + op);
  }
  if (!wants_values && has_values) {
    fail(field(where, "values"), "must be empty for operator " + op);
  }
  if (has_values) {
    std::size_t i = 0;
    for (const YAML::Node& v : values) {
      req.values.push_back(as_string(v, item(field(where, "values"), i++)));
    }
  }
  return req;
}

std::optional<label_selector> parse_selector(const YAML::Node& node,
                                             const std::string& where) {
  require_map(node, where);
  check_fields(node, where, {"matchLabels", "matchExpressions"});
  label_selector s;
  const YAML::Node labels = node["matchLabels"];
  if (!is_absent(labels)) {
    s.match_labels = string_map(labels, field(where, "matchLabels"));
  }
  const YAML::Node exprs = node["matchExpressions"];
  if (!is_absent(exprs)) {
    const std::string at = field(where, "matchExpressions");
    if (!exprs.IsSequence()) fail(at, "must be a list");
    std::size_t i = 0;
    for (const YAML::Node& e : exprs) {
      s.match_expressions.push_back(parse_requirement(e, item(at, i++)));
    }
  }
  // An empty selector matches everything, so it is no condition at all and
  // must not make the rule wait for labels it does not look at.
  if (s.match_labels.empty() && s.match_expressions.empty()) {
    return std::nullopt;
  }
  return s;
}

rule_match parse_match(const YAML::Node& node, const std::string& where) {
  rule_match m;
  if (is_absent(node)) return m;  // a catch-all rule
  require_map(node, where);
  check_fields(node, where,
               {"verbs", "resources", "namespaces", "names", "labelSelector",
                "annotations", "userAgent"});
  if (auto verbs = optional_list(node, "verbs", where)) {
    const std::string at = field(where, "verbs");
    std::vector<verb> out;
    bool any = false;
    for (std::size_t i = 0; i < verbs->size(); ++i) {
      const std::string name = as_string((*verbs)[i], item(at, i));
      if (name == "*") {
        any = true;
        continue;
      }
      const auto v = verb_from_string(name);
      if (!v) fail(item(at, i), "unknown verb " + quote(name));
      out.push_back(*v);
    }
    if (!any) m.verbs = std::move(out);
  }
  if (auto resources = optional_list(node, "resources", where)) {
    const std::string at = field(where, "resources");
    m.resources.emplace();
    for (std::size_t i = 0; i < resources->size(); ++i) {
      m.resources->push_back(parse_resource((*resources)[i], item(at, i)));
    }
  }
  for (const auto& [key, out] :
       {std::pair{"namespaces", &m.namespaces}, std::pair{"names", &m.names}}) {
    if (auto globs = optional_list(node, key, where)) {
      const std::string at = field(where, key);
      out->emplace();
      for (std::size_t i = 0; i < globs->size(); ++i) {
        (*out)->push_back(parse_glob((*globs)[i], item(at, i)));
      }
    }
  }
  const YAML::Node selector = node["labelSelector"];
  if (!is_absent(selector)) {
    m.labels = parse_selector(selector, field(where, "labelSelector"));
  }
  const YAML::Node annotations = node["annotations"];
  if (!is_absent(annotations)) {
    auto a = string_map(annotations, field(where, "annotations"));
    if (!a.empty()) m.annotations = std::move(a);
  }
  const YAML::Node user_agent = node["userAgent"];
  if (!is_absent(user_agent)) {
    m.user_agent = parse_glob(user_agent, field(where, "userAgent"));
  }
  return m;
}

reject_action parse_reject(const YAML::Node& node, const std::string& where) {
  reject_action r;
  if (is_absent(node)) return r;  // `reject: {}` refuses with a plain 403
  require_map(node, where);
  check_fields(node, where, {"code", "message"});
  if (auto code = optional_string(node, "code", where)) {
    int value = 0;
    const char* end = code->data() + code->size();
    const auto [ptr, ec] = std::from_chars(code->data(), end, value);
    if (ec != std::errc() || ptr != end || value < 400 || value > 599) {
      fail(field(where, "code"),
           "must be an HTTP status from 400 to 599, got " + quote(*code));
    }
    r.code = value;
  }
  r.message = optional_string(node, "message", where).value_or("");
  return r;
}

rule parse_rule(const YAML::Node& node, std::size_t index,
                const std::set<std::string>& target_names) {
  std::string where = item("rules", index);
  require_map(node, where);
  rule r;
  r.name = optional_string(node, "name", where).value_or("");
  if (!r.name.empty()) where += " (" + quote(r.name) + ")";
  check_fields(node, where,
               {"name", "match", "target", "targets", "partial", "writeTarget",
                "reject"});
  r.match = parse_match(node["match"], field(where, "match"));
  const YAML::Node target = node["target"];
  const YAML::Node targets = node["targets"];
  const YAML::Node reject = node["reject"];
  // `reject:` alone (null) still says "reject", so test definedness here.
  const bool has_target = !is_absent(target);
  const bool has_targets = targets.IsDefined();
  const bool has_reject = reject.IsDefined();
  if (int{has_target} + int{has_targets} + int{has_reject} != 1) {
    fail(where, "must set exactly one of target, targets, reject");
  }
  if (!has_targets) {
    if (node["partial"].IsDefined()) {
      fail(field(where, "partial"), "is only allowed with targets");
    }
    if (node["writeTarget"].IsDefined()) {
      fail(field(where, "writeTarget"), "is only allowed with targets");
    }
  }
  const auto known = [&](const std::string& name, const std::string& at) {
    if (!target_names.contains(name)) {
      fail(at, "unknown target " + quote(name));
    }
  };
  if (has_target) {
    r.target = as_string(target, field(where, "target"));
    known(r.target, field(where, "target"));
  } else if (has_targets) {
    const std::string at = field(where, "targets");
    if (!targets.IsSequence()) fail(at, "must be a list");
    fan_out_action f;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const std::string each = item(at, i);
      std::string name = as_string(targets[i], each);
      known(name, each);
      if (std::find(f.targets.begin(), f.targets.end(), name) !=
          f.targets.end()) {
        fail(each, "names " + quote(name) + " twice");
      }
      f.targets.push_back(std::move(name));
    }
    if (f.targets.size() < 2) {
      fail(at, "must name two or more targets (use target for one)");
    }
    if (auto partial = optional_string(node, "partial", where)) {
      if (*partial == "allow") {
        f.allow_partial = true;
      } else if (*partial != "deny") {
        fail(field(where, "partial"), "must be deny or allow");
      }
    }
    if (auto write = optional_string(node, "writeTarget", where)) {
      known(*write, field(where, "writeTarget"));
      // Elsewhere, what the app creates would be missing from what it lists.
      if (std::find(f.targets.begin(), f.targets.end(), *write) ==
          f.targets.end()) {
        fail(field(where, "writeTarget"), "must be one of targets (" +
                                              join(f.targets, ", ") +
                                              "), got " + quote(*write));
      }
      f.write_target = std::move(*write);
    }
    r.fan_out = std::move(f);
  } else {
    r.reject = parse_reject(reject, field(where, "reject"));
  }
  return r;
}

// ---------------------------------------------------------------- version

nlohmann::json canonical(const credential_source& c) {
  return std::visit(
      [](const auto& v) -> nlohmann::json {
        using type = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<type, local_credentials>) {
          return {{"local", nlohmann::json::object()}};
        } else if constexpr (std::is_same_v<type, token_credentials>) {
          return {{"token", {{"file", v.file}, {"value", v.value}}}};
        } else if constexpr (std::is_same_v<type,
                                            client_certificate_credentials>) {
          return {{"clientCertificate",
                   {{"certFile", v.cert_file},
                    {"keyFile", v.key_file},
                    {"certData", v.cert_data},
                    {"keyData", v.key_data}}}};
        } else {
          return {{"kubeconfig", {{"file", v.file}, {"context", v.context}}}};
        }
      },
      c);
}

template <class T, class F>
nlohmann::json optional_list_json(const std::optional<std::vector<T>>& list,
                                  F each) {
  if (!list) return nullptr;
  nlohmann::json out = nlohmann::json::array();
  for (const T& element : *list) out.push_back(each(element));
  return out;
}

// The compiled table as JSON, every field present and objects' keys sorted
// (nlohmann::json's default), so the dump depends on content only.
nlohmann::json canonical(const routing_table& t) {
  nlohmann::json targets = nlohmann::json::array();
  for (const target_spec& s : t.targets) {
    targets.push_back({{"name", s.name},
                       {"server", s.server},
                       {"caFile", s.ca_file},
                       {"caData", s.ca_data},
                       {"tlsServerName", s.tls_server_name},
                       {"insecureSkipTLSVerify", s.insecure_skip_tls_verify},
                       {"credentials", canonical(s.credentials)},
                       {"impersonateUser", s.impersonate_user}});
  }
  const auto pattern = [](const glob& g) { return g.pattern(); };
  nlohmann::json rules = nlohmann::json::array();
  for (const rule& r : t.rules) {
    const rule_match& m = r.match;
    nlohmann::json match;
    match["verbs"] = optional_list_json(
        m.verbs, [](verb v) { return std::string(to_string(v)); });
    match["resources"] =
        optional_list_json(m.resources, [](const resource_match& x) {
          return nlohmann::json{{"group", x.group},
                                {"resource", x.resource},
                                {"subresource", x.subresource}};
        });
    match["namespaces"] = optional_list_json(m.namespaces, pattern);
    match["names"] = optional_list_json(m.names, pattern);
    match["labelSelector"] = nullptr;
    if (m.labels) {
      nlohmann::json exprs = nlohmann::json::array();
      for (const label_requirement& e : m.labels->match_expressions) {
        exprs.push_back({{"key", e.key},
                         {"operator", static_cast<int>(e.operator_)},
                         {"values", e.values}});
      }
      match["labelSelector"] = {{"matchLabels", m.labels->match_labels},
                                {"matchExpressions", exprs}};
    }
    match["annotations"] = nullptr;
    if (m.annotations) match["annotations"] = *m.annotations;
    match["userAgent"] = nullptr;
    if (m.user_agent) match["userAgent"] = m.user_agent->pattern();
    nlohmann::json j{{"name", r.name}, {"match", match}, {"target", r.target}};
    // Only when set, so tables without fan-out keep the versions they had.
    if (r.fan_out) {
      j["fanOut"] = {{"targets", r.fan_out->targets},
                     {"allowPartial", r.fan_out->allow_partial},
                     {"writeTarget", nullptr}};
      if (r.fan_out->write_target) {
        j["fanOut"]["writeTarget"] = *r.fan_out->write_target;
      }
    }
    j["reject"] = nullptr;
    if (r.reject) {
      j["reject"] = {{"code", r.reject->code}, {"message", r.reject->message}};
    }
    rules.push_back(std::move(j));
  }
  nlohmann::json out{{"policy", t.policy},
                     {"targets", targets},
                     {"rules", rules},
                     {"defaultTarget", nullptr}};
  if (t.default_target) out["defaultTarget"] = *t.default_target;
  return out;
}

std::string content_version(const routing_table& t) {
  const std::string text = canonical(t).dump();
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(),
                 nullptr) != 1) {
    throw invalid{"cannot compute the table's version: SHA-256 failed"};
  }
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 8 && i < size; ++i) {
    out += hex[digest[i] >> 4U];
    out += hex[digest[i] & 0xfU];
  }
  return out;
}

// ---------------------------------------------------------------- files

// POSIX rather than iostreams, so the error can say *why* a file could not
// be read ("permission denied" vs "no such file").
mca::result<std::string> read_whole_file(const std::filesystem::path& path) {
  const auto failed = [&](int err) {
    return error::of(error_source::config,
                     "routing table " + path.string() + ": cannot read: " +
                         std::generic_category().message(err));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(errno);
  std::string out;
  std::array<char, 8192> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return failed(err);
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- glob

mca::result<glob> glob::parse(std::string_view pattern) {
  if (pattern.empty()) {
    return error::of(error_source::config, "pattern must not be empty");
  }
  return glob(std::string(pattern));
}

// Iterative matching with one backtrack point (the last `*`): linear in
// practice and never recursive, whatever the pattern.
bool glob::matches(std::string_view text) const noexcept {
  const std::string_view p = pattern_;
  std::size_t pi = 0;
  std::size_t ti = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (ti < text.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      resume = ti;
    } else if (pi < p.size() && (p[pi] == '?' || p[pi] == text[ti])) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

// ---------------------------------------------------------------- selector

bool label_selector::matches(
    const std::map<std::string, std::string>& labels) const {
  for (const auto& [key, value] : match_labels) {
    const auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  for (const label_requirement& req : match_expressions) {
    const auto it = labels.find(req.key);
    const bool present = it != labels.end();
    const bool listed =
        present && std::find(req.values.begin(), req.values.end(),
                             it->second) != req.values.end();
    switch (req.operator_) {
      case label_requirement::op::in:
        if (!listed) return false;
        break;
      case label_requirement::op::not_in:
        if (listed) return false;
        break;
      case label_requirement::op::exists:
        if (!present) return false;
        break;
      case label_requirement::op::does_not_exist:
        if (present) return false;
        break;
    }
  }
  return true;
}

std::string rule::display_name(std::size_t index) const {
  if (!name.empty()) return name;
  return "rules[" + std::to_string(index) + "]";
}

const target_spec* routing_table::find_target(
    std::string_view target_name) const noexcept {
  for (const target_spec& t : targets) {
    if (t.name == target_name) return &t;
  }
  return nullptr;
}

// ---------------------------------------------------------------- loading

mca::result<routing_table> routing_table::parse(std::string_view text,
                                                std::string_view origin) {
  const std::string prefix = std::string(origin) + ": ";
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return error::of(error_source::config, prefix + describe_yaml_error(e));
  }
  try {
    if (is_absent(root)) throw invalid{"is empty"};
    if (!root.IsMap()) throw invalid{"must be a mapping"};
    check_fields(root, "",
                 {"apiVersion", "kind", "version", "policy", "targets",
                  "defaultTarget", "rules"});
    const std::string api = required_string(root, "apiVersion", "");
    if (api != api_version) {
      fail("apiVersion",
           "must be " + std::string(api_version) + ", got " + quote(api));
    }
    const std::string kind = required_string(root, "kind", "");
    if (kind != kind_name) {
      fail("kind",
           "must be " + std::string(kind_name) + ", got " + quote(kind));
    }
    routing_table t;
    t.policy = required_string(root, "policy", "");

    const YAML::Node targets = root["targets"];
    if (is_absent(targets)) fail("targets", "is required");
    if (!targets.IsSequence()) fail("targets", "must be a list");
    std::set<std::string> target_names;
    std::size_t i = 0;
    for (const YAML::Node& node : targets) {
      const std::string where = item("targets", i++);
      t.targets.push_back(parse_target(node, where));
      if (!target_names.insert(t.targets.back().name).second) {
        fail(field(where, "name"),
             "duplicate target " + quote(t.targets.back().name));
      }
    }
    if (t.targets.empty()) fail("targets", "must not be empty");

    t.default_target = optional_string(root, "defaultTarget", "");
    if (t.default_target && !target_names.contains(*t.default_target)) {
      fail("defaultTarget", "unknown target " + quote(*t.default_target));
    }

    const YAML::Node rules = root["rules"];
    if (!is_absent(rules)) {
      if (!rules.IsSequence()) fail("rules", "must be a list");
      std::set<std::string> rule_names;
      i = 0;
      for (const YAML::Node& node : rules) {
        t.rules.push_back(parse_rule(node, i, target_names));
        const std::string& name = t.rules.back().name;
        if (!name.empty() && !rule_names.insert(name).second) {
          fail(item("rules", i) + " (" + quote(name) + ").name",
               "duplicate rule name");
        }
        ++i;
      }
    }

    auto version = optional_string(root, "version", "");
    if (version && version->empty()) fail("version", "must not be empty");
    t.version = version ? *std::move(version) : content_version(t);
    return t;
  } catch (const invalid& e) {
    return error::of(error_source::config, prefix + e.message);
  } catch (const YAML::Exception& e) {
    // Accessors throw on shapes we did not expect; still a config error.
    return error::of(error_source::config, prefix + describe_yaml_error(e));
  }
}

mca::result<routing_table> load_routing_table_file(
    const std::filesystem::path& path) {
  auto text = read_whole_file(path);
  if (!text) return text.error();
  return routing_table::parse(*text, "routing table " + path.string());
}

}  // namespace mca::routing
