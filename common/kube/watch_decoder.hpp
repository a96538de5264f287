#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/core/error.hpp"

namespace mca::kube {

enum class watch_event_type { added, modified, deleted, bookmark, error };

const char* to_string(watch_event_type type) noexcept;

struct watch_event {
  watch_event_type type = watch_event_type::error;
  // The object; for `error` events the Status the API server sent.
  nlohmann::json object;
};

// Incremental decoder of a JSON watch stream: a sequence of
// {"type": ..., "object": {...}} objects, possibly separated by whitespace,
// arriving split at arbitrary byte boundaries (chunked transfer).
// It buffers at most one partial event, bounded by max_event_bytes.
class watch_decoder {
 public:
  explicit watch_decoder(std::size_t max_event_bytes = 16UL * 1024 * 1024);

  // Appends every event completed by `bytes` to `out`. A malformed event, an
  // unknown type or one over the bound is an error (source decode); the
  // decoder is then unusable.
  result<void> feed(std::string_view bytes, std::vector<watch_event>& out);

  // True when no partial event is buffered (the stream may end here).
  bool at_boundary() const noexcept;

 private:
  std::size_t max_event_bytes_;
  std::string pending_;
  // Scanner state over pending_, so bytes are looked at once.
  std::size_t scanned_ = 0;
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  bool failed_ = false;
};

}  // namespace mca::kube
