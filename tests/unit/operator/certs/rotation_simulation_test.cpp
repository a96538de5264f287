// Drives the planner the way the CA manager does, with an injected clock
// stepping one second at a time through several CA lifetimes, and checks
// at every tick the properties the webhook and the sidecars depend on.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/tls/certificate_authority.hpp"
#include "operator/certs/certificate_bundle.hpp"
#include "operator/certs/rotation_plan.hpp"

namespace mca::op {
namespace {

using namespace std::chrono_literals;
using time_point = std::chrono::system_clock::time_point;

// 2031-05-06T07:08:09Z.
const time_point t0 = std::chrono::system_clock::from_time_t(1'935'817'689);

std::string at(time_point t) {
  return "t0+" + std::to_string((t - t0) / 1s) + "s";
}

struct publication {
  time_point when;
  std::string pem;
};

struct replaced_leaf {
  std::string cert_pem;
  time_point replaced_at;
};

// The CA manager's side of the loop: the Secret, the trust bundles it
// published, and the leaves replicas may still be serving.
class world {
 public:
  // `publish_delay`: how long after add_next_ca the publisher reports that
  // every bundle holds the new CA.
  world(rotation_policy policy, std::chrono::seconds publish_delay)
      : policy_(std::move(policy)), publish_delay_(publish_delay) {}

  // One tick: the publisher's mark if it is due, then plan and apply until
  // the planner has nothing to do.
  void tick(time_point now) {
    now_ = now;
    if (mark_due_ && now >= *mark_due_) {
      mark_due_.reset();
      persist(mark_next_ca_published(*stored_, now), "mark_next_ca_published");
    }
    for (int round = 0;; ++round) {
      ASSERT_LT(round, 4) << "the planner does not settle at " << at(now);
      const auto d = plan_rotation(stored_, policy_, now);
      if (d.step == rotation_step::none) {
        // The caller sleeps until next_check: it must be ahead, and at
        // that very moment something must be due.
        ASSERT_GT(d.next_check, now) << d.reason;
        const auto then = plan_rotation(stored_, policy_, d.next_check);
        EXPECT_NE(then.step, rotation_step::none)
            << "at " << at(now) << " next_check is too early: " << d.reason;
        quiet_until_ = d.next_check;
        return;
      }
      EXPECT_EQ(d.next_check, now);
      // Nothing may fire before the moment a sleeping caller wakes up.
      if (quiet_until_) {
        EXPECT_GE(now, *quiet_until_)
            << to_string(d.step) << " at " << at(now) << ": " << d.reason;
      }
      auto next = apply_rotation(stored_, d.step, policy_, now);
      ASSERT_TRUE(next) << next.error().message;
      if (stored_ && next->leaf.cert_pem != stored_->leaf.cert_pem) {
        replaced_.push_back({stored_->leaf.cert_pem, now});
      }
      ++steps_[d.step];
      persist(*next, to_string(d.step));
      if (d.step == rotation_step::add_next_ca) {
        mark_due_ = now + publish_delay_;
      }
    }
  }

  // What must hold at every tick.
  void check() const {
    ASSERT_TRUE(stored_);
    const auto& leaf = stored_->leaf.cert_pem;
    const auto facts = tls::inspect_certificate(leaf);
    ASSERT_TRUE(facts);
    EXPECT_LE(facts->not_before, now_) << at(now_);
    EXPECT_LT(now_, facts->not_after) << at(now_);

    // Every client, whatever bundle it last picked up within the
    // propagation time, accepts the served leaf.
    const auto settled = now_ - policy_.bundle_propagation;
    std::size_t first = published_.size();
    for (std::size_t i = 0; i < published_.size(); ++i) {
      if (published_[i].when <= settled) first = i;
    }
    if (first == published_.size()) {
      // Only while the very first bundle is still on its way.
      EXPECT_LT(now_, t0 + policy_.bundle_propagation);
    } else {
      for (std::size_t i = first; i < published_.size(); ++i) {
        auto r = tls::verify_issued_by(leaf, published_[i].pem, now_);
        EXPECT_TRUE(r) << at(now_) << ": against the bundle published at "
                       << at(published_[i].when) << ": " << r.error().message;
      }
    }

    // No CA leaves the bundle while a leaf it signed may be served: the
    // current one, or one replaced less than the grace period ago (a
    // replica may not have reloaded yet).
    const std::string trust = trust_bundle(*stored_);
    auto r = tls::verify_issued_by(leaf, trust, now_);
    EXPECT_TRUE(r) << at(now_) << ": " << r.error().message;
    for (const auto& old : replaced_) {
      if (now_ >= old.replaced_at + policy_.ca_grace) continue;
      const auto old_facts = tls::inspect_certificate(old.cert_pem);
      ASSERT_TRUE(old_facts);
      if (now_ >= old_facts->not_after) continue;  // dead by itself
      r = tls::verify_issued_by(old.cert_pem, trust, now_);
      EXPECT_TRUE(r) << at(now_) << ": the leaf replaced at "
                     << at(old.replaced_at) << ": " << r.error().message;
    }
  }

  int count(rotation_step s) const {
    auto it = steps_.find(s);
    return it == steps_.end() ? 0 : it->second;
  }
  const std::vector<std::string>& timeline() const { return timeline_; }

 private:
  // The Secret round trip every replica and the next pass read through,
  // then the publisher sending its trust bundle everywhere.
  void persist(const certificate_bundle& b, const std::string& what) {
    auto back = bundle_from_secret(
        secret_for_bundle(b, "mca-operator-certs", "mca-system"));
    ASSERT_TRUE(back) << back.error().message;
    stored_ = std::move(*back);
    published_.push_back({now_, trust_bundle(*stored_)});
    quiet_until_.reset();
    timeline_.push_back(at(now_) + " " + what);
  }

  rotation_policy policy_;
  std::chrono::seconds publish_delay_;
  time_point now_;
  std::optional<certificate_bundle> stored_;
  std::vector<publication> published_;
  std::vector<replaced_leaf> replaced_;
  std::optional<time_point> mark_due_;
  std::optional<time_point> quiet_until_;
  std::map<rotation_step, int> steps_;
  std::vector<std::string> timeline_;
};

rotation_policy small_policy() {
  rotation_policy policy;
  policy.ca_lifetime = 60s;
  policy.leaf_lifetime = 20s;
  policy.bundle_propagation = 2s;
  policy.ca_grace = 5s;
  policy.dns_names = {"mca-operator.mca-system.svc"};
  policy.ip_addresses = {"127.0.0.1"};
  return policy;
}

// Runs three CA lifetimes and checks the step counts; the per-tick
// properties are checked inside.
void simulate(std::chrono::seconds publish_delay) {
  const auto policy = small_policy();
  ASSERT_TRUE(check_policy(policy));
  world w(policy, publish_delay);
  for (int second = 0; second <= 3 * 60; ++second) {
    w.tick(t0 + std::chrono::seconds(second));
    if (::testing::Test::HasFatalFailure()) break;
    w.check();
    if (::testing::Test::HasFatalFailure()) break;
  }

  EXPECT_EQ(w.count(rotation_step::create), 1);
  EXPECT_GE(w.count(rotation_step::promote_next_ca), 2);
  // Each added CA is promoted, but for one the run may end in the middle of.
  EXPECT_LE(w.count(rotation_step::promote_next_ca),
            w.count(rotation_step::add_next_ca));
  EXPECT_LE(w.count(rotation_step::add_next_ca),
            w.count(rotation_step::promote_next_ca) + 1);
  EXPECT_GE(w.count(rotation_step::retire_previous_cas), 2);
  EXPECT_GE(w.count(rotation_step::renew_leaf), 4);

  if (::testing::Test::HasFailure()) {
    std::string text;
    for (const auto& line : w.timeline()) text += line + "\n";
    ADD_FAILURE() << "timeline:\n" << text;
  }
}

TEST(RotationSimulation, ThreeCaLifetimesOneSecondAtATime) { simulate(1s); }

// A publisher that takes its time (a ConfigMap in many namespaces, an API
// server that answers slowly): the leaf must not lapse while the promotion
// waits, and the CA must still rotate before it expires.
TEST(RotationSimulation, SlowPublisher) {
  for (const auto delay : {4s, 9s, 15s}) {
    SCOPED_TRACE("publisher takes " + std::to_string(delay.count()) + " s");
    simulate(delay);
  }
}

}  // namespace
}  // namespace mca::op
