// replica-server: the Replica Count Management Server of RFD 156, built on
// MCA's client library. main() stays thin; everything it wires up lives in
// a library the tests link.
#include <iostream>
#include <optional>

#include "app/replica_server_app.hpp"
#include "app/server_options.hpp"

int main(int argc, char** argv) {
  replica_server::server_options options;
  if (const std::optional<int> code = replica_server::parse_server_options(
          argc, argv, options, std::cout, std::cerr)) {
    return *code;
  }
  return replica_server::run_replica_server(options, std::cerr);
}
