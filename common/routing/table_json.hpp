#pragma once

#include <nlohmann/json_fwd.hpp>

namespace mca::routing {

struct routing_table;

// The table in force as the admin `/routes` endpoint shows it: the routes
// file schema (same field names, so an operator can diff it against a file
// or feed it back to `--routes`), with secrets left out. A token `value`
// becomes "<redacted>"; CA data is public but long, so it shows as
// "<N bytes>". Paths are kept: they say where a secret lives, not what it is.
nlohmann::json to_redacted_json(const routing_table& table);

}  // namespace mca::routing
