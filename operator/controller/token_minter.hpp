#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include "common/core/error.hpp"
#include "common/kube/rest_client.hpp"
#include "operator/model/cluster_target.hpp"

namespace mca::op {

struct minted_token {
  std::string token;
  std::chrono::system_clock::time_point issued;
  std::chrono::system_clock::time_point expires;
};

// When to mint the next token: at 70% of the lifetime, so the fresh one is
// compiled, pushed and acknowledged before the old one passes 80%.
std::chrono::system_clock::time_point refresh_time(const minted_token& t);

// Reads a TokenRequest's answer (status.token, status.expirationTimestamp).
mca::result<minted_token> read_token_request(
    const nlohmann::json& answer, std::chrono::system_clock::time_point now);

// Asks `client` (the target cluster, as the operator reaches it) for a
// token of the ServiceAccount the spec names.
boost::asio::awaitable<mca::result<minted_token>> mint_token(
    kube::rest_client& client, token_request_credentials spec);

}  // namespace mca::op
