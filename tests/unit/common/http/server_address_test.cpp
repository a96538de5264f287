#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/http/tls_connection_pool.hpp"

namespace mca::http {
namespace {

using ::testing::HasSubstr;

TEST(ServerAddress, ParsesHttpsUrls) {
  struct row {
    std::string in;
    std::string url;
    std::string host;
    std::string port;
    std::string prefix;
    std::string host_header;
  };
  const row rows[] = {
      {"https://host", "https://host", "host", "443", "", "host"},
      {"https://host/", "https://host", "host", "443", "", "host"},
      {"https://host:443", "https://host:443", "host", "443", "", "host"},
      {"https://host:6443", "https://host:6443", "host", "6443", "",
       "host:6443"},
      {"https://host:6443/prefix/", "https://host:6443/prefix", "host", "6443",
       "/prefix", "host:6443"},
      {"https://host:6443/a/b//", "https://host:6443/a/b", "host", "6443",
       "/a/b", "host:6443"},
      {"https://api.east.example.com/k8s", "https://api.east.example.com/k8s",
       "api.east.example.com", "443", "/k8s", "api.east.example.com"},
      {"https://10.0.0.1:443", "https://10.0.0.1:443", "10.0.0.1", "443", "",
       "10.0.0.1"},
      {"https://[::1]:8443", "https://[::1]:8443", "::1", "8443", "",
       "[::1]:8443"},
      {"https://[::1]", "https://[::1]", "::1", "443", "", "[::1]"},
      {"https://[fd00::10]:6443/p", "https://[fd00::10]:6443/p", "fd00::10",
       "6443", "/p", "[fd00::10]:6443"},
  };
  for (const row& r : rows) {
    const auto a = parse_server_url(r.in);
    ASSERT_TRUE(a.has_value()) << r.in << ": " << a.error().message;
    EXPECT_EQ(a->url, r.url) << r.in;
    EXPECT_EQ(a->host, r.host) << r.in;
    EXPECT_EQ(a->port, r.port) << r.in;
    EXPECT_EQ(a->prefix, r.prefix) << r.in;
    EXPECT_EQ(a->host_header(), r.host_header) << r.in;
  }
}

TEST(ServerAddress, HostHeaderForms) {
  struct row {
    std::string host;
    std::string port;
    std::string want;
  };
  const row rows[] = {
      {"host", "443", "host"},
      {"host", "6443", "host:6443"},
      {"10.0.0.1", "443", "10.0.0.1"},
      {"10.0.0.1", "8443", "10.0.0.1:8443"},
      {"::1", "443", "[::1]"},
      {"::1", "8443", "[::1]:8443"},
      {"fd00::10", "6443", "[fd00::10]:6443"},
  };
  for (const row& r : rows) {
    server_address a;
    a.host = r.host;
    a.port = r.port;
    EXPECT_EQ(a.host_header(), r.want) << r.host << " " << r.port;
  }
}

TEST(ServerAddress, RefusesAnythingButHttpsWithAHost) {
  struct row {
    std::string in;
    std::string want;  // in the message
  };
  const row rows[] = {
      {"http://host:8080", "must be an https:// URL"},
      {"http://host", "must be an https:// URL"},
      {"ftp://host", "must be an https:// URL"},
      {"https://", "has no host"},
      {"https:///prefix", "has no host"},
      {"https://:6443", "has no host"},
      {"not a url", "is not a URL"},
      {"", "is not a URL"},
      {"host:6443", "must be an https:// URL"},
      {"//host", "is not a URL"},
  };
  for (const row& r : rows) {
    const auto a = parse_server_url(r.in);
    ASSERT_FALSE(a.has_value()) << "accepted \"" << r.in << "\"";
    EXPECT_EQ(a.error().source, error_source::config) << r.in;
    EXPECT_THAT(a.error().message, HasSubstr(r.want)) << r.in;
    EXPECT_THAT(a.error().message, HasSubstr("'" + r.in + "'")) << r.in;
  }
}

}  // namespace
}  // namespace mca::http
