// Exec credential plugins (client.authentication.k8s.io): running the
// plugin, parsing the ExecCredential it prints, and caching it until expiry.
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/system/errc.hpp>
#include <nlohmann/json.hpp>

#include "common/kube/credentials.hpp"
#include "common/process/run_process.hpp"

namespace mca::kube {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view exec_credential_kind = "ExecCredential";
constexpr auto plugin_timeout = 30s;
constexpr std::size_t plugin_output_limit = std::size_t{1024} * 1024;
// A credential this close to expiry is refreshed rather than sent: the
// request could still be in flight when it lapses.
constexpr auto expiry_margin = 10s;
constexpr std::size_t stderr_line_limit = 200;
constexpr std::size_t value_excerpt_limit = 100;

error config_error(const std::string& command, std::string what) {
  return error::of(error_source::config,
                   "exec plugin " + command + ": " + std::move(what));
}

// Values echoed into messages (never secrets: apiVersion, kind, timestamps,
// stderr) are bounded and stripped of control characters; the cut backs off
// to a UTF-8 boundary so the message stays valid text.
std::string bounded(std::string_view text, std::size_t limit) {
  bool cut = false;
  if (text.size() > limit) {
    std::size_t end = limit;
    while (end > 0 &&
           (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) {
      --end;
    }
    text = text.substr(0, end);
    cut = true;
  }
  std::string out(text);
  for (auto& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  if (cut) out.append("...");
  return out;
}

std::string quoted_value(std::string_view text) {
  return "\"" + bounded(text, value_excerpt_limit) + "\"";
}

std::string first_line(std::string_view text) {
  // Plugins often start stderr with a blank line; the first one with words
  // is the one that explains.
  while (!text.empty()) {
    const auto end = text.find('\n');
    auto line = text.substr(0, end);
    while (!line.empty() &&
           std::isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
    while (!line.empty() &&
           std::isspace(static_cast<unsigned char>(line.front()))) {
      line.remove_prefix(1);
    }
    if (!line.empty()) return bounded(line, stderr_line_limit);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return {};
}

// Reads exactly `width` digits at `pos`, advancing it.
std::optional<int> read_digits(std::string_view text, std::size_t& pos,
                               std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

bool expect_char(std::string_view text, std::size_t& pos,
                 std::string_view allowed) {
  if (pos >= text.size() || allowed.find(text[pos]) == std::string_view::npos) {
    return false;
  }
  ++pos;
  return true;
}

// RFC 3339 date-time: 2026-11-23T14:00:00Z, with optional fractional
// seconds and a Z or ±hh:mm offset.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(
    std::string_view text) {
  using namespace std::chrono;
  std::size_t pos = 0;
  const auto year = read_digits(text, pos, 4);
  if (!year || !expect_char(text, pos, "-")) return std::nullopt;
  const auto month = read_digits(text, pos, 2);
  if (!month || !expect_char(text, pos, "-")) return std::nullopt;
  const auto day = read_digits(text, pos, 2);
  if (!day || !expect_char(text, pos, "Tt")) return std::nullopt;
  const auto hour = read_digits(text, pos, 2);
  if (!hour || !expect_char(text, pos, ":")) return std::nullopt;
  const auto minute = read_digits(text, pos, 2);
  if (!minute || !expect_char(text, pos, ":")) return std::nullopt;
  const auto second = read_digits(text, pos, 2);
  if (!second) return std::nullopt;

  const year_month_day date{std::chrono::year{*year},
                            std::chrono::month{static_cast<unsigned>(*month)},
                            std::chrono::day{static_cast<unsigned>(*day)}};
  // Second 60 is a leap second, which RFC 3339 allows.
  if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }

  nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const auto digits_start = pos;
    std::int64_t scale = 100'000'000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      // Digits past nanoseconds are beyond the clock's resolution.
      fraction += nanoseconds{(text[pos] - '0') * scale};
      scale /= 10;
      ++pos;
    }
    if (pos == digits_start) return std::nullopt;
  }

  minutes offset{0};
  if (expect_char(text, pos, "Zz")) {
    // UTC.
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const bool negative = text[pos] == '-';
    ++pos;
    const auto offset_hours = read_digits(text, pos, 2);
    if (!offset_hours || !expect_char(text, pos, ":")) return std::nullopt;
    const auto offset_minutes = read_digits(text, pos, 2);
    if (!offset_minutes || *offset_hours > 23 || *offset_minutes > 59) {
      return std::nullopt;
    }
    offset = hours{*offset_hours} + minutes{*offset_minutes};
    if (negative) offset = -offset;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  // Local time = UTC + offset. Seconds cannot overflow for any 4-digit
  // year; the clock's nanoseconds can (past 2262), so clamp to its range.
  const sys_seconds whole = sys_days{date} + hours{*hour} + minutes{*minute} +
                            seconds{*second} - offset;
  using clock_point = system_clock::time_point;
  if (whole >= time_point_cast<seconds>(clock_point::max())) {
    return clock_point::max();
  }
  if (whole <= time_point_cast<seconds>(clock_point::min())) {
    return clock_point::min();
  }
  return time_point_cast<system_clock::duration>(whole) + fraction;
}

// A string member of `object`: absent is "", present but not a string is an
// error naming the field.
result<std::string> optional_string(const nlohmann::json& object,
                                    const char* field,
                                    const std::string& command) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return config_error(command, std::string("ExecCredential field ") + field +
                                     " is not a string");
  }
  return it->get<std::string>();
}

std::string exec_info_json(const exec_config& exec, const std::string& server) {
  nlohmann::json spec{{"interactive", false}};
  if (exec.provide_cluster_info) {
    spec["cluster"] = nlohmann::json{{"server", server}};
  }
  const nlohmann::json info{{"apiVersion", exec.api_version},
                            {"kind", exec_credential_kind},
                            {"spec", std::move(spec)}};
  // replace: a kubeconfig string that is not UTF-8 must not throw here.
  return info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class exec_credential_source final : public credential_source {
 public:
  exec_credential_source(exec_config exec, std::string server)
      : exec_(std::move(exec)), server_(std::move(server)) {}

  result<credential> get() override {
    if (auto cached = fresh_cached()) return *std::move(cached);
    // One plugin run at a time: callers arriving meanwhile wait for it and
    // take its credential instead of starting their own. invalidate() does
    // not take this lock, so it never waits for a plugin.
    const std::lock_guard run_lock(run_mutex_);
    if (auto cached = fresh_cached()) return *std::move(cached);
    auto fetched = run_plugin();
    if (!fetched) return fetched.error();
    const std::lock_guard lock(cache_mutex_);
    cached_ = *fetched;
    return fetched;
  }

  void invalidate() override {
    const std::lock_guard lock(cache_mutex_);
    cached_.reset();
  }

  std::string describe() const override {
    return "exec plugin " + exec_.command;
  }

 private:
  std::optional<credential> fresh_cached() const {
    const std::lock_guard lock(cache_mutex_);
    if (!cached_) return std::nullopt;
    // Compared this way round so an expiry clamped to the clock's minimum
    // cannot overflow.
    if (cached_->expiry &&
        *cached_->expiry <= std::chrono::system_clock::now() + expiry_margin) {
      return std::nullopt;
    }
    return cached_;
  }

  result<credential> run_plugin() const {
    process::process_spec spec;
    spec.argv.reserve(exec_.args.size() + 1);
    spec.argv.push_back(exec_.command);
    spec.argv.insert(spec.argv.end(), exec_.args.begin(), exec_.args.end());
    spec.env = exec_.env;
    // Last, so it wins over a same-named variable in the kubeconfig's env.
    spec.env.emplace_back("KUBERNETES_EXEC_INFO",
                          exec_info_json(exec_, server_));
    spec.timeout = plugin_timeout;
    spec.output_limit = plugin_output_limit;

    auto ran = process::run_process(spec);
    if (!ran) {
      std::string what = "cannot run: " + ran.error().message();
      if (ran.error() == boost::system::errc::no_such_file_or_directory &&
          !exec_.install_hint.empty()) {
        what += "; " + bounded(exec_.install_hint, 1000);
      }
      return config_error(exec_.command, std::move(what));
    }
    const auto& proc = *ran;
    auto with_stderr = [&proc](std::string what) {
      auto line = first_line(proc.err);
      if (!line.empty()) what += ": " + line;
      return what;
    };
    if (proc.timed_out) {
      return config_error(
          exec_.command,
          with_stderr("timed out after " +
                      std::to_string(plugin_timeout.count()) + " s"));
    }
    if (proc.signal != 0) {
      return config_error(
          exec_.command,
          with_stderr("killed by signal " + std::to_string(proc.signal)));
    }
    if (proc.exit_code != 0) {
      return config_error(
          exec_.command,
          with_stderr("exited with code " + std::to_string(proc.exit_code)));
    }
    if (proc.truncated) {
      return config_error(
          exec_.command,
          with_stderr("printed more than " +
                      std::to_string(plugin_output_limit) + " bytes"));
    }
    auto parsed =
        parse_exec_credential(proc.out, exec_.api_version, exec_.command);
    if (!parsed) {
      auto e = parsed.error();
      e.message = with_stderr(std::move(e.message));
      return e;
    }
    return parsed;
  }

  const exec_config exec_;
  const std::string server_;
  std::mutex run_mutex_;
  mutable std::mutex cache_mutex_;
  std::optional<credential> cached_;
};

}  // namespace

result<credential> parse_exec_credential(
    const std::string& json_text, const std::string& expected_api_version,
    const std::string& command) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    // Only the position: the text, and e.what() which quotes it, may hold
    // the token.
    return config_error(command, "output is not JSON (error at byte " +
                                     std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::exception&) {
    return config_error(command, "output is not JSON");
  }
  if (!doc.is_object()) {
    return config_error(command, "output is not a JSON object");
  }

