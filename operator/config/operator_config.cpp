#include "operator/config/operator_config.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <limits>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/cli/standard_options.hpp"
#include "common/util/strings.hpp"
#include "common/util/text_file.hpp"
#include "common/util/yaml_json.hpp"
#include "common/version/build_info.hpp"
#include "operator/model/json_fields.hpp"

namespace mca::op {

namespace {

using json = nlohmann::json;

std::string path(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

std::string item(const std::string& where, std::size_t index) {
  return where + "[" + std::to_string(index) + "]";
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw field_error{where + ": " + what};
}

void only_fields(const json& object, const std::string& where,
                 std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::vector<std::string> names(known.begin(), known.end());
    fail(path(where, key), "unknown field (known: " + join(names, ", ") + ")");
  }
}

// A map-valued field, or nullptr when absent or null (all defaults).
const json* section(const json& object, std::string_view key,
                    const std::string& where) {
  const json* value = find(object, key);
  if (value != nullptr && !value->is_object()) {
    fail(path(where, key), "must be a map");
  }
  return value;
}

bool is_dns_label(std::string_view s, bool must_start_with_letter) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  if (s.front() == '-' || s.back() == '-') return false;
  return !must_start_with_letter || (s.front() >= 'a' && s.front() <= 'z');
}

bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    const auto label =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos
                                                      : dot - start);
    if (!is_dns_label(label, false)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// A certificate's DNS SAN: a subdomain, possibly with a leading "*." label.
bool is_san_dns_name(std::string_view s) {
  if (s.starts_with("*.")) s.remove_prefix(2);
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return is_dns_subdomain(lower);
}

bool is_ip_literal(const std::string& s) {
  in6_addr buffer{};
  return inet_pton(AF_INET, s.c_str(), &buffer) == 1 ||
         inet_pton(AF_INET6, s.c_str(), &buffer) == 1;
}

// A resource.Quantity as Kubernetes writes one: digits with an optional
// fraction, then a binary (Ki..Ei) or decimal (n..E) suffix or an exponent.
bool is_quantity(std::string_view s) {
  std::size_t i = 0, digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  const std::string_view suffix = s.substr(i);
  static constexpr std::array<std::string_view, 16> suffixes{
      "",  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n",
      "u", "m",  "k",  "M",  "G",  "T",  "P",  "E"};
  if (std::find(suffixes.begin(), suffixes.end(), suffix) != suffixes.end()) {
    return true;
  }
  if (suffix.front() != 'e' && suffix.front() != 'E') return false;
  std::string_view exponent = suffix.substr(1);
  if (!exponent.empty() && (exponent.front() == '+' || exponent.front() == '-'))
    exponent.remove_prefix(1);
  return !exponent.empty() &&
         exponent.find_first_not_of("0123456789") == std::string_view::npos;
}

json parse_resources(const json& value, const std::string& where) {
  if (!value.is_object()) fail(where, "must be a map");
  only_fields(value, where, {"requests", "limits"});
  json out = json::object();
  for (const auto& [kind, quantities] : value.items()) {
    const std::string here = path(where, kind);
    if (quantities.is_null()) continue;
    if (!quantities.is_object()) fail(here, "must be a map");
    json& group = out[kind] = json::object();
    for (const auto& [name, quantity] : quantities.items()) {
      // `cpu: 1` is an integer in YAML; the API server takes it too.
      std::string text;
      if (quantity.is_string()) {
        text = quantity.get<std::string>();
      } else if (quantity.is_number()) {
        text = quantity.dump();
      } else {
        fail(path(here, name),
             "must be a quantity such as \"20m\" or \"32Mi\"");
      }
      if (!is_quantity(text)) {
        fail(path(here, name),
             "must be a quantity such as \"20m\" or \"32Mi\", got " +
                 quote(text));
      }
      group[name] = text;
    }
  }
  return out;
}

std::string string_field(const json& object, std::string_view key,
                         const std::string& where, std::string current) {
  auto value = string_at(object, key, where);
  return value ? *std::move(value) : std::move(current);
}

std::string name_field(const json& object, std::string_view key,
                       const std::string& where, std::string current) {
  std::string value = string_field(object, key, where, std::move(current));
  if (!is_dns_subdomain(value)) {
    fail(path(where, key),
         "must be a Kubernetes object name (lowercase letters, digits, '-' "
         "and '.'), got " +
             quote(value));
  }
  return value;
}

std::string one_of(const json& object, std::string_view key,
                   const std::string& where, std::string current,
                   const std::vector<std::string>& allowed) {
  std::string value = string_field(object, key, where, std::move(current));
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    fail(path(where, key),
         "must be one of " + join(allowed, ", ") + ", got " + quote(value));
  }
  return value;
}

