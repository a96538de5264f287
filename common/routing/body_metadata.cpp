#include "common/routing/body_metadata.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace mca::routing {
namespace {

using json = nlohmann::json;

mca::error client_error(std::string message) {
  return mca::error::of(mca::error_source::client, std::move(message));
}

// Keys and values come from the request body; a message quotes at most this
// much of any of them so an error never carries a large part of the body.
constexpr std::size_t max_quoted = 64;

std::string excerpt(std::string_view text) {
  if (text.size() <= max_quoted) return std::string(text);
  return std::string(text.substr(0, max_quoted)) + "...";
}

std::string field_path(std::string_view parent, std::string_view key) {
  return std::string(parent) + "." + excerpt(key);
}

mca::result<void> check_size(std::string_view body, std::size_t max_bytes) {
  if (body.size() <= max_bytes) return {};
  mca::error e =
      client_error("request body is " + std::to_string(body.size()) +
                   " bytes, over the limit of " + std::to_string(max_bytes));
  // The caller answers with this Status, so it is filled in here where the
  // reason is known.
  e.status = {413, "RequestEntityTooLarge", e.message, {}};
  return e;
}

char lower_ascii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// "Application/JSON; charset=utf-8" -> "application/json".
std::string media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  const auto not_space = [](char c) { return c != ' ' && c != '\t'; };
  const auto* first =
      std::find_if(content_type.begin(), content_type.end(), not_space);
  const auto last =
      std::find_if(content_type.rbegin(), content_type.rend(), not_space)
          .base();
  std::string out;
  for (const auto* it = first; it < last; ++it) out += lower_ascii(*it);
  return out;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() > suffix.size() &&
         text.substr(text.size() - suffix.size()) == suffix;
}

enum class body_format { json_text, yaml_text, protobuf };

mca::result<body_format> format_of(std::string_view content_type) {
  const std::string type = media_type(content_type);
  // The API server reads a body without a Content-Type as JSON (its first
  // supported media type), and some clients (the Python client) send none.
  if (type.empty() || type == "application/json" || ends_with(type, "+json")) {
    return body_format::json_text;
  }
  if (type == "application/yaml" || ends_with(type, "+yaml")) {
    return body_format::yaml_text;
  }
  if (type == "application/vnd.kubernetes.protobuf") {
    return body_format::protobuf;
  }
  return client_error("unsupported content type \"" + excerpt(type) + "\"");
}

// ---------------------------------------------------------------- JSON

mca::result<json> parse_json(std::string_view body) {
  // No exceptions: a malformed body is an ordinary client error here.
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return client_error("request body is not valid JSON");
  return mca::ok(std::move(doc));
}

// A string field that may be absent or null (Go decodes null as "").
mca::result<void> read_string(const json& object, const char* key,
                              std::string_view where, std::string& out) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) {
    return client_error(field_path(where, key) + " is not a string");
  }
  out = it->get<std::string>();
  return {};
}

// A map<string, string> such as labels; null is an empty map.
mca::result<void> read_string_map(const json& value, std::string_view where,
                                  std::map<std::string, std::string>& out) {
  if (value.is_null()) return {};
  if (!value.is_object()) {
    return client_error(std::string(where) + " is not an object");
  }
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return client_error(field_path(where, key) + " is not a string");
    }
    out[key] = item.get<std::string>();
  }
  return {};
}

mca::result<object_metadata> metadata_from_json(const json& doc) {
  if (!doc.is_object()) {
    return client_error("request body is not a JSON object");
  }
  object_metadata out;
  const auto meta = doc.find("metadata");
  if (meta == doc.end() || meta->is_null()) return out;
  if (!meta->is_object()) return client_error("metadata is not an object");
  if (auto r = read_string(*meta, "name", "metadata", out.name); !r) {
    return r.error();
  }
  if (auto r =
          read_string(*meta, "generateName", "metadata", out.generate_name);
      !r) {
    return r.error();
  }
  if (auto r = read_string(*meta, "namespace", "metadata", out.namespace_name);
      !r) {
    return r.error();
  }
  if (const auto it = meta->find("labels"); it != meta->end()) {
    out.has_labels = true;
    if (auto r = read_string_map(*it, "metadata.labels", out.labels); !r) {
      return r.error();
    }
  }
  if (const auto it = meta->find("annotations"); it != meta->end()) {
    out.has_annotations = true;
    if (auto r = read_string_map(*it, "metadata.annotations", out.annotations);
        !r) {
      return r.error();
    }
  }
  return out;
}

