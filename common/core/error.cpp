#include "common/core/error.hpp"

#include <boost/throw_exception.hpp>

namespace mca {

const char* to_string(error_source source) noexcept {
  switch (source) {
    case error_source::config:
      return "config";
    case error_source::client:
      return "client";
    case error_source::transport:
      return "transport";
    case error_source::api:
      return "api";
    case error_source::decode:
      return "decode";
    case error_source::internal:
      return "internal";
  }
  return "internal";
}

void throw_exception_from_error(const error& e,
                                const boost::source_location& loc) {
  boost::throw_exception(error_exception(e), loc);
}

}  // namespace mca