std::int64_t integer_in(const json& object, std::string_view key,
                        const std::string& where, std::int64_t current,
                        std::int64_t min, std::int64_t max) {
  const auto value = integer_at(object, key, where).value_or(current);
  if (value < min || value > max) {
    fail(path(where, key), "must be between " + std::to_string(min) + " and " +
                               std::to_string(max) + ", got " +
                               std::to_string(value));
  }
  return value;
}

std::vector<std::string> list_field(const json& object, std::string_view key,
                                    const std::string& where,
                                    std::vector<std::string> current) {
  if (find(object, key) == nullptr) return current;
  return string_list_at(object, key, where);
}

// Go's time.ParseDuration, in whole nanoseconds; nullopt for bad syntax or
// a value beyond what Go can represent (about 292 years).
std::optional<std::int64_t> parse_go_duration(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  struct unit {
    std::string_view name;
    std::int64_t nanoseconds;
  };
  // Longer names first so "ms" is not read as "m" followed by "s".
  static constexpr std::array<unit, 8> units{{{"ns", 1},
                                              {"us", 1000},
                                              {"\xc2\xb5s", 1000},
                                              {"\xce\xbcs", 1000},
                                              {"ms", 1000000},
                                              {"s", 1000000000},
                                              {"m", 60LL * 1000000000},
                                              {"h", 3600LL * 1000000000}}};
  constexpr std::uint64_t max = std::numeric_limits<std::int64_t>::max();
  std::uint64_t total = 0;
  while (!s.empty()) {
    std::uint64_t whole = 0, fraction = 0, scale = 1;
    std::size_t digits = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      const auto digit = static_cast<std::uint64_t>(s.front() - '0');
      if (whole > (max - digit) / 10) return std::nullopt;
      whole = whole * 10 + digit;
      s.remove_prefix(1);
      ++digits;
    }
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
      while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
        // Digits beyond nanosecond precision cannot change the result.
        if (scale < 1000000000000000000ULL) {
          fraction =
              fraction * 10 + static_cast<std::uint64_t>(s.front() - '0');
          scale *= 10;
        }
        s.remove_prefix(1);
        ++digits;
      }
    }
    if (digits == 0) return std::nullopt;
    const unit* found = nullptr;
    for (const auto& u : units) {
      if (s.starts_with(u.name)) {
        found = &u;
        break;
      }
    }
    if (found == nullptr) return std::nullopt;  // Go wants a unit on each
    s.remove_prefix(found->name.size());
    const auto per = static_cast<std::uint64_t>(found->nanoseconds);
    if (whole > max / per) return std::nullopt;
    // As Go does, the fraction is scaled in floating point and truncated.
    const auto part = static_cast<std::uint64_t>(
        static_cast<long double>(fraction) * static_cast<long double>(per) /
        static_cast<long double>(scale));
    const std::uint64_t term = whole * per + part;
    if (term > max || total > max - term) return std::nullopt;
    total += term;
  }
  const auto value = static_cast<std::int64_t>(total);
  return negative ? -value : value;
}

std::chrono::seconds duration_field(const json& object, std::string_view key,
                                    const std::string& where,
                                    std::chrono::seconds current) {
  const json* value = find(object, key);
  if (value == nullptr) return current;
  const std::string here = path(where, key);
  if (!value->is_string()) {
    fail(here,
         "must be a duration string such as \"90s\", \"30m\" or "
         "\"1h30m\"");
  }
  const auto& text = value->get_ref<const std::string&>();
  const auto nanoseconds = parse_go_duration(text);
  if (!nanoseconds) {
    fail(here,
         "must be a duration such as \"90s\", \"30m\" or \"1h30m\", got " +
             quote(text));
  }
  if (*nanoseconds <= 0) fail(here, "must be positive, got " + quote(text));
  if (*nanoseconds % 1000000000 != 0) {
    fail(here, "must be a whole number of seconds, got " + quote(text));
  }
  return std::chrono::seconds(*nanoseconds / 1000000000);
}