// ---------------------------------------------------------------- YAML
//
// The API server turns YAML into JSON (sigs.k8s.io/yaml) before decoding, so
// a plain scalar like `1` or `true` becomes a number or boolean and is
// refused where a string is required. The same is done here, but only for
// scalars that are certainly not strings: wrongly calling a value a string
// merely forwards a request the API server then refuses, while wrongly
// refusing one would break a valid request.

bool is_yaml_null_or_bool(std::string_view s) {
  static constexpr std::string_view words[] = {
      "",      "~",     "null",  "Null",  "NULL",  "y",    "Y",     "yes",
      "Yes",   "YES",   "n",     "N",     "no",    "No",   "NO",    "true",
      "True",  "TRUE",  "false", "False", "FALSE", "on",   "On",    "ON",
      "off",   "Off",   "OFF",   ".inf",  ".Inf",  ".INF", "+.inf", "+.Inf",
      "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN", ".NAN"};
  return std::find(std::begin(words), std::end(words), s) != std::end(words);
}

bool is_yaml_number(std::string_view s) {
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  // from_chars would also accept "inf" and "nan", which YAML calls strings.
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s.front())) != 0 ||
                     s.front() == '.')) {
    return false;
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    return std::all_of(s.begin(), s.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) != 0;
    });
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  // An out-of-range number is still a number.
  return end == s.data() + s.size() &&
         (ec == std::errc{} || ec == std::errc::result_out_of_range);
}

bool yaml_is_string(const YAML::Node& node) {
  if (!node.IsScalar()) return false;
  const std::string& tag = node.Tag();
  if (tag == "?") {
    const std::string& text = node.Scalar();
    return !is_yaml_null_or_bool(text) && !is_yaml_number(text);
  }
  // "!" marks a quoted or block scalar; explicit tags other than the core
  // non-string ones are left to the API server.
  return tag != "tag:yaml.org,2002:int" && tag != "tag:yaml.org,2002:float" &&
         tag != "tag:yaml.org,2002:bool" && tag != "tag:yaml.org,2002:null";
}

bool yaml_is_null(const YAML::Node& node) {
  return node.IsNull() ||
         (node.IsScalar() && node.Tag() == "?" &&
          (node.Scalar() == "~" || node.Scalar() == "null" ||
           node.Scalar() == "Null" || node.Scalar() == "NULL"));
}

// YAML::Node's converting constructor makes the implicit error conversion
// ambiguous, so errors are placed explicitly.
mca::result<YAML::Node> yaml_error(std::string message) {
  return {boost::system::in_place_error, client_error(std::move(message))};
}

mca::result<YAML::Node> parse_yaml(std::string_view body) {
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(body));
    if (docs.empty()) return yaml_error("request body is empty");
    // The API server reads only the first document; refusing the rest keeps
    // anyone from hiding a second object behind it.
    if (docs.size() > 1) {
      return yaml_error("request body holds more than one YAML document");
    }
    return std::move(docs.front());
  } catch (const YAML::Exception& e) {
    // yaml-cpp's messages are fixed texts, not quotes of the input.
    return yaml_error("request body is not valid YAML: line " +
                      std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1) + ": " +
                      excerpt(e.msg));
  }
}

// The entries of a YAML map, refusing what yaml-cpp and the API server would
// read differently: duplicate keys (yaml-cpp finds the first, Go keeps the
// last) and merge keys (Go merges them in, yaml-cpp does not).
mca::result<std::vector<std::pair<std::string, YAML::Node>>> yaml_entries(
    const YAML::Node& map, std::string_view where) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  std::set<std::string> seen;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) {
      return client_error(std::string(where) +
                          " has a key that is not a string");
    }
    const std::string& key = entry.first.Scalar();
    if (key == "<<" && entry.first.Tag() == "?") {
      return client_error(
          std::string(where) +
          " uses a YAML merge key (<<), which is not supported");
    }
    if (!seen.insert(key).second) {
      return client_error(field_path(where, key) + " appears more than once");
    }
    out.emplace_back(key, entry.second);
  }
  return out;
}

