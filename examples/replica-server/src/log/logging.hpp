#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <spdlog/common.h>

namespace replica_server {

// RFD 156 asks for syslog-style text lines now and structured JSON later;
// both are here, chosen by --log-format. Lines go to stderr, one per event.
enum class log_format { text, json };

std::optional<log_format> parse_log_format(std::string_view text);

// `text` as the inside of a JSON string (pure): quotes, backslashes and
// control characters escaped; bytes that are not valid UTF-8 become U+FFFD,
// so a client's hostile path cannot break a log line.
std::string json_escape(std::string_view text);

// Installs the process-wide logger:
//   text: 2024-05-01T10:00:00.123Z info informer: deployment ns/web added
//   json: {"time":"...","level":"info","logger":"replica-server","msg":"..."}
void configure_logging(log_format format, spdlog::level::level_enum level);

}  // namespace replica_server
