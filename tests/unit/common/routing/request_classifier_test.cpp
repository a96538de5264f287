#include "common/routing/request_classifier.hpp"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace mca::routing {
namespace {

struct row {
  std::string method;
  std::string target;
  request_info want;  // every field is compared, so unset ones must be empty
};

void expect_classified_as(const row& r) {
  SCOPED_TRACE(r.method + " " + r.target);
  const auto got = classify(r.method, r.target);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  const request_info& want = r.want;
  EXPECT_STREQ(to_string(got->kind), to_string(want.kind));
  EXPECT_EQ(got->is_resource_request, want.is_resource_request);
  EXPECT_EQ(got->api_prefix, want.api_prefix);
  EXPECT_EQ(got->group, want.group);
  EXPECT_EQ(got->version, want.version);
  EXPECT_EQ(got->resource, want.resource);
  EXPECT_EQ(got->subresource, want.subresource);
  EXPECT_EQ(got->namespace_name, want.namespace_name);
  EXPECT_EQ(got->name, want.name);
  EXPECT_EQ(got->label_selector, want.label_selector);
  EXPECT_EQ(got->field_selector, want.field_selector);
  EXPECT_EQ(got->watch, want.watch);
  EXPECT_EQ(got->path, want.path);
}

// A core resource request; with() and the tests fill in the rest.
request_info core(verb kind, std::string resource, std::string path) {
  request_info i;
  i.kind = kind;
  i.is_resource_request = true;
  i.api_prefix = "api";
  i.version = "v1";
  i.resource = std::move(resource);
  i.path = std::move(path);
  i.watch = kind == verb::watch;
  return i;
}

request_info with(request_info i, std::string ns, std::string name = {},
                  std::string sub = {}) {
  i.namespace_name = std::move(ns);
  i.name = std::move(name);
  i.subresource = std::move(sub);
  return i;
}

request_info grouped(verb kind, std::string group, std::string version,
                     std::string resource, std::string path) {
  request_info i = core(kind, std::move(resource), std::move(path));
  i.api_prefix = "apis";
  i.group = std::move(group);
  i.version = std::move(version);
  return i;
}

request_info non_resource(std::string path) {
  request_info i;
  i.path = std::move(path);
  return i;
}

TEST(RequestClassifier, CoreAndGroupedCollectionsObjectsAndSubresources) {
  const std::vector<row> rows = {
      {"GET", "/api/v1/pods", core(verb::list, "pods", "/api/v1/pods")},
      {"GET", "/api/v1/namespaces/ns/pods",
       with(core(verb::list, "pods", "/api/v1/namespaces/ns/pods"), "ns")},
      {"GET", "/api/v1/namespaces/ns/pods/web-0",
       with(core(verb::get, "pods", "/api/v1/namespaces/ns/pods/web-0"), "ns",
            "web-0")},
      {"GET", "/api/v1/namespaces/ns/pods/web-0/log?container=app",
       with(core(verb::get, "pods", "/api/v1/namespaces/ns/pods/web-0/log"),
            "ns", "web-0", "log")},
      {"HEAD", "/api/v1/namespaces/ns/pods/web-0",
       with(core(verb::get, "pods", "/api/v1/namespaces/ns/pods/web-0"), "ns",
            "web-0")},
      {"HEAD", "/api/v1/namespaces/ns/pods",
       with(core(verb::list, "pods", "/api/v1/namespaces/ns/pods"), "ns")},
      {"GET", "/api/v1/nodes", core(verb::list, "nodes", "/api/v1/nodes")},
      {"GET", "/api/v1/nodes/node-1",
       with(core(verb::get, "nodes", "/api/v1/nodes/node-1"), "", "node-1")},
      {"GET", "/apis/apps/v1/namespaces/ns/deployments",
       with(grouped(verb::list, "apps", "v1", "deployments",
                    "/apis/apps/v1/namespaces/ns/deployments"),
            "ns")},
      {"GET", "/apis/apps/v1/deployments",
       grouped(verb::list, "apps", "v1", "deployments",
               "/apis/apps/v1/deployments")},
      {"PUT", "/apis/apps/v1/namespaces/ns/deployments/web/scale",
       with(grouped(verb::update, "apps", "v1", "deployments",
                    "/apis/apps/v1/namespaces/ns/deployments/web/scale"),
            "ns", "web", "scale")},
      {"GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
       with(
           grouped(verb::get, "rbac.authorization.k8s.io", "v1", "clusterroles",
                   "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin"),
           "", "admin")},
      {"PATCH", "/apis/mca.x-k8s.io/v1alpha1/clustertargets/east/status",
       with(grouped(verb::patch, "mca.x-k8s.io", "v1alpha1", "clustertargets",
                    "/apis/mca.x-k8s.io/v1alpha1/clustertargets/east/status"),
            "", "east", "status")},
      // Deeper parts are not interpreted.
      {"GET", "/api/v1/namespaces/ns/pods/web-0/log/extra/parts",
       with(core(verb::get, "pods",
                 "/api/v1/namespaces/ns/pods/web-0/log/extra/parts"),
            "ns", "web-0", "log")},
      // One trailing slash is trimmed, as the API server does.
      {"GET", "/api/v1/namespaces/ns/pods/",
       with(core(verb::list, "pods", "/api/v1/namespaces/ns/pods/"), "ns")},
      // Segments are decoded; an encoded '/' separates, as in URL.Path.
      {"GET", "/api/v1/namespaces/ns/configmaps/a%20b+c",
       with(core(verb::get, "configmaps",
                 "/api/v1/namespaces/ns/configmaps/a b+c"),
            "ns", "a b+c")},
      {"GET", "/api/v1/namespaces/ns/configmaps/a%2Fb",
       with(core(verb::get, "configmaps",
                 "/api/v1/namespaces/ns/configmaps/a/b"),
            "ns", "a", "b")},
  };
  for (const auto& r : rows) expect_classified_as(r);
}

TEST(RequestClassifier, NamespacesAreTheirOwnResourceAndNamespace) {
  const std::vector<row> rows = {
      {"GET", "/api/v1/namespaces",
       core(verb::list, "namespaces", "/api/v1/namespaces")},
      {"POST", "/api/v1/namespaces",
       core(verb::create, "namespaces", "/api/v1/namespaces")},
      {"GET", "/api/v1/namespaces/kube-system",
       with(core(verb::get, "namespaces", "/api/v1/namespaces/kube-system"),
            "kube-system", "kube-system")},
      {"DELETE", "/api/v1/namespaces/team-a",
       with(core(verb::delete_, "namespaces", "/api/v1/namespaces/team-a"),
            "team-a", "team-a")},
      {"PUT", "/api/v1/namespaces/team-a/status",
       with(
           core(verb::update, "namespaces", "/api/v1/namespaces/team-a/status"),
           "team-a", "team-a", "status")},
      {"PUT", "/api/v1/namespaces/team-a/finalize",
       with(core(verb::update, "namespaces",
                 "/api/v1/namespaces/team-a/finalize"),
            "team-a", "team-a", "finalize")},
  };
  for (const auto& r : rows) expect_classified_as(r);
}

TEST(RequestClassifier, WatchByQueryAndByLegacyPath) {
  auto asked = [](request_info i) {
    i.watch = true;
    return i;
  };
  const std::vector<row> rows = {
      {"GET", "/api/v1/pods?watch=1",
       core(verb::watch, "pods", "/api/v1/pods")},
      {"GET", "/api/v1/namespaces/ns/pods?resourceVersion=10&watch=true",
       with(core(verb::watch, "pods", "/api/v1/namespaces/ns/pods"), "ns")},
      // Like Go's bool conversion: only "0" and "false" (any case) are false.
      {"GET", "/api/v1/pods?watch=TRUE",
       core(verb::watch, "pods", "/api/v1/pods")},
      {"GET", "/api/v1/pods?watch", core(verb::watch, "pods", "/api/v1/pods")},
      {"GET", "/api/v1/pods?watch=false",
       core(verb::list, "pods", "/api/v1/pods")},
      {"GET", "/api/v1/pods?watch=False",
       core(verb::list, "pods", "/api/v1/pods")},
      {"GET", "/api/v1/pods?watch=0", core(verb::list, "pods", "/api/v1/pods")},
      // The first occurrence wins.
      {"GET", "/api/v1/pods?watch=0&watch=1",
       core(verb::list, "pods", "/api/v1/pods")},
      {"HEAD", "/api/v1/pods?watch=1",
       core(verb::watch, "pods", "/api/v1/pods")},
      // The API server serves a named GET as a get whatever ?watch says.
      {"GET", "/api/v1/namespaces/ns/pods/web-0?watch=true",
       asked(with(core(verb::get, "pods", "/api/v1/namespaces/ns/pods/web-0"),
                  "ns", "web-0"))},
      {"GET", "/api/v1/watch/pods",
       core(verb::watch, "pods", "/api/v1/watch/pods")},
      {"GET", "/api/v1/watch/namespaces/ns/pods/web-0",
       with(core(verb::watch, "pods", "/api/v1/watch/namespaces/ns/pods/web-0"),
            "ns", "web-0")},
      {"GET", "/api/v1/watch/namespaces/ns",
       with(core(verb::watch, "namespaces", "/api/v1/watch/namespaces/ns"),
            "ns", "ns")},
      {"GET", "/apis/apps/v1/watch/namespaces/ns/deployments?watch=0",
       with(grouped(verb::watch, "apps", "v1", "deployments",
                    "/apis/apps/v1/watch/namespaces/ns/deployments"),
            "ns")},
  };
  for (const auto& r : rows) expect_classified_as(r);
}

TEST(RequestClassifier, SelectorsAreDecodedAndAMetadataNameSelectorNames) {
  auto selectors = [](request_info i, std::string label, std::string field) {
    i.label_selector = std::move(label);
    i.field_selector = std::move(field);
    return i;
  };
  const std::vector<row> rows = {
      {"GET",
       "/api/v1/namespaces/ns/"
       "pods?labelSelector=app%20in%20(a%2Cb)%2Ctier!%3Dx",
       selectors(
           with(core(verb::list, "pods", "/api/v1/namespaces/ns/pods"), "ns"),
           "app in (a,b),tier!=x", "")},
      {"GET", "/api/v1/pods?labelSelector=app+in+(a%2Cb)&limit=500",
       selectors(core(verb::list, "pods", "/api/v1/pods"), "app in (a,b)", "")},
      {"GET", "/api/v1/pods?labelSelector=a%2Bb%3Dc",
       selectors(core(verb::list, "pods", "/api/v1/pods"), "a+b=c", "")},
      {"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1",
       selectors(core(verb::list, "pods", "/api/v1/pods"), "",
                 "spec.nodeName=node-1")},
      // A list or watch of one object by name names that object.
      {"GET",
       "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb-0&watch=1",
       selectors(with(core(verb::watch, "pods", "/api/v1/namespaces/ns/pods"),
                      "ns", "web-0"),
                 "", "metadata.name=web-0")},
      {"GET",
       "/api/v1/pods?fieldSelector=spec.nodeName%3Dn,metadata.name%3D%3Dweb-1",
       selectors(with(core(verb::list, "pods", "/api/v1/pods"), "", "web-1"),
                 "", "spec.nodeName=n,metadata.name==web-1")},
      {"GET", "/api/v1/pods?fieldSelector=metadata.name!%3Dweb-0",
       selectors(core(verb::list, "pods", "/api/v1/pods"), "",
                 "metadata.name!=web-0")},
      // Not a usable path segment, or an invalid selector: no name.
      {"GET", "/api/v1/pods?fieldSelector=metadata.name%3Da%2Fb",
       selectors(core(verb::list, "pods", "/api/v1/pods"), "",
                 "metadata.name=a/b")},
      {"GET", "/api/v1/pods?fieldSelector=metadata.name%3Da,bogus",
       selectors(core(verb::list, "pods", "/api/v1/pods"), "",
                 "metadata.name=a,bogus")},
      // Only lists are named this way, not a deletecollection.
      {"DELETE", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dx",
       selectors(with(core(verb::deletecollection, "pods",
                           "/api/v1/namespaces/ns/pods"),
                      "ns"),
                 "", "metadata.name=x")},
  };
  for (const auto& r : rows) expect_classified_as(r);
}

TEST(RequestClassifier, WritesByMethod) {
  auto labelled = [](request_info i) {
    i.label_selector = "app=web";
    return i;
  };
  const std::vector<row> rows = {
      {"POST", "/api/v1/namespaces/ns/pods",
       with(core(verb::create, "pods", "/api/v1/namespaces/ns/pods"), "ns")},
      {"PUT", "/api/v1/namespaces/ns/pods/web-0",
       with(core(verb::update, "pods", "/api/v1/namespaces/ns/pods/web-0"),
            "ns", "web-0")},
      {"PATCH", "/api/v1/namespaces/ns/pods/web-0",
       with(core(verb::patch, "pods", "/api/v1/namespaces/ns/pods/web-0"), "ns",
            "web-0")},
      {"DELETE", "/api/v1/namespaces/ns/pods/web-0",
       with(core(verb::delete_, "pods", "/api/v1/namespaces/ns/pods/web-0"),
            "ns", "web-0")},
      {"DELETE", "/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb",
       labelled(with(
           core(verb::deletecollection, "pods", "/api/v1/namespaces/ns/pods"),
           "ns"))},
      {"DELETE", "/apis/apps/v1/deployments",
       grouped(verb::deletecollection, "apps", "v1", "deployments",
               "/apis/apps/v1/deployments")},
      {"POST", "/api/v1/namespaces/ns/pods/web-0/eviction",
       with(core(verb::create, "pods",
                 "/api/v1/namespaces/ns/pods/web-0/eviction"),
            "ns", "web-0", "eviction")},
      {"POST", "/api/v1/namespaces/ns/pods/web-0/binding",
       with(core(verb::create, "pods",
                 "/api/v1/namespaces/ns/pods/web-0/binding"),
            "ns", "web-0", "binding")},
      {"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
       grouped(verb::create, "authorization.k8s.io", "v1",
               "selfsubjectaccessreviews",
               "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")},
  };
  for (const auto& r : rows) expect_classified_as(r);
}

TEST(RequestClassifier, StreamingSubresourcesAreConnectForEveryMethod) {
  std::vector<row> rows;
  for (const std::string sub : {"exec", "attach", "portforward"}) {
    const std::string path = "/api/v1/namespaces/ns/pods/web-0/" + sub;
    for (const std::string method : {"GET", "POST"}) {
      rows.push_back(
          {method, path + "?stdin=true&command=sh",
           with(core(verb::connect, "pods", path), "ns", "web-0", sub)});
    }
  }
  for (const std::string method : {"GET", "POST", "PUT", "DELETE"}) {
    rows.push_back({method, "/api/v1/namespaces/ns/pods/web-0/proxy/metrics",
                    with(core(verb::connect, "pods",
                              "/api/v1/namespaces/ns/pods/web-0/proxy/metrics"),
                         "ns", "web-0", "proxy")});
  }
  rows.push_back({"GET", "/api/v1/nodes/node-1/proxy/stats/summary",
                  with(core(verb::connect, "nodes",
                            "/api/v1/nodes/node-1/proxy/stats/summary"),
                       "", "node-1", "proxy")});
  rows.push_back({"GET", "/api/v1/namespaces/ns/services/https:web:443/proxy/",
                  with(core(verb::connect, "services",
                            "/api/v1/namespaces/ns/services/https:web:443/"
                            "proxy/"),
                       "ns", "https:web:443", "proxy")});
  // The legacy /proxy/ form: the rest is the proxied path, no subresource.
  rows.push_back({"GET", "/api/v1/proxy/namespaces/ns/pods/web-0/healthz",
                  with(core(verb::connect, "pods",
                            "/api/v1/proxy/namespaces/ns/pods/web-0/healthz"),
                       "ns", "web-0")});
  for (const auto& r : rows) expect_classified_as(r);
}

TEST(RequestClassifier, DiscoveryAndOtherPathsAreNonResource) {
  auto watching = [](request_info i) {
    i.watch = true;
    return i;
  };
  const std::vector<row> rows = {
      {"GET", "/", non_resource("/")},
      {"GET", "/api", non_resource("/api")},
      {"GET", "/api/", non_resource("/api/")},
      {"GET", "/apis", non_resource("/apis")},
      {"GET", "/apis/apps", non_resource("/apis/apps")},
      {"GET", "/api/v1", non_resource("/api/v1")},
      {"GET", "/api/v1/", non_resource("/api/v1/")},
      {"GET", "/apis/apps/v1", non_resource("/apis/apps/v1")},
      {"HEAD", "/apis/apps/v1", non_resource("/apis/apps/v1")},
      {"GET", "/version?timeout=32s", non_resource("/version")},
      {"GET", "/healthz", non_resource("/healthz")},
      {"GET", "/readyz?verbose", non_resource("/readyz")},
      {"GET", "/livez/etcd", non_resource("/livez/etcd")},
      {"GET", "/openapi/v2", non_resource("/openapi/v2")},
      {"GET", "/openapi/v3/apis/apps/v1",
       non_resource("/openapi/v3/apis/apps/v1")},
      {"GET", "/metrics", non_resource("/metrics")},
      {"GET", "/logs/kube-apiserver.log",
       non_resource("/logs/kube-apiserver.log")},
      {"GET", "/apix/v1/pods", non_resource("/apix/v1/pods")},
      {"POST", "/api", non_resource("/api")},
      {"GET", "/metrics?watch=1", watching(non_resource("/metrics"))},
      // OPTIONS reads and changes nothing, whatever the path names.
      {"OPTIONS", "/api/v1/namespaces/ns/pods",
       non_resource("/api/v1/namespaces/ns/pods")},
  };
  for (const auto& r : rows) expect_classified_as(r);
}

TEST(RequestClassifier, RefusesMalformedRequestsNamingTheProblem) {
  struct bad {
    std::string method, target, message;
  };
  const std::vector<bad> rows = {
      {"FOO", "/api/v1/pods", "unsupported HTTP method \"FOO\""},
      {"get", "/api/v1/pods", "unsupported HTTP method \"get\""},
      {"CONNECT", "/api/v1/pods", "unsupported HTTP method \"CONNECT\""},
      {"", "/api/v1/pods", "unsupported HTTP method \"\""},
      {"GET", "", "empty request target"},
      {"GET", "api/v1/pods",
       "request target \"api/v1/pods\": not an absolute path"},
      {"OPTIONS", "*", "request target \"*\": not an absolute path"},
      {"GET", "?watch=1", "request target \"\": not an absolute path"},
      {"GET", "https://h/api/v1/pods",
       "request target \"https://h/api/v1/pods\": not an absolute path"},
      {"GET", "/api/v1/pods#frag",
       "request target \"/api/v1/pods#frag\": a fragment is not part"},
      {"GET", "/api/v1/../v1/secrets",
       "request target \"/api/v1/../v1/secrets\": \".\" or \"..\" path "
       "segment"},
      {"GET", "/api/./v1/pods", R"("." or ".." path segment)"},
      {"GET", "/api/v1/namespaces/ns/pods/%2E%2E",
       R"(request target "/api/v1/namespaces/ns/pods/%2E%2E": "." or "..")"},
      {"GET", "/..", R"("." or ".." path segment)"},
      {"GET", "/api//v1/pods",
       "request target \"/api//v1/pods\": empty path segment"},
      {"GET", "//", "empty path segment"},
      {"GET", "/api/v1/pods//", "empty path segment"},
      {"GET", "/api/v1/namespaces/ns%2F/pods", "empty path segment"},
      {"GET", "/api/v1/pods%",
       "request target \"/api/v1/pods%\": invalid "
       "percent-encoding"},
      {"GET", "/api/v1/pods%2", "invalid percent-encoding"},
      {"GET", "/api/v1/pods%zz", "invalid percent-encoding"},
      {"GET", "/api/v1/pods?labelSelector=a%G1",
       "request target \"/api/v1/pods\": invalid percent-encoding in the "
       "query"},
      {"GET", "/api/v1/pods?x%=1", "invalid percent-encoding in the query"},
      {"GET", "/api/v1/watch",
       "request target \"/api/v1/watch\": legacy /watch/ path names no "
       "resource"},
      {"GET", "/apis/apps/v1/watch/", "legacy /watch/ path names no resource"},
      {"GET", "/api/v1/proxy", "legacy /proxy/ path names no resource"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.method + " " + r.target);
    const auto got = classify(r.method, r.target);
    ASSERT_FALSE(got.has_value()) << to_string(got->kind);
    EXPECT_EQ(got.error().source, error_source::client);
    EXPECT_NE(got.error().message.find(r.message), std::string::npos)
        << got.error().message;
  }
}

TEST(RequestClassifier, QuotesWhatItRefusesSafelyAndBriefly) {
  const auto ctl = classify("G\nET", "/");
  ASSERT_FALSE(ctl.has_value());
  EXPECT_EQ(ctl.error().message, "unsupported HTTP method \"G?ET\"");

  const auto long_path = classify("GET", "x" + std::string(1000, 'a'));
  ASSERT_FALSE(long_path.has_value());
  EXPECT_LT(long_path.error().message.size(), 200U);
  EXPECT_NE(long_path.error().message.find("...\""), std::string::npos);
}

TEST(RequestClassifier, VerbNamesAreKubernetesVerbs) {
  EXPECT_STREQ(to_string(verb::get), "get");
  EXPECT_STREQ(to_string(verb::list), "list");
  EXPECT_STREQ(to_string(verb::watch), "watch");
  EXPECT_STREQ(to_string(verb::create), "create");
  EXPECT_STREQ(to_string(verb::update), "update");
  EXPECT_STREQ(to_string(verb::patch), "patch");
  EXPECT_STREQ(to_string(verb::delete_), "delete");
  EXPECT_STREQ(to_string(verb::deletecollection), "deletecollection");
  EXPECT_STREQ(to_string(verb::connect), "connect");
  EXPECT_STREQ(to_string(verb::non_resource), "non-resource");
}

}  // namespace
}  // namespace mca::routing
