#include "operator/certs/rotation_plan.hpp"

#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/tls/certificate_authority.hpp"

namespace mca::op {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using time_point = std::chrono::system_clock::time_point;

// 2031-05-06T07:08:09Z.
const time_point t0 = std::chrono::system_clock::from_time_t(1'935'817'689);

// Tiny lifetimes, so whole rotations fit in a minute: CAs are backdated
// 6 s and leaves 2 s, so a CA made at t lives t-6..t+54 and is renewed
// from t+34; a leaf made at t lives t-2..t+18 and is renewed from t+11.3.
rotation_policy small_policy() {
  rotation_policy p;
  p.ca_lifetime = 60s;
  p.leaf_lifetime = 20s;
  p.bundle_propagation = 2s;
  p.ca_grace = 5s;
  p.dns_names = {"mca-operator.mca-system.svc", "mca-operator"};
  p.ip_addresses = {"127.0.0.1", "::1"};
  return p;
}

certificate_bundle must(const mca::result<certificate_bundle>& r) {
  if (!r) {
    ADD_FAILURE() << r.error().message;
    return {};
  }
  return *r;
}

certificate_bundle step(const std::optional<certificate_bundle>& b,
                        rotation_step s, time_point now,
                        const rotation_policy& p = small_policy()) {
  return must(apply_rotation(b, s, p, now));
}

tls::certificate_facts facts(const std::string& pem) {
  auto f = tls::inspect_certificate(pem);
  EXPECT_TRUE(f) << f.error().message;
  return f ? *f : tls::certificate_facts{};
}

// The history the table draws its states from (see small_policy()).
struct history {
  certificate_bundle created;     // at t0
  certificate_bundle renewed;     // leaf renewed at t0+12 and t0+24
  certificate_bundle next_added;  // next CA added at t0+34
  certificate_bundle published;   // ... marked published at t0+35
  certificate_bundle promoted;    // ... promoted at t0+37
  certificate_bundle retired;     // ... old CA retired at t0+42
};

const history& states() {
  static const history h = [] {
    history out;
    out.created = step(std::nullopt, rotation_step::create, t0);
    out.renewed = step(step(out.created, rotation_step::renew_leaf, t0 + 12s),
                       rotation_step::renew_leaf, t0 + 24s);
    out.next_added = step(out.renewed, rotation_step::add_next_ca, t0 + 34s);
    out.published = mark_next_ca_published(out.next_added, t0 + 35s);
    out.promoted =
        step(out.published, rotation_step::promote_next_ca, t0 + 37s);
    out.retired =
        step(out.promoted, rotation_step::retire_previous_cas, t0 + 42s);
    return out;
  }();
  return h;
}

tls::key_and_cert foreign_leaf(time_point now) {
  auto ca = tls::make_certificate_authority(tls::ca_options{
      .common_name = "elsewhere", .not_before = now - 1h, .validity = 24h});
  EXPECT_TRUE(ca);
  const auto p = small_policy();
  auto leaf = tls::issue_serving_certificate(
      *ca, tls::leaf_options{.common_name = "mca-operator",
                             .dns_names = p.dns_names,
                             .ip_addresses = p.ip_addresses,
                             .not_before = now - 1s,
                             .validity = 20s});
  EXPECT_TRUE(leaf);
  return leaf ? *leaf : tls::key_and_cert{};
}

struct plan_case {
  std::string name;
  std::optional<certificate_bundle> bundle;
  time_point now;
  rotation_step expected;
  // For none: when the planner should look again.
  std::optional<time_point> next_check = std::nullopt;
  rotation_policy policy = small_policy();
};

std::vector<plan_case> plan_cases() {
  const auto& h = states();
  std::vector<plan_case> cases;
  const auto add = [&cases](plan_case c) { cases.push_back(std::move(c)); };

  add({"no bundle", std::nullopt, t0, rotation_step::create});
  {
    // 2/3 of the leaf's 20 s from t0-2s.
    const auto leaf_renew =
        t0 - 2s +
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(20.0 * 2.0 / 3.0));
    add({"fresh", h.created, t0, rotation_step::none, leaf_renew});
    add({"just before the leaf's renew point", h.created, leaf_renew - 1ns,
         rotation_step::none, leaf_renew});
    add({"at the leaf's renew point", h.created, leaf_renew,
         rotation_step::renew_leaf});
  }
  add({"CA ageing beats leaf ageing", h.created, t0 + 34s,
       rotation_step::add_next_ca});
  add({"just before the CA's renew point", h.renewed, t0 + 33s,
       rotation_step::none, t0 + 34s});
  {
    auto p = small_policy();
    p.dns_names.push_back("extra.example");
    add({"a SAN was added", h.created, t0 + 1s, rotation_step::renew_leaf,
         std::nullopt, p});
    p = small_policy();
    p.ip_addresses = {"0:0::1", "127.0.0.1"};
    add({"same addresses written differently", h.created, t0 + 1s,
         rotation_step::none, std::nullopt, p});
    p = small_policy();
    p.ip_addresses = {"127.0.0.1"};
    add({"an address was removed", h.created, t0 + 1s,
         rotation_step::renew_leaf, std::nullopt, p});
  }
  {
    auto b = h.created;
    b.leaf = foreign_leaf(t0);
    add({"leaf from another CA", b, t0 + 1s, rotation_step::renew_leaf});
    add({"leaf not valid yet", h.created, t0 - 3s, rotation_step::renew_leaf});
  }
  // Next CA added, not yet published: the leaf's age rule waits for the
  // promotion unless the leaf would expire first (it ends at t0+42).
  add({"next CA unpublished", h.next_added, t0 + 36s, rotation_step::none,
       t0 + 40s});
  add({"next CA unpublished, leaf near its end", h.next_added, t0 + 40s,
       rotation_step::renew_leaf});
  add({"next CA published, not yet propagated", h.published, t0 + 36s,
       rotation_step::none, t0 + 37s});
  add({"next CA propagated", h.published, t0 + 37s,
       rotation_step::promote_next_ca});
  add({"published too late for the leaf",
       mark_next_ca_published(h.next_added, t0 + 41s), t0 + 41s,
       rotation_step::renew_leaf});
  add({"old CA in its grace period", h.promoted, t0 + 38s, rotation_step::none,
       t0 + 42s});
  add({"grace period over", h.promoted, t0 + 42s,
       rotation_step::retire_previous_cas});
  {
    // The promoted leaf runs t0+35..t0+55: renewed from 2/3 of that.
    const auto leaf_renew =
        t0 + 35s +
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(20.0 * 2.0 / 3.0));
    add({"retired", h.retired, t0 + 43s, rotation_step::none, leaf_renew});
  }
  {
    auto b = h.promoted;
    b.retire_at.reset();
    add({"retiring without retire-at: from the leaf's start", b, t0 + 39s,
         rotation_step::none, t0 + 40s});
    add({"retiring without retire-at, grace over", b, t0 + 40s,
         rotation_step::retire_previous_cas});
  }
  {
    // A replica could still be serving a leaf the retiring CA signed.
    auto b = h.promoted;
    b.leaf = h.published.leaf;
    add({"never retire the served leaf's CA", b, t0 + 43s,
         rotation_step::renew_leaf});
  }
  {
    auto b = step(h.promoted, rotation_step::add_next_ca, t0 + 38s);
    b = mark_next_ca_published(b, t0 + 38s);
    add({"retire beats promote", b, t0 + 42s,
         rotation_step::retire_previous_cas});
  }
  add({"promote beats renewing the leaf", h.published, t0 + 41s,
       rotation_step::promote_next_ca});
  add({"CA expired, nobody to take over", h.renewed, t0 + 54s,
       rotation_step::create});
  add({"CA expired, unpublished next CA takes over", h.next_added, t0 + 54s,
       rotation_step::promote_next_ca});
  {
    // A leaf that already ends with its CA: another from the same CA
    // cannot last longer, so only the CA's rotation helps.
    auto b = h.next_added;
    b.leaf = must(apply_rotation(b, rotation_step::renew_leaf, small_policy(),
                                 t0 + 40s))
                 .leaf;
    EXPECT_EQ(facts(b.leaf.cert_pem).not_after, t0 + 54s);
    add({"leaf ending with its CA is not renewed", b, t0 + 52s,
         rotation_step::none, t0 + 54s});
  }
  {
    auto b = h.renewed;
    b.next_ca = tls::key_and_cert{"junk", "junk"};
    add({"unreadable next CA is replaced", b, t0 + 25s,
         rotation_step::add_next_ca});
    b = h.renewed;
    b.ca.cert_pem = "junk";
    add({"unreadable CA starts over", b, t0 + 25s, rotation_step::create});
    b = h.renewed;
    b.leaf.cert_pem = "junk";
    add({"unreadable leaf is renewed", b, t0 + 25s, rotation_step::renew_leaf});
  }
  {
    // Left over from a rotation that never finished.
    auto expired = tls::make_certificate_authority(tls::ca_options{
        .common_name = "stale", .not_before = t0 - 100s, .validity = 10s});
    EXPECT_TRUE(expired);
    auto b = h.renewed;
    b.next_ca = expired ? *expired : tls::key_and_cert{};
    add({"expired next CA is replaced", b, t0 + 25s,
         rotation_step::add_next_ca});
  }
  return cases;
}