std::string describe(std::chrono::seconds d) {
  const auto s = d.count();
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

void parse_injection(const json& object, injection_config& c) {
  const std::string where = "injection";
  only_fields(object, where,
              {"image", "imagePullPolicy", "resources", "operatorAddress",
               "adminPort", "failureMode", "tokenExpirationSeconds",
               "extraArgs", "excludedNamespaces"});
  c.image = string_field(object, "image", where, c.image);
  if (c.image.empty() || c.image.find_first_of(" \t\r\n") != std::string::npos)
    fail(path(where, "image"),
         "must be an image reference, got " + quote(c.image));
  c.image_pull_policy =
      one_of(object, "imagePullPolicy", where, c.image_pull_policy,
             {"Always", "IfNotPresent", "Never"});
  if (const json* resources = find(object, "resources")) {
    c.resources = parse_resources(*resources, path(where, "resources"));
  }
  c.operator_address =
      string_field(object, "operatorAddress", where, c.operator_address);
  if (!c.operator_address.empty()) {
    std::string host;
    unsigned short port = 0;
    if (c.operator_address.front() == ':' ||
        !cli::split_host_port(c.operator_address, host, port) || port == 0) {
      fail(path(where, "operatorAddress"),
           "must be HOST:PORT, got " + quote(c.operator_address));
    }
  }
  c.admin_port = static_cast<std::uint16_t>(
      integer_in(object, "adminPort", where, c.admin_port, 1, 65535));
  // The sidecar serves the API to the pod on 6443; the admin server would
  // collide with it.
  if (c.admin_port == 6443) {
    fail(path(where, "adminPort"),
         "must not be 6443, the port the sidecar serves the API on");
  }
  const std::string mode =
      one_of(object, "failureMode", where, to_string(c.failure_mode),
             {"FailClosed", "LocalPassthrough"});
  c.failure_mode = mode == "FailClosed"
                       ? sidecar_failure_mode::fail_closed
                       : sidecar_failure_mode::local_passthrough;
  c.token_expiration_seconds =
      integer_in(object, "tokenExpirationSeconds", where,
                 c.token_expiration_seconds, 600, 86400);
  c.extra_args = list_field(object, "extraArgs", where, c.extra_args);
  c.excluded_namespaces =
      list_field(object, "excludedNamespaces", where, c.excluded_namespaces);
  for (std::size_t i = 0; i < c.excluded_namespaces.size(); ++i) {
    if (!is_dns_label(c.excluded_namespaces[i], false)) {
      fail(item(path(where, "excludedNamespaces"), i),
           "must be a namespace name, got " + quote(c.excluded_namespaces[i]));
    }
  }
}

void parse_webhook(const json& object, webhook_config& c) {
  const std::string where = "webhook";
  only_fields(object, where, {"configurationName"});
  c.configuration_name =
      name_field(object, "configurationName", where, c.configuration_name);
}

void parse_certificates(const json& object, certificates_config& c) {
  const std::string where = "certificates";
  only_fields(object, where,
              {"secretName", "serviceNames", "extraDNSNames",
               "extraIPAddresses", "caLifetime", "leafLifetime",
               "renewFraction", "caGracePeriod", "bundlePropagation"});
  c.secret_name = name_field(object, "secretName", where, c.secret_name);
  c.service_names = list_field(object, "serviceNames", where, c.service_names);
  for (std::size_t i = 0; i < c.service_names.size(); ++i) {
    if (!is_dns_label(c.service_names[i], true)) {
      fail(item(path(where, "serviceNames"), i),
           "must be a Service name (a DNS label), got " +
               quote(c.service_names[i]));
    }
  }
  c.extra_dns_names =
      list_field(object, "extraDNSNames", where, c.extra_dns_names);
  for (std::size_t i = 0; i < c.extra_dns_names.size(); ++i) {
    if (!is_san_dns_name(c.extra_dns_names[i])) {
      fail(item(path(where, "extraDNSNames"), i),
           "must be a DNS name, got " + quote(c.extra_dns_names[i]));
    }
  }
  c.extra_ip_addresses =
      list_field(object, "extraIPAddresses", where, c.extra_ip_addresses);
  for (std::size_t i = 0; i < c.extra_ip_addresses.size(); ++i) {
    if (!is_ip_literal(c.extra_ip_addresses[i])) {
      fail(item(path(where, "extraIPAddresses"), i),
           "must be an IPv4 or IPv6 address, got " +
               quote(c.extra_ip_addresses[i]));
    }
  }
  if (c.service_names.empty() && c.extra_dns_names.empty() &&
      c.extra_ip_addresses.empty()) {
    fail(where,
         "serviceNames, extraDNSNames and extraIPAddresses are all empty, so "
         "the serving certificate would name no host");
  }
  c.ca_lifetime = duration_field(object, "caLifetime", where, c.ca_lifetime);
  c.leaf_lifetime =
      duration_field(object, "leafLifetime", where, c.leaf_lifetime);
  if (const json* fraction = find(object, "renewFraction")) {
    if (!fraction->is_number()) {
      fail(path(where, "renewFraction"), "must be a number");
    }
    c.renew_fraction = fraction->get<double>();
    if (!(c.renew_fraction >= 0.1 && c.renew_fraction <= 0.95)) {
      fail(path(where, "renewFraction"),
           "must be between 0.1 and 0.95, got " + fraction->dump());
    }
  }
  c.ca_grace_period =
      duration_field(object, "caGracePeriod", where, c.ca_grace_period);
  c.bundle_propagation =
      duration_field(object, "bundlePropagation", where, c.bundle_propagation);
  if (c.leaf_lifetime > c.ca_lifetime) {
    fail(path(where, "leafLifetime"), "must not be longer than caLifetime (" +
                                          describe(c.leaf_lifetime) + " > " +
                                          describe(c.ca_lifetime) + ")");
  }
  // A new CA must reach every bundle before the old one expires, or the
  // leaf it replaces stops being trusted mid-rotation.
  const double left_on_old_ca =
      (1.0 - c.renew_fraction) * static_cast<double>(c.ca_lifetime.count());
  if (static_cast<double>(c.bundle_propagation.count()) >= left_on_old_ca) {
    fail(path(where, "bundlePropagation"),
         "must be shorter than the time the old CA has left when it is "
         "renewed ((1 - renewFraction) x caLifetime)");
  }
}

}  // namespace

