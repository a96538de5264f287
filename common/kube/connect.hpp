#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "common/core/error.hpp"
#include "common/http/https_transport.hpp"
#include "common/kube/client_config.hpp"

namespace mca::kube {

// The transport a client_config describes: its server, CA and server name,
// and the credential source its auth asks for.
result<std::shared_ptr<http::transport>> make_transport(
    const boost::asio::any_io_executor& executor, const client_config& config,
    http::https_options options = {});

}  // namespace mca::kube
