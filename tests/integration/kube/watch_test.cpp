// Watches and informers against a real kube-apiserver.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <gmock/gmock.h>

#include "common/kube/informer.hpp"
#include "tests/integration/kube/client_fixture.hpp"

namespace mca::test {
namespace {

namespace asio = boost::asio;
namespace resources = kube::resources;
using kube::json;
using kube::watch_event_type;
using namespace std::chrono_literals;

class WatchTest : public KubeClientTest {};

bool saw(const std::vector<kube::watch_event>& events, watch_event_type type) {
  for (const auto& e : events) {
    if (e.type == type) return true;
  }
  return false;
}

TEST_F(WatchTest, ReceivesAddModifyDeleteAndBookmarks) {
  auto client = client_for("east");
  const auto ns = make_namespace(client, "watch");
  auto listed = run(client.list(resources::config_maps(), ns));
  ASSERT_TRUE(listed) << listed.error().message;

  kube::watch_options opts;
  opts.resource_version = (*listed)["metadata"]["resourceVersion"];
  opts.allow_bookmarks = true;
  // The watch cache sends a bookmark shortly before a watch times out.
  opts.timeout_seconds = 6;
  auto w = run(client.watch(resources::config_maps(), ns, opts));
  ASSERT_TRUE(w) << w.error().message;

  std::vector<kube::watch_event> events;
  bool ended = false;
  std::string failure;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          auto ev = co_await (*w)->next();
          if (!ev) {
            failure = ev.error().message;
            co_return;
          }
          if (!*ev) {
            ended = true;
            co_return;
          }
          events.push_back(std::move(**ev));
        }
      },
      asio::detached);

  ASSERT_TRUE(run(client.create(resources::config_maps(), ns,
                                config_map("watched", {{"v", "1"}}))));
  ASSERT_TRUE(run(client.patch(resources::config_maps(), ns, "watched",
                               kube::patch_type::merge_patch,
                               R"({"data":{"v":"2"}})")));
  ASSERT_TRUE(run(client.remove(resources::config_maps(), ns, "watched")));
  ASSERT_TRUE(run_until(
      io_, [&] { return ended || !failure.empty(); }, 20s));
  ASSERT_TRUE(failure.empty()) << failure;

  std::vector<watch_event_type> object_events;
  for (const auto& e : events) {
    if (e.type != watch_event_type::bookmark) {
      object_events.push_back(e.type);
      EXPECT_EQ(e.object["metadata"]["name"], "watched");
    }
  }
  EXPECT_EQ(object_events,
            (std::vector<watch_event_type>{watch_event_type::added,
                                           watch_event_type::modified,
                                           watch_event_type::deleted}));
  EXPECT_EQ(events[1].object["data"]["v"], "2");
  EXPECT_TRUE(saw(events, watch_event_type::bookmark))
      << "no BOOKMARK before the watch timed out";
}

TEST_F(WatchTest, InformerListsWatchesAndCallsHandlers) {
  auto client = client_for("west");
  const auto ns = make_namespace(client, "informer");
  create_config_maps(client, ns, {"a", "b"});
  if (HasFatalFailure()) return;
  std::vector<std::string> log;
  kube::informer_options opts;
  opts.namespace_name = ns;
  opts.page_size = 1;  // paged initial list
  kube::informer_handlers handlers;
  handlers.on_add = [&](const json& o) {
    log.push_back("add " + o["metadata"]["name"].get<std::string>());
  };
  handlers.on_update = [&](const json&, const json& o) {
    log.push_back("update " + o["metadata"]["name"].get<std::string>());
  };
  handlers.on_delete = [&](const json& o) {
    log.push_back("delete " + o["metadata"]["name"].get<std::string>());
  };
  kube::informer inf(client, resources::config_maps(), opts, handlers);
  bool finished = false;
  asio::co_spawn(io_, inf.run(),
                 [&](const std::exception_ptr&) { finished = true; });
  ASSERT_TRUE(run_until(
      io_, [&] { return inf.has_synced(); }, 20s));
  EXPECT_EQ(inf.store().size(), 2U);

  ASSERT_TRUE(
      run(client.create(resources::config_maps(), ns, config_map("c"))));
  ASSERT_TRUE(run(client.patch(resources::config_maps(), ns, "a",
                               kube::patch_type::merge_patch,
                               R"({"data":{"x":"1"}})")));
  ASSERT_TRUE(run(client.remove(resources::config_maps(), ns, "b")));
  ASSERT_TRUE(run_until(
      io_, [&] { return log.size() >= 5; }, 20s));
  EXPECT_EQ(log, (std::vector<std::string>{"add a", "add b", "add c",
                                           "update a", "delete b"}));
  EXPECT_NE(inf.store().get(ns + "/a"), nullptr);
  EXPECT_EQ(inf.store().get(ns + "/b"), nullptr);
  EXPECT_EQ((*inf.store().get(ns + "/a"))["data"]["x"], "1");

  inf.stop();
  EXPECT_TRUE(run_until(
      io_, [&] { return finished; }, 5s));
}

}  // namespace
}  // namespace mca::test
