#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace mca::test {

struct raw_response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string error;  // set when the exchange failed (no status)

  std::string header(const std::string& name) const;
};

struct raw_request {
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{std::chrono::seconds(20)};
};

// One request over a fresh connection, blocking: plain HTTP (admin port)
// or HTTPS verifying the server against `ca_pem` for the name 127.0.0.1.
// Exact bytes matter in some tests, so headers go out as given (plus Host).
raw_response http_request(const std::string& host, unsigned short port,
                          const raw_request& req);
raw_response https_request(const std::string& host, unsigned short port,
                           const std::string& ca_pem, const raw_request& req);

}  // namespace mca::test
