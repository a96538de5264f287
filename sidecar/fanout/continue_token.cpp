#include "sidecar/fanout/continue_token.hpp"

#include <utility>

#include <nlohmann/json.hpp>

#include "common/util/strings.hpp"
#include "sidecar/fanout/opaque_token.hpp"

namespace mca::sidecar::fanout {

namespace {

error not_issued(std::string_view why) {
  return error::of(error_source::client,
                   "the continue token is not one this sidecar issued (" +
                       std::string(why) +
                       "); start a new list without the continue parameter");
}

// 410 Expired is what an API server answers for a continue token it can no
// longer serve; clients (client-go's pager, kubectl) then list again from
// the start, which is the right reaction to a rule whose targets changed.
error expired(std::string message) {
  error e = error::of(error_source::client, message);
  e.status = api_status{410, "Expired", std::move(message), {}};
  return e;
}

}  // namespace

std::string encode(const fanout_continue& token) {
  return encode_opaque(
      continue_prefix,
      nlohmann::json::array(
          {token.cluster_index, token.upstream_continue, token.list_version}));
}

result<fanout_continue> decode_continue(std::string_view text) {
  const opaque_decoded d =
      decode_opaque(continue_prefix, text, max_continue_bytes);
  switch (d.fault) {
    case opaque_fault::none:
      break;
    case opaque_fault::wrong_prefix:
      return not_issued("it does not start with \"" +
                        std::string(continue_prefix) + "\"");
    case opaque_fault::too_long:
      return not_issued("longer than " + std::to_string(max_continue_bytes) +
                        " bytes");
    case opaque_fault::bad_base64:
      return not_issued("bad base64url");
    case opaque_fault::bad_json:
      return not_issued("its content is not JSON");
    case opaque_fault::not_canonical:
      return not_issued("not in the form the sidecar issues");
  }
  const auto& v = d.value;
  if (!v.is_array() || v.size() != 3 || !v[0].is_number_unsigned() ||
      !v[1].is_string() || !v[2].is_string()) {
    return not_issued("malformed content");
  }
  fanout_continue out;
  out.cluster_index = v[0].get<std::size_t>();
  out.upstream_continue = v[1].get<std::string>();
  out.list_version = v[2].get<std::string>();
  if (out.upstream_continue.size() > max_upstream_continue_bytes) {
    return not_issued("its upstream token is too long");
  }
  if (!decode(out.list_version)) {
    return not_issued("its resourceVersion is not valid");
  }
  return out;
}

bool is_paged(std::int64_t limit, std::string_view continue_param) noexcept {
  return limit > 0 || !continue_param.empty();
}

result<page_request> plan_page(std::int64_t limit,
                               const std::vector<std::string>& clusters,
                               std::string_view continue_param,
                               std::string_view client_version) {
  if (clusters.empty()) {
    return error::of(error_source::internal,
                     "a fan-out list needs at least one cluster");
  }
  if (limit < 0) {
    return error::of(error_source::client, "limit must not be negative");
  }
  page_request out;
  out.upstream_limit = limit;
  if (continue_param.empty()) {
    out.cluster = clusters.front();
    auto rv = upstream_version(client_version, out.cluster, clusters.size());
    if (!rv) return rv.error();
    out.upstream_resource_version =
        (*rv == "0" && limit > 0) ? std::string() : std::move(*rv);
    return out;
  }
  if (!client_version.empty()) {
    // The API server's own wording for the same mistake.
    return error::of(error_source::client,
                     "specifying resource version is not allowed when using "
                     "continue");
  }
  auto token = decode_continue(continue_param);
  if (!token) return token.error();
  auto listed = decode(token->list_version);
  if (!listed) return not_issued("its resourceVersion is not valid");
  // The token is only meaningful for the clusters it was issued over: the
  // ones before its index, and its own when it is part-way through it.
  const std::size_t seen =
      token->cluster_index + (token->upstream_continue.empty() ? 0 : 1);
  bool same =
      token->cluster_index < clusters.size() && listed->versions.size() == seen;
  for (std::size_t i = 0; same && i < seen; ++i) {
    same = listed->versions.contains(clusters[i]);
  }
  if (!same) {
    return expired(
        "the clusters of this list changed since its first page (now " +
        join(clusters, ", ") +
        "); start a new list without the continue parameter");
  }
  out.cluster_index = token->cluster_index;
  out.cluster = clusters[out.cluster_index];
  out.upstream_continue = std::move(token->upstream_continue);
  out.listed = std::move(*listed);
  return out;
}

result<page_request> skip_page(const page_request& request,
                               const std::vector<std::string>& clusters) {
  if (request.cluster_index + 1 >= clusters.size()) {
    return error::of(error_source::internal, "no cluster after " +
                                                 quote(request.cluster) +
                                                 " to continue the list with");
  }
  page_request next;
  next.cluster_index = request.cluster_index + 1;
  next.cluster = clusters[next.cluster_index];
  next.upstream_limit = request.upstream_limit;
  next.listed = with(request.listed, request.cluster, "0");
  return next;
}

result<page_outcome> finish_page(const page_request& request,
                                 const std::vector<std::string>& clusters,
                                 const upstream_page& page) {
  if (request.cluster_index >= clusters.size() ||
      clusters[request.cluster_index] != request.cluster) {
    return error::of(error_source::internal,
                     "page request for cluster " + quote(request.cluster) +
                         " does not belong to this list's clusters");
  }
  if (request.upstream_limit > 0 &&
      page.item_count > static_cast<std::size_t>(request.upstream_limit)) {
    return error::of(error_source::decode,
                     "cluster " + quote(request.cluster) + " returned " +
                         std::to_string(page.item_count) + " items for limit " +
                         std::to_string(request.upstream_limit));
  }
  if (page.continue_token.size() > max_upstream_continue_bytes) {
    return error::of(error_source::decode,
                     "cluster " + quote(request.cluster) +
                         " returned a continue token longer than " +
                         std::to_string(max_upstream_continue_bytes) +
                         " bytes");
  }
  // A cluster's later pages repeat the version of its snapshot; the one
  // recorded at its first page stays.
  composite_version listed = request.listed;
  if (!listed.versions.contains(request.cluster)) {
    listed = with(std::move(listed), request.cluster, page.resource_version);
  }
  auto version = encode(listed);
  if (!version) return version.error();

  page_outcome out;
  out.list_version = *version;
  const bool last_cluster = request.cluster_index + 1 == clusters.size();
  if (!page.continue_token.empty()) {
    out.continue_token = encode(
        fanout_continue{request.cluster_index, page.continue_token, *version});
  } else if (!last_cluster) {
    out.continue_token =
        encode(fanout_continue{request.cluster_index + 1, "", *version});
  }
  if (last_cluster) out.remaining_item_count = page.remaining_item_count;
  return out;
}

}  // namespace mca::sidecar::fanout
