#include "api/api_types.hpp"

#include <stdexcept>

#include <boost/throw_exception.hpp>

namespace replica_server {

void throw_exception_from_error(const api_error& e,
                                const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.message), loc);
}

}  // namespace replica_server