  auto api_version = optional_string(doc, "apiVersion", command);
  if (!api_version) return api_version.error();
  if (*api_version != expected_api_version) {
    return config_error(
        command, "ExecCredential apiVersion " + quoted_value(*api_version) +
                     ", expected " + quoted_value(expected_api_version));
  }
  auto kind = optional_string(doc, "kind", command);
  if (!kind) return kind.error();
  if (*kind != exec_credential_kind) {
    return config_error(command, "output has kind " + quoted_value(*kind) +
                                     ", expected \"ExecCredential\"");
  }

  auto status_it = doc.find("status");
  if (status_it == doc.end() || !status_it->is_object()) {
    return config_error(command, "ExecCredential has no status object");
  }
  const auto& status = *status_it;

  credential cred;
  auto token = optional_string(status, "token", command);
  if (!token) return token.error();
  cred.bearer_token = std::move(*token);
  auto cert = optional_string(status, "clientCertificateData", command);
  if (!cert) return cert.error();
  cred.client_cert_pem = std::move(*cert);
  auto key = optional_string(status, "clientKeyData", command);
  if (!key) return key.error();
  cred.client_key_pem = std::move(*key);

  if (cred.client_cert_pem.empty() != cred.client_key_pem.empty()) {
    return config_error(command,
                        cred.client_cert_pem.empty()
                            ? "ExecCredential status has clientKeyData "
                              "without clientCertificateData"
                            : "ExecCredential status has clientCertificateData "
                              "without clientKeyData");
  }
  if (cred.bearer_token.empty() && cred.client_cert_pem.empty()) {
    return config_error(command,
                        "ExecCredential status has neither a token nor "
                        "clientCertificateData and clientKeyData");
  }

  auto expiration = optional_string(status, "expirationTimestamp", command);
  if (!expiration) return expiration.error();
  if (!expiration->empty()) {
    auto expiry = parse_rfc3339(*expiration);
    if (!expiry) {
      return config_error(command,
                          "ExecCredential status.expirationTimestamp " +
                              quoted_value(*expiration) + " is not RFC 3339");
    }
    cred.expiry = *expiry;
  }
  return cred;
}

std::shared_ptr<credential_source> make_exec_credential_source(
    exec_config exec, std::string server) {
  return std::make_shared<exec_credential_source>(std::move(exec),
                                                  std::move(server));
}

}  // namespace mca::kube