mca::result<void> read_yaml_string(const YAML::Node& value,
                                   std::string_view where, std::string& out) {
  if (yaml_is_null(value)) return {};
  if (!yaml_is_string(value)) {
    return client_error(std::string(where) + " is not a string");
  }
  out = value.Scalar();
  return {};
}

mca::result<void> read_yaml_string_map(
    const YAML::Node& value, std::string_view where,
    std::map<std::string, std::string>& out) {
  if (yaml_is_null(value)) return {};
  if (!value.IsMap()) {
    return client_error(std::string(where) + " is not an object");
  }
  auto entries = yaml_entries(value, where);
  if (!entries) return entries.error();
  for (const auto& [key, item] : *entries) {
    if (!yaml_is_string(item)) {
      return client_error(field_path(where, key) + " is not a string");
    }
    out[key] = item.Scalar();
  }
  return {};
}

mca::result<object_metadata> metadata_from_yaml(const YAML::Node& doc) {
  if (!doc.IsMap()) return client_error("request body is not a YAML map");
  auto top = yaml_entries(doc, "request body");
  if (!top) return top.error();
  object_metadata out;
  for (const auto& [top_key, meta] : *top) {
    if (top_key != "metadata" || yaml_is_null(meta)) continue;
    if (!meta.IsMap()) return client_error("metadata is not an object");
    auto fields = yaml_entries(meta, "metadata");
    if (!fields) return fields.error();
    for (const auto& [key, value] : *fields) {
      mca::result<void> r;
      if (key == "name") {
        r = read_yaml_string(value, "metadata.name", out.name);
      } else if (key == "generateName") {
        r = read_yaml_string(value, "metadata.generateName", out.generate_name);
      } else if (key == "namespace") {
        r = read_yaml_string(value, "metadata.namespace", out.namespace_name);
      } else if (key == "labels") {
        out.has_labels = true;
        r = read_yaml_string_map(value, "metadata.labels", out.labels);
      } else if (key == "annotations") {
        out.has_annotations = true;
        r = read_yaml_string_map(value, "metadata.annotations",
                                 out.annotations);
      }
      if (!r) return r.error();
    }
  }
  return out;
}

// A YAML body, or JSON sent as YAML (apply configurations often are). JSON
// is read with the JSON parser when it parses: it is what the author meant,
// and JSON's escapes and number forms are not all YAML 1.2's.
mca::result<object_metadata> metadata_from_yaml_body(std::string_view body) {
  const auto start = body.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && body[start] == '{') {
    json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded()) return metadata_from_json(doc);
  }
  auto doc = parse_yaml(body);
  if (!doc) return doc.error();
  return metadata_from_yaml(*doc);
}

// ------------------------------------------------------------ protobuf
//
// A bounds-checked reader of the protobuf wire format: every read checks the
// remaining length first, so a malformed body is an error, never an
// over-read.

enum class wire_type : std::uint8_t {
  varint = 0,
  fixed64 = 1,
  length_delimited = 2,
  start_group = 3,
  end_group = 4,
  fixed32 = 5,
};

struct wire_field {
  std::uint32_t number = 0;
  wire_type type = wire_type::varint;
  std::string_view bytes;  // the payload of a length-delimited field
};

class wire_reader {
 public:
  wire_reader(std::string_view data, std::string_view what)
      : data_(data), what_(what) {}

  bool at_end() const noexcept { return pos_ == data_.size(); }

  mca::result<wire_field> next() {
    const std::size_t start = pos_;
    auto key = varint();
    if (!key) return key.error();
    // Field numbers are 29 bits; a larger key is corruption.
    if (*key > 0xffff'ffffU || (*key >> 3U) == 0 ||
        (*key >> 3U) > max_field_number) {
      return fail("invalid field key", start);
    }
    wire_field field;
    field.number = static_cast<std::uint32_t>(*key >> 3U);
    switch (*key & 7U) {
      case 0: {
        field.type = wire_type::varint;
        auto skipped = varint();
        if (!skipped) return skipped.error();
        return field;
      }
      case 1:
        field.type = wire_type::fixed64;
        if (auto r = skip(8); !r) return r.error();
        return field;
      case 2: {
        field.type = wire_type::length_delimited;
        const std::size_t length_at = pos_;
        auto length = varint();
        if (!length) return length.error();
        if (*length > data_.size() - pos_) {
          return fail("length past the end of the data", length_at);
        }
        field.bytes = data_.substr(pos_, static_cast<std::size_t>(*length));
        pos_ += static_cast<std::size_t>(*length);
        return field;
      }
      case 5:
        field.type = wire_type::fixed32;
        if (auto r = skip(4); !r) return r.error();
        return field;
      case 3:
      case 4:
        // Kubernetes never uses groups; they are deprecated proto2.
        return fail("unsupported group wire type", start);
      default:
        return fail("invalid wire type", start);
    }
  }