TEST(RotationPlan, StatesToSteps) {
  for (const auto& c : plan_cases()) {
    SCOPED_TRACE(c.name);
    const auto d = plan_rotation(c.bundle, c.policy, c.now);
    EXPECT_EQ(to_string(d.step), std::string(to_string(c.expected)))
        << d.reason;
    EXPECT_FALSE(d.reason.empty());
    if (d.step == rotation_step::none) {
      EXPECT_GT(d.next_check, c.now) << d.reason;
    } else {
      EXPECT_EQ(d.next_check, c.now);
    }
    if (c.next_check) {
      EXPECT_EQ(d.next_check, *c.next_check) << d.reason;
    }
  }
}

TEST(RotationPlan, ReasonsSayWhy) {
  const auto& h = states();
  const auto p = small_policy();
  EXPECT_THAT(plan_rotation(h.created, p, t0 + 12s).reason,
              HasSubstr("the leaf is past 67% of its life"));
  EXPECT_THAT(plan_rotation(h.renewed, p, t0 + 34s).reason,
              HasSubstr("the CA is past 67% of its life"));
  EXPECT_THAT(plan_rotation(h.published, p, t0 + 37s).reason,
              HasSubstr("next CA has been published"));
  EXPECT_THAT(plan_rotation(h.created, p, t0).reason,
              HasSubstr("nothing to do until 2031-05-06T07:08:21Z"));
}

