#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace mca {

// Where an error came from. It picks the HTTP code a proxy answers with and
// the label of the error metric, so every error carries one.
enum class error_source {
  config,     // a kubeconfig, flag or file the user gave us
  client,     // the caller's request was invalid
  transport,  // connect, TLS, timeout, connection dropped
  api,        // the API server answered with a failure Status
  decode,     // the API server's answer could not be understood
  internal,   // a bug or resource exhaustion on our side
};

const char* to_string(error_source source) noexcept;

// A Kubernetes `Status` as the API server sent it (or as we would send it).
struct api_status {
  int code = 0;         // HTTP status code
  std::string reason;   // e.g. NotFound, Conflict, Expired, Gone
  std::string message;  // human-readable, already safe to show
  std::string details;  // the `details` object as JSON text, or empty
};

// An error as a value. `message` says what failed and why, naming the file,
// field, server or request involved, and never contains a secret.
struct error {
  error_source source = error_source::internal;
  std::string message;
  api_status status;  // set when source == api (and for 410s of a watch)

  static error of(error_source source, std::string message) {
    return error{source, std::move(message), {}};
  }
  bool is_api(int code) const noexcept {
    return source == error_source::api && status.code == code;
  }
};

template <class T>
using result = boost::system::result<T, error>;

// Explicit success, for value types (like nlohmann::json) that convert to
// anything and so make result's implicit constructors ambiguous.
template <class T>
result<std::decay_t<T>> ok(T&& value) {
  return result<std::decay_t<T>>(boost::system::in_place_value,
                                 std::forward<T>(value));
}

// boost::system::result<T, error>::value() on an error throws this.
class error_exception : public std::exception {
 public:
  explicit error_exception(mca::error e) : error_(std::move(e)) {}
  const char* what() const noexcept override { return error_.message.c_str(); }
  const mca::error& get() const noexcept { return error_; }

 private:
  mca::error error_;
};

[[noreturn]] void throw_exception_from_error(const error& e,
                                             const boost::source_location& loc);

}  // namespace mca
