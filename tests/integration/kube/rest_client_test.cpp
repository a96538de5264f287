// Every REST verb of MCA's client against a real kube-apiserver.
#include <set>

#include <gmock/gmock.h>

#include "tests/integration/kube/client_fixture.hpp"

namespace mca::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace resources = kube::resources;
using kube::json;

class RestClientTest : public KubeClientTest {};

TEST_F(RestClientTest, EveryVerbOnConfigMaps) {
  auto client = client_for("east");
  const auto ns = make_namespace(client, "verbs");
  const auto cms = resources::config_maps();

  auto created = run(client.create(cms, ns, config_map("cm", {{"a", "1"}})));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_FALSE((*created)["metadata"].value("uid", "").empty());

  auto got = run(client.get(cms, ns, "cm"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ((*got)["data"]["a"], "1");

  // update with the version just read succeeds; with the old one conflicts.
  auto stale = *got;
  (*got)["data"]["a"] = "2";
  auto updated = run(client.update(cms, ns, *got));
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ((*updated)["data"]["a"], "2");
  stale["data"]["a"] = "stale";
  auto conflict = run(client.update(cms, ns, stale));
  ASSERT_FALSE(conflict);
  EXPECT_TRUE(conflict.error().is_api(409));
  EXPECT_EQ(conflict.error().status.reason, "Conflict");

  auto merged = run(client.patch(cms, ns, "cm", kube::patch_type::merge_patch,
                                 R"({"data":{"b":"3"}})"));
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ((*merged)["data"]["b"], "3");

  auto json_patched =
      run(client.patch(cms, ns, "cm", kube::patch_type::json_patch,
                       R"([{"op":"replace","path":"/data/a","value":"4"}])"));
  ASSERT_TRUE(json_patched) << json_patched.error().message;
  EXPECT_EQ((*json_patched)["data"]["a"], "4");

  auto strategic =
      run(client.patch(cms, ns, "cm", kube::patch_type::strategic_merge_patch,
                       R"({"metadata":{"labels":{"tier":"gold"}}})"));
  ASSERT_TRUE(strategic) << strategic.error().message;
  EXPECT_EQ((*strategic)["metadata"]["labels"]["tier"], "gold");

  kube::patch_options apply_opts;
  apply_opts.field_manager = "mca-test";
  apply_opts.force = true;
  auto applied =
      run(client.patch(cms, ns, "cm", kube::patch_type::apply,
                       "apiVersion: v1\nkind: ConfigMap\n"
                       "metadata:\n  name: cm\ndata:\n  c: applied\n",
                       apply_opts));
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ((*applied)["data"]["c"], "applied");

  kube::list_options by_label;
  by_label.label_selector = "tier=gold";
  auto labelled = run(client.list(cms, ns, by_label));
  ASSERT_TRUE(labelled) << labelled.error().message;
  ASSERT_EQ((*labelled)["items"].size(), 1U);
  kube::list_options by_field;
  by_field.field_selector = "metadata.name=nothing-of-that-name";
  auto none = run(client.list(cms, ns, by_field));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE((*none)["items"].empty());

  kube::delete_options wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  auto refused = run(client.remove(cms, ns, "cm", wrong_uid));
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is_api(409)) << refused.error().message;

  kube::delete_options right_uid;
  right_uid.precondition_uid = (*created)["metadata"]["uid"].get<std::string>();
  right_uid.propagation_policy = "Background";
  auto deleted = run(client.remove(cms, ns, "cm", right_uid));
  ASSERT_TRUE(deleted) << deleted.error().message;

  auto gone = run(client.get(cms, ns, "cm"));
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().is_api(404));
  EXPECT_EQ(gone.error().status.reason, "NotFound");
  EXPECT_THAT(gone.error().message, HasSubstr("configmaps \"cm\" not found"));
}

