// Two candidates on one Lease of a real API server.
#include "common/kube/leader_elector.hpp"

#include <boost/asio/co_spawn.hpp>
#include <gmock/gmock.h>

#include "tests/integration/kube/client_fixture.hpp"

namespace mca::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class LeaderElectorTest : public KubeClientTest {};

TEST_F(LeaderElectorTest, ExactlyOneLeadsAndTheOtherTakesOverWhenItStops) {
  auto client_a = client_for("home");
  auto client_b = client_for("home");
  const auto ns = make_namespace(client_a, "lease");

  int leaders = 0;
  int max_leaders = 0;
  auto make = [&](kube::rest_client& c, const std::string& id) {
    kube::leader_election_options o;
    o.lease_namespace = ns;
    o.lease_name = "mca-operator";
    o.identity = id;
    o.lease_duration = 3s;
    o.renew_deadline = 2s;
    o.retry_period = 300ms;
    kube::leader_callbacks cb;
    cb.on_started_leading = [&] {
      max_leaders = std::max(max_leaders, ++leaders);
    };
    cb.on_stopped_leading = [&] { --leaders; };
    return std::make_unique<kube::leader_elector>(c, o, cb);
  };
  auto a = make(client_a, "candidate-a");
  auto b = make(client_b, "candidate-b");
  bool a_done = false, b_done = false;
  asio::co_spawn(io_, a->run(),
                 [&](const std::exception_ptr&) { a_done = true; });
  asio::co_spawn(io_, b->run(),
                 [&](const std::exception_ptr&) { b_done = true; });

  ASSERT_TRUE(run_until(
      io_, [&] { return a->is_leader() || b->is_leader(); }, 10s));
  pause(2s);  // several renewals
  EXPECT_EQ(max_leaders, 1);
  EXPECT_NE(a->is_leader(), b->is_leader());

  auto& leader = a->is_leader() ? a : b;
  auto& follower = a->is_leader() ? b : a;
  bool& leader_done = a->is_leader() ? a_done : b_done;
  const auto stopped_at = std::chrono::steady_clock::now();
  leader->stop();
  ASSERT_TRUE(run_until(
      io_, [&] { return follower->is_leader(); }, 3s))
      << "the follower did not take over within the lease duration";
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 3s);
  EXPECT_TRUE(leader_done);
  EXPECT_FALSE(leader->is_leader());
  EXPECT_EQ(max_leaders, 1);

  auto lease = run(client_a.get(kube::resources::leases(), ns, "mca-operator"));
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_EQ((*lease)["spec"]["holderIdentity"],
            follower.get() == a.get() ? "candidate-a" : "candidate-b");
  EXPECT_GE((*lease)["spec"].value("leaseTransitions", 0), 1);

  follower->stop();
  EXPECT_TRUE(run_until(
      io_, [&] { return a_done && b_done; }, 5s));
}

}  // namespace
}  // namespace mca::test
