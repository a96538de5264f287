// Real client libraries through a real mca-sidecar: a client-go program
// (CRUD, protobuf, watch, SharedInformer) and the official Python client.
// Each program checks placement against the clusters directly and prints
// `ok <check>` / `FAIL <check>: <why>`; see tests/e2e/clientgo and python.
#include <gmock/gmock.h>

#include "sidecar/sidecar_fixture.hpp"

namespace mca::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Built (and cached) by hack/e2e-tools; the e2e_tools ctest fixture builds
// them first so this only looks the path up.
std::string e2e_tool(const std::string& which) {
  process::process_spec spec;
  spec.argv = {std::string(MCA_SOURCE_DIR) + "/hack/e2e-tools", which};
  spec.timeout = std::chrono::minutes(30);
  auto r = process::run_process(spec);
  if (!r || !r->ok()) {
    ADD_FAILURE() << "hack/e2e-tools " << which
                  << " failed: " << (r ? r->err : r.error().message());
    return {};
  }
  auto path = r->out;
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) {
    path.pop_back();
  }
  return path;
}

class ClientsThroughSidecar : public SidecarTest {
 protected:
  std::vector<std::string> common_args() const {
    std::vector<std::string> args = {
        "--kubeconfig", sidecar_->kubeconfig().string(),
        "--namespace",  namespace_,
        "--timeout",    "120s"};
    for (const auto& c : env_->clusters()) {
      args.push_back("--direct");
      args.push_back(c.name + "=" + c.kubeconfig.string());
    }
    return args;
  }

  static process::process_result run(std::vector<std::string> argv) {
    process::process_spec spec;
    spec.argv = std::move(argv);
    spec.timeout = std::chrono::seconds(180);
    auto r = process::run_process(spec);
    if (!r) {
      process::process_result failed;
      failed.err = r.error().message();
      return failed;
    }
    return *r;
  }
};

TEST_F(ClientsThroughSidecar, ClientGoCrudProtobufWatchAndInformer) {
  const auto bin = e2e_tool("clientgo");
  ASSERT_FALSE(bin.empty());
  auto argv = common_args();
  argv.insert(argv.begin(), bin);
  auto r = run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* check :
       {"crud", "protobuf", "watch", "informer", "errors"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string("ok ") + check)) << r.out << r.err;
  }
  EXPECT_THAT(r.out, Not(HasSubstr("FAIL"))) << r.err;
  // The clusters are distinct, so every placement check really ran.
  EXPECT_THAT(r.out, Not(HasSubstr("placement checks limited")));
}

TEST_F(ClientsThroughSidecar, PythonClientCrud) {
  const auto python = e2e_tool("python");
  ASSERT_FALSE(python.empty());
  auto argv = common_args();
  argv.insert(argv.begin(), {python, std::string(MCA_SOURCE_DIR) +
                                         "/tests/e2e/python/crud_check.py"});
  auto r = run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok crud")) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok errors")) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("FAIL")));
  EXPECT_THAT(r.out, Not(HasSubstr("placement checks limited")));
}

}  // namespace
}  // namespace mca::test