// A CRD with status and scale subresources, installed once per cluster.
kube::resource_ref install_widget_crd(KubeClientTest& t,
                                      kube::rest_client& client) {
  const json crd = json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.mca.x-k8s.io"},
    "spec": {
      "group": "test.mca.x-k8s.io",
      "scope": "Namespaced",
      "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
      "versions": [{
        "name": "v1", "served": true, "storage": true,
        "subresources": {
          "status": {},
          "scale": {"specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas"}},
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
          "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer"}, "color": {"type": "string"}}},
          "status": {"type": "object", "properties": {
            "replicas": {"type": "integer"}}}}}}
      }]
    }})");
  auto created = t.run(
      client.create(kube::resources::custom_resource_definitions(), "", crd));
  EXPECT_TRUE(created || created.error().is_api(409))
      << created.error().message;
  kube::resource_ref widgets{"test.mca.x-k8s.io", "v1", "widgets", true};
  // Served only once Established; poll the API rather than sleep.
  for (int i = 0; i < 100; ++i) {
    auto list = t.run(client.list(widgets, "default"));
    if (list) return widgets;
    t.pause(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "the Widget CRD never became served";
  return widgets;
}

TEST_F(RestClientTest, EveryVerbAndSubresourceOnACustomResource) {
  auto client = client_for("west");
  const auto widgets = install_widget_crd(*this, client);
  const auto ns = make_namespace(client, "crd");
  const json widget = {{"apiVersion", "test.mca.x-k8s.io/v1"},
                       {"kind", "Widget"},
                       {"metadata", {{"name", "w"}}},
                       {"spec", {{"replicas", 1}, {"color", "red"}}}};

  auto created = run(client.create(widgets, ns, widget));
  ASSERT_TRUE(created) << created.error().message;
  auto got = run(client.get(widgets, ns, "w"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ((*got)["spec"]["color"], "red");

  (*got)["spec"]["color"] = "blue";
  auto updated = run(client.update(widgets, ns, *got));
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ((*updated)["spec"]["color"], "blue");

  auto merged =
      run(client.patch(widgets, ns, "w", kube::patch_type::merge_patch,
                       R"({"spec":{"color":"green"}})"));
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ((*merged)["spec"]["color"], "green");

  kube::patch_options apply_opts;
  apply_opts.field_manager = "mca-test";
  apply_opts.force = true;
  auto applied = run(client.patch(
      widgets, ns, "w", kube::patch_type::apply,
      R"({"apiVersion":"test.mca.x-k8s.io/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"teal"}})",
      apply_opts));
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ((*applied)["spec"]["color"], "teal");

  // status: only the status subresource may write .status.
  auto current = *applied;
  current["status"] = {{"replicas", 1}};
  kube::write_options status_opts;
  status_opts.subresource = "status";
  auto status = run(client.update(widgets, ns, current, status_opts));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ((*status)["status"]["replicas"], 1);
  auto status_read = run(client.get(widgets, ns, "w", "status"));
  ASSERT_TRUE(status_read) << status_read.error().message;
  EXPECT_EQ((*status_read)["status"]["replicas"], 1);

  // scale: read as autoscaling/v1 Scale, write replicas through it.
  auto scale = run(client.get(widgets, ns, "w", "scale"));
  ASSERT_TRUE(scale) << scale.error().message;
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 1);
  (*scale)["spec"]["replicas"] = 5;
  kube::write_options scale_opts;
  scale_opts.subresource = "scale";
  auto scaled = run(client.update(widgets, ns, *scale, scale_opts));
  ASSERT_TRUE(scaled) << scaled.error().message;
  auto after = run(client.get(widgets, ns, "w"));
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ((*after)["spec"]["replicas"], 5);
  kube::patch_options scale_patch;
  scale_patch.subresource = "scale";
  auto patched_scale =
      run(client.patch(widgets, ns, "w", kube::patch_type::merge_patch,
                       R"({"spec":{"replicas":2}})", scale_patch));
  ASSERT_TRUE(patched_scale) << patched_scale.error().message;
  EXPECT_EQ((*patched_scale)["spec"]["replicas"], 2);

  auto list = run(client.list(widgets, ns));
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ((*list)["items"].size(), 1U);

  ASSERT_TRUE(run(client.remove(widgets, ns, "w")));
  EXPECT_TRUE(run(client.get(widgets, ns, "w")).error().is_api(404));
}

