#include "operator/controller/token_minter.hpp"

#include <ctime>

#include <nlohmann/json.hpp>

namespace mca::op {

namespace {

std::optional<std::chrono::system_clock::time_point> parse_time(
    const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

nlohmann::json token_request_body(const token_request_credentials& spec) {
  nlohmann::json body = nlohmann::json::object();
  body["apiVersion"] = "authentication.k8s.io/v1";
  body["kind"] = "TokenRequest";
  body["spec"] = nlohmann::json::object();
  body["spec"]["expirationSeconds"] = spec.expiration_seconds;
  if (!spec.audiences.empty()) body["spec"]["audiences"] = spec.audiences;
  return body;
}

http::request token_request(const token_request_credentials& spec) {
  http::request req;
  req.method = "POST";
  req.target =
      kube::resource_path(kube::resources::service_accounts(),
                          spec.namespace_name, spec.service_account, "token");
  req.headers.push_back({"Content-Type", "application/json"});
  req.body = token_request_body(spec).dump();
  return req;
}

}  // namespace

std::chrono::system_clock::time_point refresh_time(const minted_token& t) {
  return t.issued + (t.expires - t.issued) * 7 / 10;
}

mca::result<minted_token> read_token_request(
    const nlohmann::json& answer, std::chrono::system_clock::time_point now) {
  const auto status = answer.find("status");
  if (status == answer.end() || !status->is_object() ||
      !status->contains("token") || !(*status)["token"].is_string() ||
      (*status)["token"].get<std::string>().empty()) {
    return error::of(error_source::decode,
                     "the TokenRequest answer has no status.token");
  }
  const auto expires =
      parse_time(status->value("expirationTimestamp", std::string()));
  if (!expires || *expires <= now) {
    return error::of(error_source::decode,
                     "the TokenRequest answer has no usable "
                     "status.expirationTimestamp");
  }
  return minted_token{(*status)["token"].get<std::string>(), now, *expires};
}

boost::asio::awaitable<mca::result<minted_token>> mint_token(
    kube::rest_client& client, token_request_credentials spec) {
  auto answer = co_await client.call(token_request(spec));
  if (!answer) {
    co_return error::of(answer.error().source,
                        "TokenRequest for service account " +
                            spec.namespace_name + "/" + spec.service_account +
                            ": " + answer.error().message);
  }
  co_return read_token_request(*answer, std::chrono::system_clock::now());
}

}  // namespace mca::op
