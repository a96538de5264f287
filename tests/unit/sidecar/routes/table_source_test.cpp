#include "sidecar/routes/table_source.hpp"

#include <string>

#include <gtest/gtest.h>

namespace mca::sidecar {
namespace {

routing::routing_table table(const std::string& version) {
  return routing::routing_table::parse(
             R"({"apiVersion":"mca.x-k8s.io/v1alpha1","kind":"RoutingTable",)"
             R"("version":")" +
             version +
             R"(","policy":"p","targets":[{"name":"home",)"
             R"("server":"https://10.0.0.1","credentials":{"local":{}}}]})")
      .value();
}

TEST(TableSource, GenericUnavailableMessageWithoutAReason) {
  table_source t;
  EXPECT_EQ(t.waiting_detail(), "");
  EXPECT_EQ(t.unavailable_message(),
            "no routing table is loaded yet; the sidecar fails closed");
}

TEST(TableSource, UnavailableMessageNamesTheReasonAndTheLastError) {
  table_source t;
  t.set_waiting_reason("waiting for the operator at op:9443");
  EXPECT_EQ(t.unavailable_message(),
            "no routing table yet: waiting for the operator at op:9443");
  t.set_last_error("UNAVAILABLE: connection refused");
  EXPECT_EQ(t.waiting_detail(),
            "waiting for the operator at op:9443 (last error: UNAVAILABLE: "
            "connection refused)");
  EXPECT_EQ(t.unavailable_message(),
            "no routing table yet: waiting for the operator at op:9443 "
            "(last error: UNAVAILABLE: connection refused)");
}

TEST(TableSource, InstallKeepsTheSourceAndClearsTheLastError) {
  table_source t;
  EXPECT_EQ(t.source(), "");
  t.set_last_error("bad push");
  t.install(table("v1"), "operator op:9443");
  EXPECT_EQ(t.current()->version, "v1");
  EXPECT_EQ(t.source(), "operator op:9443");
  EXPECT_EQ(t.last_error(), "");
  t.install(table("v2"));
  EXPECT_EQ(t.source(), "");
}

}  // namespace
}  // namespace mca::sidecar
