// An informer through an API server outage, an etcd compaction and the 410
// Gone that follows: it must relist and converge. Stops a cluster, so this
// binary runs serially (RUN_SERIAL).
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <gmock/gmock.h>

#include "common/kube/informer.hpp"
#include "tests/integration/kube/client_fixture.hpp"

namespace mca::test {
namespace {

namespace asio = boost::asio;
namespace resources = kube::resources;
using namespace std::chrono_literals;

class InformerOutageTest : public KubeClientTest {
 public:
  void TearDown() override {
    // Whatever failed, leave the cluster running for the tests after us.
    env_.hack_testenv({"start-cluster", "--cluster", "west"});
  }
};

std::set<std::string> keys(const kube::object_store& store) {
  std::set<std::string> out;
  for (const auto& o : store.list()) out.insert(kube::object_key(*o));
  return out;
}

TEST_F(InformerOutageTest, RelistsAfterGoneAndConvergesAfterRestart) {
  auto client = client_for("west");
  const auto ns = make_namespace(client, "outage");
  create_config_maps(client, ns, {"a", "b"});
  if (HasFatalFailure()) return;
  kube::informer_options opts;
  opts.namespace_name = ns;
  opts.retry.initial = 200ms;  // keep the test short; same code path
  opts.retry.max = 2s;
  std::vector<std::string> errors;
  kube::informer_handlers handlers;
  handlers.on_error = [&](const error& e) { errors.push_back(e.message); };
  kube::informer inf(client, resources::config_maps(), opts, handlers);
  bool finished = false;
  asio::co_spawn(io_, inf.run(),
                 [&](const std::exception_ptr&) { finished = true; });
  ASSERT_TRUE(run_until(
      io_, [&] { return inf.has_synced(); }, 20s));
  EXPECT_EQ(keys(inf.store()), (std::set<std::string>{ns + "/a", ns + "/b"}));
  EXPECT_EQ(inf.list_count(), 1U);

  auto before = run(client.list(resources::config_maps(), ns));
  ASSERT_TRUE(before) << before.error().message;
  const std::string old_version = (*before)["metadata"]["resourceVersion"];

  auto stopped = env_.hack_testenv({"stop-cluster", "--cluster", "west"});
  ASSERT_TRUE(stopped.ok()) << stopped.err;
  pause(1s);  // the informer notices and backs off
  // Writes elsewhere move the shared etcd revision on; compaction then makes
  // the informer's last version unservable.
  ASSERT_TRUE(env_.kubectl("home", {"create", "configmap", unique_name("tick"),
                                    "-n", "default"})
                  .ok());
  auto compacted = env_.hack_testenv({"compact"});
  ASSERT_TRUE(compacted.ok()) << compacted.err;
  auto started = env_.hack_testenv({"start-cluster", "--cluster", "west"});
  ASSERT_TRUE(started.ok()) << started.err;

  // A watch from before the outage cannot be served: 410 Gone.
  auto other = client_for("west");
  kube::watch_options old_watch;
  old_watch.resource_version = old_version;
  auto w = run(other.watch(resources::config_maps(), ns, old_watch));
  if (w) {
    // The server may accept the watch and send the 410 as an ERROR event.
    auto first = run((*w)->next());
    ASSERT_FALSE(first) << "a watch from a compacted version was served";
    EXPECT_TRUE(first.error().is_api(410)) << first.error().message;
  } else {
    EXPECT_TRUE(w.error().is_api(410)) << w.error().message;
  }

  // Changes after the restart: the informer must end up with exactly these.
  ASSERT_TRUE(run(other.create(resources::config_maps(), ns, config_map("c"))));
  ASSERT_TRUE(run(other.remove(resources::config_maps(), ns, "b")));

  const std::set<std::string> want{ns + "/a", ns + "/c"};
  ASSERT_TRUE(run_until(
      io_, [&] { return keys(inf.store()) == want; }, 60s))
      << "store never converged";
  EXPECT_GE(inf.list_count(), 2U) << "the informer never relisted";
  bool saw_gone = false;
  for (const auto& e : errors) {
    saw_gone |= e.find(": 410 ") != std::string::npos;
  }
  EXPECT_TRUE(saw_gone) << "the informer never got 410 Gone; errors seen: "
                        << errors.size();

  inf.stop();
  EXPECT_TRUE(run_until(
      io_, [&] { return finished; }, 5s));
}

}  // namespace
}  // namespace mca::test
