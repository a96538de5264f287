#include "kube/cache_log.hpp"

#include <gtest/gtest.h>

namespace replica_server {
namespace {

TEST(CacheLog, Lines) {
  const deployment_summary web{"prod", "web", 3};
  EXPECT_EQ(added_line(web),
            "informer: deployment prod/web added (replicas 3)");
  EXPECT_EQ(deleted_line(web), "informer: deployment prod/web deleted");
  EXPECT_EQ(replicas_changed_line(web, {"prod", "web", 5}),
            "informer: deployment prod/web replicas 3 -> 5");
  EXPECT_EQ(replicas_changed_line(web, web), std::nullopt);
  EXPECT_EQ(listed_line(1, 0), "informer: synced, 0 deployments cached");
  EXPECT_EQ(listed_line(1, 1), "informer: synced, 1 deployment cached");
  EXPECT_EQ(listed_line(3, 12),
            "informer: relisted (list 3), 12 deployments cached");
}

}  // namespace
}  // namespace replica_server
