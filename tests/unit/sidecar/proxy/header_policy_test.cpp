#include "sidecar/proxy/header_policy.hpp"

#include <string_view>

#include <gtest/gtest.h>

namespace mca::sidecar {
namespace {

struct header_row {
  std::string_view name;
  bool identity;
  bool hop_by_hop;
};

// Every identity form in the spellings a client may send (field names are
// case-insensitive), and ordinary headers that only look close.
constexpr header_row header_rows[] = {
    // The app's own credentials.
    {"Authorization", true, false},
    {"authorization", true, false},
    {"AUTHORIZATION", true, false},
    {"Proxy-Authorization", true, false},
    {"proxy-authorization", true, false},
    {"PROXY-AUTHORIZATION", true, false},
    // Impersonation, every header the API server reads.
    {"Impersonate-User", true, false},
    {"impersonate-user", true, false},
    {"IMPERSONATE-USER", true, false},
    {"Impersonate-Group", true, false},
    {"impersonate-group", true, false},
    {"Impersonate-Uid", true, false},
    {"impersonate-uid", true, false},
    {"Impersonate-Extra-scopes", true, false},
    {"impersonate-extra-scopes", true, false},
    {"IMPERSONATE-EXTRA-SCOPES", true, false},
    {"Impersonate-Extra-", true, false},
    // Front-proxy headers.
    {"X-Remote-User", true, false},
    {"x-remote-user", true, false},
    {"X-REMOTE-USER", true, false},
    {"X-Remote-Group", true, false},
    {"x-remote-group", true, false},
    {"X-Remote-Extra-foo", true, false},
    {"x-remote-extra-foo", true, false},
    {"X-Remote-Uid", true, false},
    // Ordinary request headers pass.
    {"Accept", false, false},
    {"Content-Type", false, false},
    {"Content-Length", false, false},
    {"User-Agent", false, false},
    {"X-Request-Id", false, false},
    {"Host", false, false},
    {"Accept-Encoding", false, false},
    {"Transfer-Encoding", false, false},  // the body keeps its framing
    // Near misses: only the "Impersonate-" and "X-Remote-" prefixes count.
    {"Impersonatex", false, false},
    {"Impersonate", false, false},
    {"ImpersonateUser", false, false},
    {"X-Impersonate-User", false, false},
    {"X-Remote", false, false},
    {"X-RemoteUser", false, false},
    {"Authorization2", false, false},
    {"X-Authorization", false, false},
    {"Authorizatio", false, false},
    {"", false, false},
    // Hop-by-hop (RFC 9110 §7.6.1), any case.
    {"Connection", false, true},
    {"connection", false, true},
    {"CONNECTION", false, true},
    {"Keep-Alive", false, true},
    {"keep-alive", false, true},
    {"Proxy-Connection", false, true},
    {"proxy-connection", false, true},
    {"TE", false, true},
    {"te", false, true},
    {"Trailer", false, true},
    {"trailer", false, true},
    {"Upgrade", false, true},
    {"upgrade", false, true},
    // Near misses for hop-by-hop.
    {"Connections", false, false},
    {"Trailers", false, false},
    {"T", false, false},
    {"Upgrade-Insecure-Requests", false, false},
};

TEST(HeaderPolicy, ClassifiesEveryHeader) {
  for (const header_row& r : header_rows) {
    EXPECT_EQ(is_identity_header(r.name), r.identity) << "\"" << r.name << "\"";
    EXPECT_EQ(is_hop_by_hop_header(r.name), r.hop_by_hop)
        << "\"" << r.name << "\"";
    EXPECT_EQ(is_dropped_request_header(r.name), r.identity || r.hop_by_hop)
        << "\"" << r.name << "\"";
  }
}

TEST(HeaderPolicy, ComparesOnlyTheGivenBytes) {
  // A name that is a view into a longer buffer must be judged by its own
  // length, not read past it.
  constexpr std::string_view buffer = "AuthorizationX";
  EXPECT_TRUE(is_identity_header(buffer.substr(0, 13)));
  EXPECT_FALSE(is_identity_header(buffer));
  constexpr std::string_view te = "TEX";
  EXPECT_TRUE(is_hop_by_hop_header(te.substr(0, 2)));
  EXPECT_FALSE(is_hop_by_hop_header(te));
}

}  // namespace
}  // namespace mca::sidecar