 private:
  static constexpr std::uint64_t max_field_number = (1U << 29U) - 1;

  mca::error fail(std::string_view problem, std::size_t at) const {
    return client_error("protobuf body: " + std::string(problem) + " in " +
                        std::string(what_) + " at byte " + std::to_string(at));
  }

  mca::result<std::uint64_t> varint() {
    const std::size_t start = pos_;
    std::uint64_t value = 0;
    for (unsigned i = 0; i < 10; ++i) {
      if (pos_ == data_.size()) return fail("truncated varint", start);
      const auto byte = static_cast<std::uint8_t>(data_[pos_++]);
      // The tenth byte holds only the 64th bit.
      if (i == 9 && byte > 1) return fail("varint overflows 64 bits", start);
      value |= static_cast<std::uint64_t>(byte & 0x7fU) << (7U * i);
      if ((byte & 0x80U) == 0) return value;
    }
    return fail("varint longer than 10 bytes", start);
  }

  mca::result<void> skip(std::size_t n) {
    if (n > data_.size() - pos_) {
      return fail("truncated fixed-width field", pos_);
    }
    pos_ += n;
    return {};
  }

  std::string_view data_;
  std::string_view what_;
  std::size_t pos_ = 0;
};

mca::error wrong_wire_type(std::string_view field) {
  return client_error("protobuf body: " + std::string(field) +
                      " has the wrong wire type");
}

// One map<string, string> entry: 1 key, 2 value, both optional.
mca::result<void> read_map_entry(std::string_view bytes, std::string_view what,
                                 std::map<std::string, std::string>& out) {
  wire_reader reader(bytes, what);
  std::string key;
  std::string value;
  while (!reader.at_end()) {
    auto field = reader.next();
    if (!field) return field.error();
    if (field->number != 1 && field->number != 2) continue;
    if (field->type != wire_type::length_delimited) {
      return wrong_wire_type(what);
    }
    (field->number == 1 ? key : value) = std::string(field->bytes);
  }
  // A repeated key overwrites, as Go's decoder does.
  out[std::move(key)] = std::move(value);
  return {};
}

// Fields of ObjectMeta merged into `out`: a message field that appears more
// than once is merged by protobuf's rules, and the API server follows them.
mca::result<void> read_object_meta(std::string_view bytes,
                                   object_metadata& out) {
  wire_reader reader(bytes, "metadata");
  while (!reader.at_end()) {
    auto field = reader.next();
    if (!field) return field.error();
    std::string* text = nullptr;
    const char* name = nullptr;
    switch (field->number) {
      case 1:
        text = &out.name;
        name = "metadata.name";
        break;
      case 2:
        text = &out.generate_name;
        name = "metadata.generateName";
        break;
      case 3:
        text = &out.namespace_name;
        name = "metadata.namespace";
        break;
      case 11:
        name = "metadata.labels";
        break;
      case 12:
        name = "metadata.annotations";
        break;
      default:
        continue;
    }
    if (field->type != wire_type::length_delimited) {
      return wrong_wire_type(name);
    }
    if (text != nullptr) {
      *text = std::string(field->bytes);
      continue;
    }
    const bool labels = field->number == 11;
    (labels ? out.has_labels : out.has_annotations) = true;
    if (auto r = read_map_entry(field->bytes, name,
                                labels ? out.labels : out.annotations);
        !r) {
      return r.error();
    }
  }
  return {};
}