TEST(RotationApply, CreateMakesACaAndALeafItSigned) {
  auto p = small_policy();
  p.ca_lifetime = 8760h;
  p.leaf_lifetime = 720h;
  const auto b = step(std::nullopt, rotation_step::create, t0, p);
  const auto ca = facts(b.ca.cert_pem);
  const auto leaf = facts(b.leaf.cert_pem);
  EXPECT_EQ(ca.subject, "CN=mca-operator-ca@1935817689");
  EXPECT_TRUE(ca.is_ca);
  // Backdated by a minute at most.
  EXPECT_EQ(ca.not_before, t0 - 60s);
  EXPECT_EQ(ca.not_after, t0 - 60s + 8760h);
  EXPECT_EQ(leaf.subject, "CN=mca-operator");
  EXPECT_EQ(leaf.not_before, t0 - 60s);
  EXPECT_EQ(leaf.not_after, t0 - 60s + 720h);
  EXPECT_EQ(leaf.dns_names, p.dns_names);
  EXPECT_EQ(leaf.ip_addresses, p.ip_addresses);
  EXPECT_FALSE(b.next_ca);
  EXPECT_TRUE(b.retiring_cas.empty());
  EXPECT_FALSE(b.retire_at);
  EXPECT_TRUE(tls::verify_issued_by(b.leaf.cert_pem, trust_bundle(b), t0));
  EXPECT_TRUE(tls::check_key_matches(b.ca.cert_pem, b.ca.key_pem));
  EXPECT_TRUE(tls::check_key_matches(b.leaf.cert_pem, b.leaf.key_pem));
}

