#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/core/error.hpp"
#include "common/routing/request_classifier.hpp"

namespace mca::routing {

// A shell-style pattern: `*` matches any run of characters (also none), `?`
// exactly one; everything else matches itself. There is no escaping because
// Kubernetes names, namespaces and user agents never need a literal `*`.
class glob {
 public:
  // Fails for an empty pattern: it could only match the empty string, which
  // is never what a rule author meant.
  static mca::result<glob> parse(std::string_view pattern);

  bool matches(std::string_view text) const noexcept;
  const std::string& pattern() const noexcept { return pattern_; }

  bool operator==(const glob&) const = default;

 private:
  explicit glob(std::string pattern) : pattern_(std::move(pattern)) {}
  std::string pattern_;
};

// One `matchExpressions` entry, with Kubernetes label-selector semantics.
struct label_requirement {
  enum class op { in, not_in, exists, does_not_exist };
  std::string key;
  op operator_ = op::exists;
  std::vector<std::string> values;  // empty for exists / does_not_exist

  bool operator==(const label_requirement&) const = default;
};

struct label_selector {
  std::map<std::string, std::string> match_labels;
  std::vector<label_requirement> match_expressions;

  // As the API server evaluates it: every requirement holds. NotIn and
  // DoesNotExist hold for a missing key.
  bool matches(const std::map<std::string, std::string>& labels) const;

  bool operator==(const label_selector&) const = default;
};

// `{group, resource, subresource}`; "*" in a field matches any value. An
// absent `group` or `subresource` in the file is "*": a rule for pods then
// also covers pods/log and pods/exec, which must reach the same cluster as
// the pod. Write `subresource: ""` to match the main resource only.
struct resource_match {
  std::string group;
  std::string resource;
  std::string subresource;

  bool operator==(const resource_match&) const = default;
};

// Every condition is optional; nullopt means "any". Lists are never empty
// (the loader refuses that as a likely mistake).
struct rule_match {
  std::optional<std::vector<verb>> verbs;
  std::optional<std::vector<resource_match>> resources;
  std::optional<std::vector<glob>> namespaces;
  std::optional<std::vector<glob>> names;
  std::optional<label_selector> labels;  // an empty selector is nullopt
  std::optional<std::map<std::string, std::string>> annotations;  // exact
  std::optional<glob> user_agent;

  // Whether evaluating this needs the object's labels or annotations.
  bool needs_object_metadata() const noexcept {
    return labels.has_value() || annotations.has_value();
  }

  bool operator==(const rule_match&) const = default;
};

struct reject_action {
  int code = 403;  // 400..599
  std::string message;

  bool operator==(const reject_action&) const = default;
};

// `targets: [a, b, ...]`: reads of collections span every target and are
// merged (ARCHITECTURE §3.5); an object named in a request lives in one of
// them. Creates have no object to find, so they go to `write_target` or
// are refused.
struct fan_out_action {
  std::vector<std::string> targets;  // two or more, unique, known
  // A target failing a merged read: fail the whole read (deny), or answer
  // with the others and say which are missing (allow).
  bool allow_partial = false;
  std::optional<std::string> write_target;  // a known target

  bool operator==(const fan_out_action&) const = default;
};

struct rule {
  std::string name;  // may be empty; see display_name()
  rule_match match;
  // Exactly one of the three actions is set.
  std::string target;
  std::optional<fan_out_action> fan_out;
  std::optional<reject_action> reject;

  // `name`, or `rules[<index>]` for an unnamed rule, so that decisions and
  // messages can always point at the rule.
  std::string display_name(std::size_t index) const;

  bool operator==(const rule&) const = default;
};

// How the sidecar authenticates to one target. Paths are kept, not read:
// token files rotate and are re-read by whoever builds the client.
struct local_credentials {  // the pod's own service-account token
  bool operator==(const local_credentials&) const = default;
};
struct token_credentials {  // exactly one of file / value
  std::string file;
  std::string value;
  bool operator==(const token_credentials&) const = default;
};
// Exactly one of the files or the data pair: a standalone table names files,
// a table the operator streams carries the PEM itself (the pod has no file).
struct client_certificate_credentials {
  std::string cert_file;
  std::string key_file;
  std::string cert_data;
  std::string key_data;
  bool operator==(const client_certificate_credentials&) const = default;
};
struct kubeconfig_credentials {
  std::string file;
  std::string context;  // empty: the kubeconfig's current-context
  bool operator==(const kubeconfig_credentials&) const = default;
};
using credential_source =
    std::variant<local_credentials, token_credentials,
                 client_certificate_credentials, kubeconfig_credentials>;

struct target_spec {
  std::string name;
  std::string server;   // https://host[:port][/prefix]
  std::string ca_file;  // at most one of ca_file / ca_data;
  std::string ca_data;  // neither: the system trust store
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  credential_source credentials;
  // Sent as Impersonate-User on every request to this target (after the
  // app's own Impersonate-* headers are stripped), so the target's RBAC
  // decides per workload. Empty: no impersonation.
  std::string impersonate_user;

  bool operator==(const target_spec&) const = default;
};

// A validated, immutable routing table. Only parse() and
// load_routing_table_file() make one, so every table in the program has
// passed validation: every rule names a known target, exactly one action per
// rule, valid globs and selectors.
struct routing_table {
  // From the file's `version`, else the first 16 hex digits of the SHA-256
  // of a canonical JSON form of everything below: equal tables get equal
  // versions whatever their key order, quoting or format.
  std::string version;
  std::string policy;  // named in 403 messages
  std::vector<target_spec> targets;
  std::optional<std::string> default_target;
  std::vector<rule> rules;

  const target_spec* find_target(std::string_view name) const noexcept;

  // Parses YAML or JSON (a YAML parser reads both). Fails with
  // error_source::config and a message "<origin>: <where>: <what>", where
  // <where> names the rule or target (by name and index) and the field, for
  // anything not in the schema, including unknown fields.
  static mca::result<routing_table> parse(
      std::string_view text, std::string_view origin = "routing table");

  bool operator==(const routing_table&) const = default;

 private:
  routing_table() = default;
};

// Reads and parses a file; errors name the path.
mca::result<routing_table> load_routing_table_file(
    const std::filesystem::path& path);

}  // namespace mca::routing