const char* to_string(sidecar_failure_mode mode) noexcept {
  return mode == sidecar_failure_mode::fail_closed ? "FailClosed"
                                                   : "LocalPassthrough";
}

injection_config::injection_config()
    : image("ghcr.io/mca-dev/mca-sidecar:" +
            std::string(current_build().version)),
      resources({{"requests", {{"cpu", "20m"}, {"memory", "32Mi"}}},
                 {"limits", {{"memory", "256Mi"}}}}) {}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  const auto nanoseconds = parse_go_duration(text);
  if (!nanoseconds || *nanoseconds <= 0 || *nanoseconds % 1000000000 != 0) {
    return std::nullopt;
  }
  return std::chrono::seconds(*nanoseconds / 1000000000);
}

mca::result<operator_config> parse_operator_config(std::string_view text,
                                                   std::string_view origin) {
  auto documents = util::parse_yaml_documents(text, origin);
  if (!documents) return documents.error();
  operator_config config;
  if (documents->empty()) return config;
  const auto fail_with = [&](const std::string& message) {
    return mca::error::of(error_source::config,
                          std::string(origin) + ": " + message);
  };
  if (documents->size() > 1) {
    return fail_with("expected one document, found " +
                     std::to_string(documents->size()));
  }
  const json& root = documents->front();
  if (!root.is_object()) {
    return fail_with(
        "must be a map with injection, webhook and certificates sections");
  }
  try {
    only_fields(root, "", {"injection", "webhook", "certificates"});
    if (const json* s = section(root, "injection", "")) {
      parse_injection(*s, config.injection);
    }
    if (const json* s = section(root, "webhook", "")) {
      parse_webhook(*s, config.webhook);
    }
    if (const json* s = section(root, "certificates", "")) {
      parse_certificates(*s, config.certificates);
    }
  } catch (const field_error& e) {
    return fail_with(e.message);
  }
  return config;
}

mca::result<operator_config> load_operator_config(
    const std::filesystem::path& path) {
  auto text = util::read_text_file(path, std::size_t{1} << 20U);
  if (!text) return text.error();
  return parse_operator_config(*text, path.string());
}

std::string default_operator_address(std::string_view operator_namespace) {
  return "mca-operator." + std::string(operator_namespace) + ".svc:9443";
}

std::string resolved_operator_address(const injection_config& config,
                                      std::string_view operator_namespace) {
  return config.operator_address.empty()
             ? default_operator_address(operator_namespace)
             : config.operator_address;
}

std::vector<std::string> certificate_dns_names(
    const certificates_config& config, std::string_view operator_namespace) {
  std::vector<std::string> out;
  const auto add = [&out](std::string name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(std::move(name));
    }
  };
  const std::string ns(operator_namespace);
  for (const auto& name : config.service_names) {
    add(name);
    add(name + "." + ns);
    add(name + "." + ns + ".svc");
    add(name + "." + ns + ".svc.cluster.local");
  }
  for (const auto& name : config.extra_dns_names) add(name);
  return out;
}

}  // namespace mca::op