TEST(RotationApply, RenewKeepsTheCaAndCapsTheLeafAtItsEnd) {
  const auto& h = states();
  const auto b = step(h.created, rotation_step::renew_leaf, t0 + 50s);
  EXPECT_EQ(b.ca.cert_pem, h.created.ca.cert_pem);
  EXPECT_NE(b.leaf.key_pem, h.created.leaf.key_pem);
  const auto leaf = facts(b.leaf.cert_pem);
  EXPECT_EQ(leaf.not_before, t0 + 48s);
  EXPECT_EQ(leaf.not_after, t0 + 54s);  // the CA's end, not t0+68
  EXPECT_TRUE(tls::check_issued_by(b.leaf.cert_pem, b.ca.cert_pem));
}

TEST(RotationApply, AddNextCaLeavesTheLeafAlone) {
  const auto& h = states();
  const auto& b = h.next_added;
  ASSERT_TRUE(b.next_ca);
  EXPECT_FALSE(b.next_ca_published_at);
  EXPECT_EQ(b.ca.cert_pem, h.renewed.ca.cert_pem);
  EXPECT_EQ(b.leaf.cert_pem, h.renewed.leaf.cert_pem);
  EXPECT_EQ(facts(b.next_ca->cert_pem).subject,
            "CN=mca-operator-ca@1935817723");
  // Both CAs are trusted now.
  const auto parts = tls::split_certificates(trust_bundle(b));
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->size(), 2u);
}

TEST(RotationApply, PromoteSwapsCasRetiresTheOldOneAndIssuesFromTheNew) {
  const auto& h = states();
  const auto& b = h.promoted;
  EXPECT_EQ(b.ca.cert_pem, h.published.next_ca->cert_pem);
  EXPECT_EQ(b.ca.key_pem, h.published.next_ca->key_pem);
  EXPECT_FALSE(b.next_ca);
  EXPECT_FALSE(b.next_ca_published_at);
  EXPECT_EQ(b.retiring_cas, std::vector<std::string>{h.published.ca.cert_pem});
  EXPECT_EQ(b.retire_at, t0 + 37s + 5s);
  EXPECT_TRUE(tls::check_issued_by(b.leaf.cert_pem, b.ca.cert_pem));
  // The new leaf verifies against the bundle published before it...
  EXPECT_TRUE(tls::verify_issued_by(b.leaf.cert_pem, trust_bundle(h.published),
                                    t0 + 37s));
  // ...and the old one against the new bundle, for replicas still on it.
  EXPECT_TRUE(tls::verify_issued_by(h.published.leaf.cert_pem, trust_bundle(b),
                                    t0 + 37s));

  // A later retire_at is kept.
  auto late = h.published;
  late.retire_at = t0 + 100s;
  EXPECT_EQ(step(late, rotation_step::promote_next_ca, t0 + 37s).retire_at,
            t0 + 100s);
}

TEST(RotationApply, RetireDropsOnlyTheRetiringCas) {
  const auto& h = states();
  EXPECT_TRUE(h.retired.retiring_cas.empty());
  EXPECT_FALSE(h.retired.retire_at);
  EXPECT_EQ(h.retired.ca.cert_pem, h.promoted.ca.cert_pem);
  EXPECT_EQ(h.retired.leaf.cert_pem, h.promoted.leaf.cert_pem);
}

