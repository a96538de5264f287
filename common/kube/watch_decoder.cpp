#include "common/kube/watch_decoder.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <utility>

namespace mca::kube {
namespace {

constexpr std::size_t excerpt_limit = 100;

// Messages end up in logs and JSON Status bodies, so the excerpt is bounded
// and reduced to printable ASCII: a cut through a UTF-8 sequence or a stray
// binary byte must not make the message itself unserialisable.
std::string excerpt(std::string_view text) {
  std::string out;
  const auto take = std::min(text.size(), excerpt_limit);
  out.reserve(take + 8);
  for (std::size_t i = 0; i < take; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      std::array<char, 5> hex{};
      std::snprintf(hex.data(), hex.size(), "\\x%02x", c);
      out.append(hex.data());
    }
  }
  if (take < text.size()) out.append("...");
  return out;
}

bool is_json_whitespace(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

error decode_error(std::string message) {
  return error::of(error_source::decode, "watch stream: " + std::move(message));
}

result<watch_event_type> event_type_of(const std::string& name) {
  if (name == "ADDED") return watch_event_type::added;
  if (name == "MODIFIED") return watch_event_type::modified;
  if (name == "DELETED") return watch_event_type::deleted;
  if (name == "BOOKMARK") return watch_event_type::bookmark;
  if (name == "ERROR") return watch_event_type::error;
  return decode_error("unknown event type \"" + excerpt(name) + "\"");
}

result<watch_event> decode_event(std::string_view text) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() quotes the last token read, which can be unbounded; report
    // the position and our own bounded excerpt instead.
    return decode_error("malformed JSON event (at byte " +
                        std::to_string(e.byte) + "): " + excerpt(text));
  } catch (const nlohmann::json::exception&) {
    return decode_error("malformed JSON event: " + excerpt(text));
  }
  if (!parsed.is_object()) {
    return decode_error("event is not a JSON object: " + excerpt(text));
  }
  auto type_it = parsed.find("type");
  if (type_it == parsed.end() || !type_it->is_string()) {
    return decode_error("event has no string \"type\": " + excerpt(text));
  }
  auto type = event_type_of(type_it->get_ref<const std::string&>());
  if (!type) return type.error();
  auto object_it = parsed.find("object");
  if (object_it == parsed.end() || !object_it->is_object()) {
    return decode_error("event has no object \"object\": " + excerpt(text));
  }
  return watch_event{*type, std::move(*object_it)};
}

}  // namespace

const char* to_string(watch_event_type type) noexcept {
  switch (type) {
    case watch_event_type::added:
      return "ADDED";
    case watch_event_type::modified:
      return "MODIFIED";
    case watch_event_type::deleted:
      return "DELETED";
    case watch_event_type::bookmark:
      return "BOOKMARK";
    case watch_event_type::error:
      return "ERROR";
  }
  return "ERROR";
}

watch_decoder::watch_decoder(std::size_t max_event_bytes)
    : max_event_bytes_(max_event_bytes) {}

// Invariant between calls: pending_ is empty when depth_ == 0, and otherwise
// holds exactly the partial event from its opening brace, scanned up to
// scanned_ == pending_.size().
result<void> watch_decoder::feed(std::string_view bytes,
                                 std::vector<watch_event>& out) {
  if (failed_) {
    return decode_error("decoder used again after an earlier error");
  }
  auto fail = [this](error e) -> result<void> {
    failed_ = true;
    pending_.clear();
    scanned_ = 0;
    depth_ = 0;
    in_string_ = false;
    escaped_ = false;
    return e;
  };

  pending_.append(bytes);
  // Start of the event being scanned; 0 when one was carried over.
  std::size_t start = 0;
  for (std::size_t i = scanned_; i < pending_.size(); ++i) {
    const char c = pending_[i];
    if (depth_ == 0) {
      if (is_json_whitespace(c)) continue;
      if (c != '{') {
        return fail(
            decode_error("unexpected data between events: " +
                         excerpt(std::string_view(pending_).substr(i))));
      }
      start = i;
      depth_ = 1;
      continue;
    }
    if (i - start + 1 > max_event_bytes_) {
      return fail(decode_error(
          "event larger than " + std::to_string(max_event_bytes_) +
          " bytes: " + excerpt(std::string_view(pending_).substr(start))));
    }
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{') {
      ++depth_;
    } else if (c == '}' && --depth_ == 0) {
      auto event =
          decode_event(std::string_view(pending_).substr(start, i - start + 1));
      if (!event) return fail(event.error());
      out.push_back(std::move(*event));
    }
  }

  // Erasing once per feed, not once per event, keeps a chunk carrying many
  // small events linear.
  if (depth_ == 0) {
    pending_.clear();
  } else {
    pending_.erase(0, start);
  }
  scanned_ = pending_.size();
  return {};
}

bool watch_decoder::at_boundary() const noexcept {
  return !failed_ && depth_ == 0;
}

}  // namespace mca::kube
