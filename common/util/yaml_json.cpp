#include "common/util/yaml_json.hpp"

#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace mca::util {

namespace {

using json = nlohmann::json;

// Aliases let a few lines of YAML expand into billions of nodes; no manifest
// or configuration MCA reads comes anywhere near this.
constexpr std::size_t max_nodes = std::size_t{1} << 21U;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// [-+]?[0-9]+
bool is_decimal_integer(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// YAML 1.2 core schema float:
// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_decimal_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t mantissa_digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++mantissa_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++mantissa_digits;
  }
  if (mantissa_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exponent_digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exponent_digits;
    if (exponent_digits == 0) return false;
  }
  return i == s.size();
}

json plain_scalar(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return nullptr;
  }
  if (is_decimal_integer(s)) {
    errno = 0;
    char* end = nullptr;
    const long long value = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0) return static_cast<std::int64_t>(value);
    if (s.front() != '-') {
      errno = 0;
      const unsigned long long big = std::strtoull(s.c_str(), &end, 10);
      if (errno == 0) return static_cast<std::uint64_t>(big);
    }
    return s;  // wider than 64 bits: keep every digit rather than round
  }
  if (is_decimal_float(s)) {
    errno = 0;
    char* end = nullptr;
    const double value = std::strtod(s.c_str(), &end);
    if (errno == 0 && std::isfinite(value)) return value;
    return s;
  }
  return s;
}

class converter {
 public:
  json convert(const YAML::Node& node) {
    if (++nodes_ > max_nodes) {
      throw YAML::RepresentationException(
          node.Mark(), "document too large (more than " +
                           std::to_string(max_nodes) +
                           " nodes after expanding aliases)");
    }
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
      case YAML::NodeType::Sequence: {
        json out = json::array();
        for (const auto& item : node) out.push_back(convert(item));
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            throw YAML::RepresentationException(
                kv.first.Mark(), "a mapping key must be a scalar to be JSON");
          }
          out[kv.first.Scalar()] = convert(kv.second);
        }
        return out;
      }
      case YAML::NodeType::Scalar:
        break;
    }
    // "!" is what yaml-cpp tags every quoted or block scalar with: the
    // author wrote a string, whatever it looks like.
    const std::string& tag = node.Tag();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
    return plain_scalar(node.Scalar());
  }

 private:
  std::size_t nodes_ = 0;
};

std::string position(const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  return "line " + std::to_string(mark.line + 1) + ", column " +
         std::to_string(mark.column + 1) + ": ";
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' ||
                        s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  return s;
}

// Words some YAML reader (1.1 or 1.2, any case) resolves to a non-string.
bool is_reserved_word(std::string_view s) {
  static constexpr std::array<std::string_view, 15> words{
      "null", "~", "true", "false", "yes",   "no",   "on", "off",
      "y",    "n", ".inf", "-.inf", "+.inf", ".nan", "<<"};
  const std::string l = lower(s);
  for (auto w : words) {
    if (l == w) return true;
  }
  return s == "=";
}

bool needs_quotes(std::string_view s) {
  if (s.empty() || is_reserved_word(s)) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.back() == ':') return true;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;  // also tabs and line breaks
  }
  if (s.find(": ") != std::string_view::npos ||
      s.find(" #") != std::string_view::npos ||
      s.find_first_of("[]{},") != std::string_view::npos) {
    return true;
  }
  // Numbers of every YAML flavour (0x10, 0o17, 1e3, 1_000, 12:30, dates)
  // start with a digit, or with a sign or point and then a digit.
  const char first = s.front();
  if (is_digit(first)) return true;
  if ((first == '-' || first == '+' || first == '.') && s.size() > 1 &&
      (is_digit(s[1]) || s[1] == '.')) {
    return true;
  }
  if (first == '-') {
    return s.size() == 1 || s[1] == ' ' || s.starts_with("---");
  }
  static constexpr std::string_view indicators = "?:,[]{}#&*!|>'\"%@`";
  if (indicators.find(first) != std::string_view::npos) return true;
  return s.starts_with("...");
}

std::string quoted(std::string_view s) {
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\u00";
          out += hex[u >> 4U];
          out += hex[u & 0xfU];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string string_scalar(std::string_view s) {
  return needs_quotes(s) ? quoted(s) : std::string(s);
}

bool is_nonempty_collection(const json& v) {
  return (v.is_object() || v.is_array()) && !v.empty();
}

std::string scalar(const json& v) {
  if (v.is_string()) return string_scalar(v.get_ref<const std::string&>());
  if (v.is_object()) return "{}";
  if (v.is_array()) return "[]";
  if (v.is_number_float() && !std::isfinite(v.get<double>())) return "null";
  return v.dump();
}

// `v` (a non-empty object or array) with every line indented by `indent`.
void write_block(const json& v, std::size_t indent, std::string& out) {
  const std::string pad(indent, ' ');
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      out += pad;
      out += string_scalar(key);
      out += ':';
      if (is_nonempty_collection(value)) {
        out += '\n';
        // Lists at their key's indentation, as kubectl writes them.
        write_block(value, value.is_array() ? indent : indent + 2, out);
      } else {
        out += ' ';
        out += scalar(value);
        out += '\n';
      }
    }
    return;
  }
  for (const auto& item : v) {
    out += pad;
    out += "- ";
    if (is_nonempty_collection(item)) {
      // The item's first line goes on the dash line: "- key: value".
      std::string inner;
      write_block(item, indent + 2, inner);
      out.append(inner, indent + 2, std::string::npos);
    } else {
      out += scalar(item);
      out += '\n';
    }
  }
}

}  // namespace

json yaml_to_json(const YAML::Node& node) { return converter{}.convert(node); }

mca::result<std::vector<json>> parse_yaml_documents(std::string_view text,
                                                    std::string_view origin) {
  std::vector<json> out;
  const std::string_view body = trim_left(text);
  if (!body.empty() && (body.front() == '{' || body.front() == '[')) {
    // Read exactly as JSON when it is JSON: YAML would not keep every digit
    // of a large number, nor read every JSON escape the same way.
    json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!value.is_discarded()) {
      out.push_back(std::move(value));
      return out;
    }
  }
  try {
    const std::string owned(text);
    for (const auto& doc : YAML::LoadAll(owned)) {
      if (doc.IsNull()) continue;
      out.push_back(yaml_to_json(doc));
    }
  } catch (const YAML::Exception& e) {
    return mca::error::of(error_source::config, std::string(origin) + ": " +
                                                    position(e.mark) + e.msg);
  }
  return out;
}

std::string json_to_yaml(const json& value) {
  std::string out;
  if (is_nonempty_collection(value)) {
    write_block(value, 0, out);
  } else {
    out = scalar(value);
    out += '\n';
  }
  return out;
}

}  // namespace mca::util
