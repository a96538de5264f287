#include "operator/certs/certificate_bundle.hpp"

#include <array>
#include <ctime>
#include <set>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/tls/certificate_authority.hpp"
#include "common/util/base64.hpp"
#include "common/util/strings.hpp"

namespace mca::op {
namespace {

using json = nlohmann::json;
using time_point = std::chrono::system_clock::time_point;

}  // namespace

std::string format_rfc3339(time_point t) {
  const auto seconds =
      std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch());
  const std::time_t whole = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&whole, &tm);
  std::array<char, 32> text{};
  const auto n =
      std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {text.data(), n};
}

namespace {

bool read_number(std::string_view text, std::size_t& pos, std::size_t digits,
                 int& out) {
  if (pos + digits > text.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += digits;
  return true;
}

bool read_char(std::string_view text, std::size_t& pos, std::string_view any) {
  if (pos >= text.size() || any.find(text[pos]) == std::string_view::npos) {
    return false;
  }
  ++pos;
  return true;
}

}  // namespace

// As people and tools write it: fractional seconds and a numeric offset
// are accepted, though we write neither.
std::optional<time_point> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_number(text, pos, 4, year) || !read_char(text, pos, "-") ||
      !read_number(text, pos, 2, month) || !read_char(text, pos, "-") ||
      !read_number(text, pos, 2, day) || !read_char(text, pos, "Tt") ||
      !read_number(text, pos, 2, hour) || !read_char(text, pos, ":") ||
      !read_number(text, pos, 2, minute) || !read_char(text, pos, ":") ||
      !read_number(text, pos, 2, second)) {
    return std::nullopt;
  }
  const year_month_day date{std::chrono::year{year},
                            std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    long long scale = 100'000'000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction += nanoseconds((text[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  seconds offset{0};
  if (read_char(text, pos, "Zz")) {
    // UTC
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const bool east = text[pos] == '+';
    ++pos;
    int oh = 0, om = 0;
    if (!read_number(text, pos, 2, oh) || !read_char(text, pos, ":") ||
        !read_number(text, pos, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = hours(oh) + minutes(om);
    if (!east) offset = -offset;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const auto local =
      sys_days(date) + hours(hour) + minutes(minute) + seconds(second) - offset;
  return time_point(duration_cast<system_clock::duration>(
      local.time_since_epoch() + fraction));
}

namespace {

// json::value throws when the field has another type; a Secret a person
// mangled must give an error, not an exception.
std::string string_field(const json& object, const char* key,
                         const std::string& fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>()
                                               : fallback;
}

// Reads one Secret, naming it in every error.
class secret_reader {
 public:
  explicit secret_reader(const json& secret) {
    std::string ns = "(no namespace)";
    std::string name = "(no name)";
    if (secret.is_object()) {
      auto metadata = secret.find("metadata");
      if (metadata != secret.end() && metadata->is_object()) {
        ns = string_field(*metadata, "namespace", ns);
        name = string_field(*metadata, "name", name);
        auto annotations = metadata->find("annotations");
        if (annotations != metadata->end() && annotations->is_object()) {
          annotations_ = &*annotations;
        }
      }
      auto data = secret.find("data");
      if (data != secret.end() && data->is_object()) data_ = &*data;
    }
    where_ = "Secret " + ns + "/" + name;
  }

  error fail(const std::string& what) const {
    return error::of(error_source::config, where_ + ": " + what);
  }

  bool has_data() const { return data_ != nullptr; }

  bool has(const char* key) const {
    return data_ != nullptr && data_->contains(key);
  }

  // The decoded value; nullopt when absent. Only the key is named in
  // errors: the value may be a private key.
  mca::result<std::optional<std::string>> optional_value(
      const char* key) const {
    if (!has(key)) return std::optional<std::string>();
    const json& value = (*data_)[key];
    if (!value.is_string()) return fail(std::string(key) + " is not a string");
    auto decoded = util::base64_decode(value.get_ref<const std::string&>());
    if (!decoded) return fail(std::string(key) + " is not base64");
    return std::optional<std::string>(std::move(*decoded));
  }

  mca::result<std::string> value(const char* key) const {
    auto v = optional_value(key);
    if (!v) return v.error();
    if (!*v) return fail(std::string(key) + " is missing");
    return std::move(**v);
  }

  // One CA certificate under `key`, normalised.
  mca::result<std::string> one_certificate(const std::string& text,
                                           const char* key,
                                           bool want_ca) const {
    auto certs = tls::split_certificates(text);
    if (!certs) return fail(std::string(key) + " is not a PEM certificate");
    if (certs->size() != 1) {
      return fail(std::string(key) + " holds " + std::to_string(certs->size()) +
                  " certificates, expected one");
    }
    if (want_ca) {
      auto facts = tls::inspect_certificate(certs->front());
      if (!facts) return fail(std::string(key) + " is not a PEM certificate");
      if (!facts->is_ca) {
        return fail(std::string(key) + " is not a CA certificate");
      }
    }
    return std::move(certs->front());
  }

  // A certificate and its key, checked to belong together.
  mca::result<tls::key_and_cert> pair(const char* cert_key, const char* key_key,
                                      bool want_ca) const {
    auto cert_text = value(cert_key);
    if (!cert_text) return cert_text.error();
    auto key_text = value(key_key);
    if (!key_text) return key_text.error();
    auto cert = one_certificate(*cert_text, cert_key, want_ca);
    if (!cert) return cert.error();
    if (!tls::check_private_key(*key_text)) {
      return fail(std::string(key_key) +
                  " is not an unencrypted PEM private key");
    }
    if (!tls::check_key_matches(*cert, *key_text)) {
      return fail(std::string(key_key) + " does not match " + cert_key);
    }
    return tls::key_and_cert{std::move(*key_text), std::move(*cert)};
  }

  mca::result<std::optional<time_point>> annotation_time(
      const char* annotation) const {
    if (annotations_ == nullptr || !annotations_->contains(annotation)) {
      return std::optional<time_point>();
    }
    const json& value = (*annotations_)[annotation];
    std::optional<time_point> t;
    if (value.is_string())
      t = parse_rfc3339(value.get_ref<const std::string&>());
    if (!t) {
      return fail(
          "annotation " + std::string(annotation) +
          " is not an RFC 3339 time: " +
          quote(value.is_string() ? value.get<std::string>() : value.dump()));
    }
    return t;
  }

 private:
  std::string where_;
  const json* data_ = nullptr;
  const json* annotations_ = nullptr;
};

}  // namespace

std::string trust_bundle(const certificate_bundle& bundle) {
  std::string out;
  std::set<std::string> seen;
  const auto add = [&](const std::string& pem) {
    auto certs = tls::split_certificates(pem);
    if (!certs) return;
    for (const auto& cert : *certs) {
      auto facts = tls::inspect_certificate(cert);
      if (facts && seen.insert(facts->fingerprint).second) out += cert;
    }
  };
  add(bundle.ca.cert_pem);
  if (bundle.next_ca) add(bundle.next_ca->cert_pem);
  for (const auto& pem : bundle.retiring_cas) add(pem);
  return out;
}

mca::result<certificate_bundle> bundle_from_secret(const json& secret) {
  const secret_reader reader(secret);
  if (!reader.has_data()) return reader.fail("has no data");

  certificate_bundle out;
  auto ca = reader.pair(secret_ca_cert_key, secret_ca_key_key, true);
  if (!ca) return ca.error();
  out.ca = std::move(*ca);

  auto leaf = reader.pair(secret_leaf_cert_key, secret_leaf_key_key, false);
  if (!leaf) return leaf.error();
  out.leaf = std::move(*leaf);
  // Signature and key ids only: an expired pair is still the pair, and
  // renewing it is the planner's job.
  if (!tls::check_issued_by(out.leaf.cert_pem, out.ca.cert_pem)) {
    return reader.fail(std::string(secret_leaf_cert_key) +
                       " is not issued by " + secret_ca_cert_key);
  }

  const bool has_next_cert = reader.has(secret_next_ca_cert_key);
  const bool has_next_key = reader.has(secret_next_ca_key_key);
  if (has_next_cert != has_next_key) {
    return reader.fail(
        std::string(has_next_cert ? secret_next_ca_key_key
                                  : secret_next_ca_cert_key) +
        " is missing (" +
        (has_next_cert ? secret_next_ca_cert_key : secret_next_ca_key_key) +
        " is there)");
  }
  if (has_next_cert) {
    auto next =
        reader.pair(secret_next_ca_cert_key, secret_next_ca_key_key, true);
    if (!next) return next.error();
    out.next_ca = std::move(*next);
  }

  auto retiring = reader.optional_value(secret_retiring_cas_key);
  if (!retiring) return retiring.error();
  if (*retiring && !(*retiring)->empty()) {
    auto certs = tls::split_certificates(**retiring);
    if (!certs) {
      return reader.fail(std::string(secret_retiring_cas_key) +
                         " holds no readable PEM certificate");
    }
    for (std::size_t i = 0; i < certs->size(); ++i) {
      auto facts = tls::inspect_certificate((*certs)[i]);
      if (!facts || !facts->is_ca) {
        return reader.fail(std::string(secret_retiring_cas_key) +
                           ": certificate " + std::to_string(i + 1) +
                           " is not a CA certificate");
      }
    }
    out.retiring_cas = std::move(*certs);
  }

  auto published = reader.annotation_time(next_ca_published_at_annotation);
  if (!published) return published.error();
  // Without a next CA there is nothing it could say was published.
  if (out.next_ca) out.next_ca_published_at = *published;
  auto retire_at = reader.annotation_time(retire_at_annotation);
  if (!retire_at) return retire_at.error();
  out.retire_at = *retire_at;
  return out;
}

json secret_for_bundle(const certificate_bundle& bundle,
                       const std::string& name, const std::string& ns) {
  json data = json::object();
  const auto put = [&data](const char* key, std::string_view value) {
    data[key] = util::base64_encode(value);
  };
  put(secret_ca_cert_key, bundle.ca.cert_pem);
  put(secret_ca_key_key, bundle.ca.key_pem);
  if (bundle.next_ca) {
    put(secret_next_ca_cert_key, bundle.next_ca->cert_pem);
    put(secret_next_ca_key_key, bundle.next_ca->key_pem);
  }
  if (!bundle.retiring_cas.empty()) {
    std::string retiring;
    for (const auto& pem : bundle.retiring_cas) retiring += pem;
    put(secret_retiring_cas_key, retiring);
  }
  put(secret_leaf_cert_key, bundle.leaf.cert_pem);
  put(secret_leaf_key_key, bundle.leaf.key_pem);
  put(secret_trust_bundle_key, trust_bundle(bundle));

  json metadata = {
      {"name", name},
      {"namespace", ns},
      {"labels", {{"app.kubernetes.io/managed-by", "mca-operator"}}},
  };
  json annotations = json::object();
  if (bundle.next_ca && bundle.next_ca_published_at) {
    annotations[next_ca_published_at_annotation] =
        format_rfc3339(*bundle.next_ca_published_at);
  }
  if (bundle.retire_at) {
    annotations[retire_at_annotation] = format_rfc3339(*bundle.retire_at);
  }
  if (!annotations.empty()) metadata["annotations"] = std::move(annotations);

  return json{
      {"apiVersion", "v1"}, {"kind", "Secret"},        {"metadata", metadata},
      {"type", "Opaque"},   {"data", std::move(data)},
  };
}

}  // namespace mca::op
