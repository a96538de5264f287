#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace replica_server {

// One HTTP request as the API sees it: no sockets, no Beast types, so every
// decision about it is a plain function tests call with literals.
struct api_request {
  std::string method;        // "GET", "PUT", ...
  std::string target;        // path and query, as sent
  std::string content_type;  // empty when the client sent none
  std::string body;
};

struct api_header {
  std::string name;
  std::string value;
};

// What the server writes back. Every body is JSON.
struct api_reply {
  int status = 200;
  std::string body;
  std::vector<api_header> headers;  // besides Content-Type and Content-Length
};

// A refusal or failure the API answers with `{"error": message}`. `allow`
// lists the methods a 405 names in its Allow header.
struct api_error {
  int status = 500;
  std::string message;
  std::vector<std::string> allow;

  static api_error of(int status, std::string message) {
    return api_error{status, std::move(message), {}};
  }
};

template <class T>
using api_result = boost::system::result<T, api_error>;

// result<T, api_error>::value() on an error throws this; the API itself
// only ever tests and dereferences.
[[noreturn]] void throw_exception_from_error(const api_error& e,
                                             const boost::source_location& loc);

// The largest replica count a Deployment holds (spec.replicas is int32).
inline constexpr std::int64_t max_replicas = 2147483647;

}  // namespace replica_server