mca::result<object_metadata> metadata_from_protobuf(std::string_view body) {
  static constexpr std::string_view magic{"k8s\0", 4};
  if (body.substr(0, magic.size()) != magic) {
    return client_error(
        "protobuf body does not start with the Kubernetes magic bytes "
        "\"k8s\\0\"");
  }
  // runtime.Unknown: 1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType.
  wire_reader envelope(body.substr(magic.size()), "envelope");
  std::optional<std::string_view> raw;
  std::string_view content_encoding;
  std::string_view content_type;
  while (!envelope.at_end()) {
    auto field = envelope.next();
    if (!field) return field.error();
    if (field->number < 1 || field->number > 4) continue;
    if (field->type != wire_type::length_delimited) {
      return wrong_wire_type("envelope field " + std::to_string(field->number));
    }
    if (field->number == 2) raw = field->bytes;
    if (field->number == 3) content_encoding = field->bytes;
    if (field->number == 4) content_type = field->bytes;
  }
  if (!raw) return client_error("protobuf body has no object (raw) in it");
  if (!content_encoding.empty()) {
    return client_error("protobuf body has unsupported content encoding \"" +
                        excerpt(content_encoding) + "\"");
  }
  if (!content_type.empty() &&
      media_type(content_type) != "application/vnd.kubernetes.protobuf") {
    return client_error("protobuf body has unsupported inner content type \"" +
                        excerpt(content_type) + "\"");
  }
  // Every top-level Kubernetes object has its ObjectMeta as field 1.
  object_metadata out;
  wire_reader object(*raw, "object");
  while (!object.at_end()) {
    auto field = object.next();
    if (!field) return field.error();
    if (field->number != 1) continue;
    if (field->type != wire_type::length_delimited) {
      return wrong_wire_type("metadata");
    }
    if (auto r = read_object_meta(field->bytes, out); !r) return r.error();
  }
  return out;
}

// ------------------------------------------------------------- patches

// Where a JSON patch path lies relative to metadata.labels.
enum class relation {
  unrelated,
  ancestor,  // "" or /metadata: the labels are inside what it names
  labels,    // /metadata/labels
  label,     // /metadata/labels/KEY
  inside,    // deeper: inside a label value, which is a string
};

struct located {
  relation where = relation::unrelated;
  std::string key;                // for relation::label
  std::vector<std::string> rest;  // for ancestor: the path from it to labels
};

// Splits a JSON pointer (RFC 6901) and finds where it lies.
mca::result<located> locate(const std::string& pointer, std::string_view what) {
  if (!pointer.empty() && pointer.front() != '/') {
    return client_error("JSON patch " + std::string(what) + " \"" +
                        excerpt(pointer) + "\" does not start with /");
  }
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] == '/') {
      tokens.emplace_back();
      continue;
    }
    if (pointer[i] != '~') {
      tokens.back() += pointer[i];
      continue;
    }
    const char next = i + 1 < pointer.size() ? pointer[i + 1] : '\0';
    if (next != '0' && next != '1') {
      return client_error("JSON patch " + std::string(what) + " \"" +
                          excerpt(pointer) + "\" has an invalid ~ escape");
    }
    tokens.back() += next == '0' ? '~' : '/';
    ++i;
  }
  static const std::vector<std::string> labels_path{"metadata", "labels"};
  const std::size_t common = static_cast<std::size_t>(
      std::mismatch(tokens.begin(), tokens.end(), labels_path.begin(),
                    labels_path.end())
          .first -
      tokens.begin());
  located out;
  if (common < tokens.size() && common < labels_path.size()) return out;
  if (tokens.size() < labels_path.size()) {
    out.where = relation::ancestor;
    out.rest.assign(labels_path.begin() + static_cast<std::ptrdiff_t>(common),
                    labels_path.end());
  } else if (tokens.size() == labels_path.size()) {
    out.where = relation::labels;
  } else if (tokens.size() == labels_path.size() + 1) {
    out.where = relation::label;
    out.key = tokens.back();
  } else {
    out.where = relation::inside;
  }
  return out;
}

// Replaces the whole labels map with `labels` (a JSON object or null).
mca::result<void> replace_all(label_change& change, const json& labels,
                              std::string_view where) {
  change.touches_labels = true;
  change.replaces_all = true;
  change.set.clear();
  std::map<std::string, std::string> values;
  if (auto r = read_string_map(labels, where, values); !r) return r;
  for (auto& [key, value] : values) change.set[key] = std::move(value);
  return {};
}