TEST(RotationApply, RenewingALeafFromARetiringCaExtendsTheGrace) {
  const auto& h = states();
  auto b = h.promoted;
  b.leaf = h.published.leaf;
  const auto renewed = step(b, rotation_step::renew_leaf, t0 + 43s);
  EXPECT_EQ(renewed.retire_at, t0 + 48s);
  EXPECT_EQ(renewed.retiring_cas, b.retiring_cas);
}

TEST(RotationApply, StepsThatDoNotApplyAreInternalErrors) {
  const auto p = small_policy();
  for (auto s : {rotation_step::renew_leaf, rotation_step::add_next_ca,
                 rotation_step::promote_next_ca,
                 rotation_step::retire_previous_cas, rotation_step::none}) {
    auto r = apply_rotation(std::nullopt, s, p, t0);
    ASSERT_FALSE(r) << to_string(s);
    EXPECT_EQ(r.error().source, error_source::internal);
  }
  auto r = apply_rotation(states().renewed, rotation_step::promote_next_ca, p,
                          t0 + 30s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::internal);
  EXPECT_THAT(r.error().message, HasSubstr("there is no next CA"));

  // Issuing failures come through as they are.
  auto bad = p;
  bad.ip_addresses = {"nope"};
  r = apply_rotation(states().renewed, rotation_step::renew_leaf, bad,
                     t0 + 30s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message, HasSubstr("\"nope\" is not an IPv4"));
}

TEST(RotationApply, MarkingPublishedKeepsTheFirstMark) {
  const auto& h = states();
  EXPECT_EQ(mark_next_ca_published(h.next_added, t0 + 35s).next_ca_published_at,
            t0 + 35s);
  EXPECT_EQ(mark_next_ca_published(h.published, t0 + 99s).next_ca_published_at,
            t0 + 35s);
  // Nothing to mark without a next CA.
  EXPECT_FALSE(
      mark_next_ca_published(h.renewed, t0 + 35s).next_ca_published_at);
}

TEST(RotationPolicy, ChecksWhatCannotWork) {
  EXPECT_TRUE(check_policy(small_policy()));
  rotation_policy defaults;
  defaults.dns_names = {"mca-operator.mca-system.svc"};
  EXPECT_TRUE(check_policy(defaults));

  struct bad_case {
    const char* name;
    void (*change)(rotation_policy&);
    const char* message;
  };
  const bad_case cases[] = {
      {"zero CA life", [](rotation_policy& p) { p.ca_lifetime = 0s; },
       "lifetimes must be positive"},
      {"leaf outlives CA", [](rotation_policy& p) { p.leaf_lifetime = 61s; },
       "is longer than the CA's"},
      {"fraction 0", [](rotation_policy& p) { p.renew_fraction = 0; },
       "between 0 and 1"},
      {"fraction 1", [](rotation_policy& p) { p.renew_fraction = 1; },
       "between 0 and 1"},
      {"fraction NaN",
       [](rotation_policy& p) {
         p.renew_fraction = std::numeric_limits<double>::quiet_NaN();
       },
       "between 0 and 1"},
      {"negative grace", [](rotation_policy& p) { p.ca_grace = -1s; },
       "must not be negative"},
      {"no time to rotate the CA",
       [](rotation_policy& p) { p.renew_fraction = 0.9; },
       "too little life left"},
      {"no SANs",
       [](rotation_policy& p) {
         p.dns_names.clear();
         p.ip_addresses.clear();
       },
       "at least one DNS name"},
      {"bad IP", [](rotation_policy& p) { p.ip_addresses = {"1.2.3"}; },
       "\"1.2.3\" is not an IPv4 or IPv6 address"},
      {"long CA name",
       [](rotation_policy& p) { p.ca_common_name = std::string(54, 'x'); },
       "common names"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto p = small_policy();
    c.change(p);
    auto r = check_policy(p);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().source, error_source::config);
    EXPECT_THAT(r.error().message, HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace mca::op