TEST_F(RestClientTest, PagesThroughTwoHundredFiftyObjectsByHundreds) {
  auto client = client_for("home");
  const auto ns = make_namespace(client, "paging");
  for (int i = 0; i < 250; ++i) {
    auto r = run(client.create(resources::config_maps(), ns,
                               config_map("cm-" + std::to_string(i))));
    ASSERT_TRUE(r) << r.error().message;
  }
  std::set<std::string> seen;
  std::vector<std::size_t> page_sizes;
  kube::list_options opts;
  opts.limit = 100;
  do {
    auto page = run(client.list(resources::config_maps(), ns, opts));
    ASSERT_TRUE(page) << page.error().message;
    page_sizes.push_back((*page)["items"].size());
    for (const auto& item : (*page)["items"]) {
      EXPECT_TRUE(
          seen.insert(item["metadata"]["name"].get<std::string>()).second)
          << "an object came twice";
    }
    opts.continue_token = (*page)["metadata"].value("continue", "");
  } while (!opts.continue_token.empty());
  EXPECT_EQ(page_sizes, (std::vector<std::size_t>{100, 100, 50}));
  EXPECT_EQ(seen.size(), 250U);
}

TEST_F(RestClientTest, WrongCaFailsNamingTheServerNameAndTheCa) {
  auto config = config_for("east");
  auto west = config_for("west");
  config.ca_pem = west.ca_pem;  // a CA that did not sign east's certificate
  config.origin = "west's kubeconfig";
  auto client = client_for(config);
  auto r = run(client.get(resources::namespaces(), "", "default"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::transport);
  EXPECT_THAT(r.error().message,
              HasSubstr("TLS handshake with " + config.server));
  EXPECT_THAT(r.error().message, HasSubstr("certificate verification failed"));
  EXPECT_THAT(r.error().message, HasSubstr("'127.0.0.1'"));
  EXPECT_THAT(r.error().message, HasSubstr("the CA from west's kubeconfig"));
}

TEST_F(RestClientTest, WrongServerNameFailsVerification) {
  auto config = config_for("east");
  config.tls_server_name = "not-the-api-server.example";
  auto client = client_for(config);
  auto r = run(client.get(resources::namespaces(), "", "default"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("'not-the-api-server.example'"));
}

TEST_F(RestClientTest, ConnectionRefusedNamesTheServer) {
  auto config = config_for("east");
  config.server = "https://127.0.0.1:1";
  auto client = client_for(config);
  auto r = run(client.get(resources::namespaces(), "", "default"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::transport);
  EXPECT_THAT(
      r.error().message,
      HasSubstr("connecting to https://127.0.0.1:1: Connection refused"));
}

TEST_F(RestClientTest, UnauthorizedComesBackAsTheServersStatusWithoutTheToken) {
  auto config = config_for("east");
  config.auth = {};
  config.auth.token = "mca-test-secret-token-value";
  auto client = client_for(config);
  auto r = run(client.get(resources::namespaces(), "", "default"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is_api(401)) << r.error().message;
  EXPECT_EQ(r.error().status.reason, "Unauthorized");
  EXPECT_THAT(r.error().message, Not(HasSubstr("mca-test-secret-token-value")));
}

TEST_F(RestClientTest, ForbiddenCarriesTheRbacMessage) {
  // A ServiceAccount with no RBAC bindings is authenticated but may do nothing.
  auto admin = client_for("home");
  const auto ns = make_namespace(admin, "rbac");
  ASSERT_TRUE(run(admin.create(resources::service_accounts(), ns,
                               {{"apiVersion", "v1"},
                                {"kind", "ServiceAccount"},
                                {"metadata", {{"name", "nobody"}}}})));
  auto token = env_.kubectl("home", {"create", "token", "nobody", "-n", ns});
  ASSERT_TRUE(token.ok()) << token.err;
  auto config = config_for("home");
  config.auth = {};
  config.auth.token = token.out.substr(0, token.out.find('\n'));
  auto client = client_for(config);
  auto r = run(client.list(resources::secrets(), ns));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is_api(403));
  EXPECT_THAT(r.error().message,
              HasSubstr("system:serviceaccount:" + ns + ":nobody"));
  EXPECT_THAT(r.error().message, HasSubstr("cannot list resource \"secrets\""));
}

}  // namespace
}  // namespace mca::test