// Labels now hold something only the stored object knows.
void replace_unknown(label_change& change) {
  change.touches_labels = true;
  change.replaces_all = true;
  change.set.clear();
}

void set_label(label_change& change, const std::string& key,
               std::optional<std::string> value) {
  change.touches_labels = true;
  // After replaces_all, a removal just leaves the label out of the map.
  if (change.replaces_all && !value) {
    change.set.erase(key);
    return;
  }
  change.set[key] = std::move(value);
}

mca::error inside_label(std::string_view op) {
  return client_error("JSON patch " + std::string(op) +
                      " points inside a label value, which is a string");
}

// The effect of removing what `from` names (move's first half, or remove).
mca::result<void> apply_removal(label_change& change, const located& from,
                                std::string_view op) {
  switch (from.where) {
    case relation::unrelated:
      return {};
    case relation::ancestor:
    case relation::labels:
      return replace_all(change, json(nullptr), "metadata.labels");
    case relation::label:
      set_label(change, from.key, std::nullopt);
      return {};
    case relation::inside:
      return inside_label(op);
  }
  return {};
}

// The effect of writing `value` where `to` names; nullptr = a value copied
// from the object, unknown here.
mca::result<void> apply_write(label_change& change, const located& to,
                              const json* value, std::string_view op) {
  if (to.where == relation::unrelated) return {};
  if (to.where == relation::inside) return inside_label(op);
  if (value == nullptr) {
    replace_unknown(change);
    return {};
  }
  if (to.where == relation::label) {
    if (!value->is_string()) {
      return client_error("JSON patch " + std::string(op) + " value for " +
                          field_path("metadata.labels", to.key) +
                          " is not a string");
    }
    set_label(change, to.key, value->get<std::string>());
    return {};
  }
  // The value is labels themselves, or an ancestor holding them.
  const json* labels = value;
  for (const auto& token : to.rest) {
    if (!labels->is_object()) {
      return client_error("JSON patch " + std::string(op) +
                          " value is not an object");
    }
    const auto it = labels->find(token);
    if (it == labels->end()) return replace_all(change, json(nullptr), "");
    labels = &*it;
  }
  return replace_all(change, *labels, "metadata.labels");
}

mca::result<label_change> json_patch_change(const json& doc) {
  if (!doc.is_array()) return client_error("JSON patch is not an array");
  label_change change;
  for (const auto& operation : doc) {
    if (!operation.is_object()) {
      return client_error("JSON patch operation is not an object");
    }
    const auto op_it = operation.find("op");
    const auto path_it = operation.find("path");
    if (op_it == operation.end() || !op_it->is_string()) {
      return client_error("JSON patch operation has no op string");
    }
    if (path_it == operation.end() || !path_it->is_string()) {
      return client_error("JSON patch operation has no path string");
    }
    const auto& op = op_it->get_ref<const std::string&>();
    if (op == "test") continue;  // changes nothing
    auto to = locate(path_it->get<std::string>(), "path");
    if (!to) return to.error();
    if (op == "add" || op == "replace") {
      const auto value = operation.find("value");
      if (value == operation.end()) {
        return client_error("JSON patch " + op + " operation has no value");
      }
      if (auto r = apply_write(change, *to, &*value, op); !r) return r.error();
    } else if (op == "remove") {
      if (auto r = apply_removal(change, *to, op); !r) return r.error();
    } else if (op == "move" || op == "copy") {
      const auto from_it = operation.find("from");
      if (from_it == operation.end() || !from_it->is_string()) {
        return client_error("JSON patch " + op +
                            " operation has no from string");
      }
      auto from = locate(from_it->get<std::string>(), "from");
      if (!from) return from.error();
      if (op == "move") {
        if (auto r = apply_removal(change, *from, op); !r) return r.error();
      }
      if (auto r = apply_write(change, *to, nullptr, op); !r) return r.error();
    } else {
      return client_error("JSON patch op \"" + excerpt(op) + "\" is unknown");
    }
  }
  return change;
}

bool is_directive(std::string_view key) {
  return !key.empty() && key.front() == '$';
}

// A merge patch (RFC 7386) or, with `strategic`, a strategic merge patch.
mca::result<label_change> merge_patch_change(const json& doc, bool strategic) {
  if (!doc.is_object()) {
    return client_error("merge patch is not a JSON object");
  }
  label_change change;
  // Strategic directives on the object or its metadata ($patch: replace or
  // delete, $retainKeys) can drop labels the patch does not mention.
  const auto replaces_parent = [strategic](const json& object) {
    return strategic &&
           (object.contains("$patch") || object.contains("$retainKeys"));
  };
  bool parent_replaced = replaces_parent(doc);
  const auto meta = doc.find("metadata");
  if (meta == doc.end()) {
    if (parent_replaced) replace_unknown(change);
    return change;
  }
  if (meta->is_null()) {
    if (auto r = replace_all(change, json(nullptr), ""); !r) return r.error();
    return change;
  }
  if (!meta->is_object()) return client_error("metadata is not an object");
  parent_replaced = parent_replaced || replaces_parent(*meta);
  const auto labels = meta->find("labels");
  if (labels == meta->end()) {
    if (parent_replaced) replace_unknown(change);
    return change;
  }
  if (labels->is_null()) {
    if (auto r = replace_all(change, json(nullptr), ""); !r) return r.error();
    return change;
  }
  if (!labels->is_object()) {
    return client_error("metadata.labels is not an object");
  }
  change.touches_labels = true;
  for (const auto& [key, value] : labels->items()) {
    if (strategic && is_directive(key)) {
      // $patch: replace/delete, $retainKeys, ...: the old map is not merged.
      change.replaces_all = true;
      if (key == "$patch" && value == "delete") {
        change.set.clear();
        break;
      }
      continue;
    }
    if (value.is_null()) {
      change.set[key] = std::nullopt;
    } else if (value.is_string()) {
      change.set[key] = value.get<std::string>();
    } else {
      return client_error(field_path("metadata.labels", key) +
                          " is not a string");
    }
  }
  if (parent_replaced) change.replaces_all = true;
  if (change.replaces_all) {
    // Only labels with values remain in a replaced map.
    std::erase_if(change.set, [](const auto& e) { return !e.second; });
  }
  return change;
}

mca::result<label_change> apply_change(std::string_view body) {
  auto meta = metadata_from_yaml_body(body);
  if (!meta) return meta.error();
  label_change change;
  change.touches_labels = meta->has_labels;
  for (auto& [key, value] : meta->labels) change.set[key] = std::move(value);
  return change;
}

}  // namespace

const char* to_string(patch_kind kind) noexcept {
  switch (kind) {
    case patch_kind::json_patch:
      return "json-patch";
    case patch_kind::merge_patch:
      return "merge-patch";
    case patch_kind::strategic_merge_patch:
      return "strategic-merge-patch";
    case patch_kind::apply:
      return "apply";
  }
  return "unknown";
}

mca::result<object_metadata> extract_metadata(std::string_view content_type,
                                              std::string_view body,
                                              std::size_t max_bytes) {
  if (auto r = check_size(body, max_bytes); !r) return r.error();
  auto format = format_of(content_type);
  if (!format) return format.error();
  switch (*format) {
    case body_format::json_text: {
      auto doc = parse_json(body);
      if (!doc) return doc.error();
      return metadata_from_json(*doc);
    }
    case body_format::yaml_text:
      return metadata_from_yaml_body(body);
    case body_format::protobuf:
      return metadata_from_protobuf(body);
  }
  return client_error("unsupported content type");
}

mca::result<patch_kind> patch_kind_from_content_type(
    std::string_view content_type) {
  const std::string type = media_type(content_type);
  if (type == "application/json-patch+json") return patch_kind::json_patch;
  if (type == "application/merge-patch+json") return patch_kind::merge_patch;
  if (type == "application/strategic-merge-patch+json") {
    return patch_kind::strategic_merge_patch;
  }
  if (type == "application/apply-patch+yaml") return patch_kind::apply;
  return client_error("content type \"" + excerpt(type) +
                      "\" is not a patch type");
}

mca::result<label_change> extract_label_change(patch_kind kind,
                                               std::string_view body,
                                               std::size_t max_bytes) {
  if (auto r = check_size(body, max_bytes); !r) return r.error();
  if (kind == patch_kind::apply) return apply_change(body);
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  if (kind == patch_kind::json_patch) return json_patch_change(*doc);
  return merge_patch_change(*doc, kind == patch_kind::strategic_merge_patch);
}

}  // namespace mca::routing
