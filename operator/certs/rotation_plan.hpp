#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/core/error.hpp"
#include "operator/certs/certificate_bundle.hpp"

namespace mca::op {

struct rotation_policy {
  std::chrono::seconds ca_lifetime{std::chrono::hours(8760)},
      leaf_lifetime{std::chrono::hours(720)};
  // A certificate is renewed once this much of its life (notBefore to
  // notAfter) has passed.
  double renew_fraction = 2.0 / 3.0;
  // How long a replaced CA stays in the trust bundle after the new leaf is
  // in the Secret: enough for every replica to load the new leaf.
  std::chrono::seconds ca_grace{std::chrono::hours(24)};
  // next_ca must have been published this long before it signs the served
  // leaf: enough for every client (API server, kubelet-synced ConfigMaps)
  // to have picked the bundle up.
  std::chrono::seconds bundle_propagation{90};
  std::vector<std::string> dns_names, ip_addresses;  // the leaf's SANs
  // Each CA is named "<ca_common_name>@<unix seconds>" so that CAs of
  // different generations have different subjects: clients that pick an
  // issuer by name alone then cannot pick the wrong one.
  std::string ca_common_name = "mca-operator-ca";
  std::string leaf_common_name = "mca-operator";
};

// Whether `policy` can work at all: positive lifetimes, a leaf no longer
// lived than its CA, 0 < renew_fraction < 1, SANs to issue, and a CA renewed
// early enough that its successor can be published and promoted before it
// expires. Errors are source config and name the field.
mca::result<void> check_policy(const rotation_policy& policy);

enum class rotation_step {
  none,
  create,               // no bundle (or a dead CA): a new CA and leaf
  renew_leaf,           // a new leaf from the current CA
  add_next_ca,          // a new CA in the bundle, not yet signing
  promote_next_ca,      // next CA signs; old CA retiring; new leaf
  retire_previous_cas,  // drop the retiring CAs
};

const char* to_string(rotation_step step) noexcept;

struct rotation_decision {
  rotation_step step = rotation_step::none;
  std::string reason;  // human, for logs
  // When to look again if nothing changes: for step none, the earliest
  // future moment any rule could fire (always after `now`); otherwise `now`,
  // since the caller plans again right after applying the step.
  std::chrono::system_clock::time_point next_check;
};

// The one step to take now. Pure: reads the certificates' own windows, and
// the clock only through `now`. Priorities, highest first:
//   create    no bundle, or a CA that has expired (from its notAfter on)
//             with no valid next CA to take over: nothing it signed
//             verifies any more;
//   retire    retire_at passed (or, if unset, ca_grace after the served
//             leaf's notBefore) and the leaf is issued by ca;
//   promote   next_ca published at least bundle_propagation ago, or the
//             CA expired and next_ca is still valid;
//   add       the CA is past renew_fraction of its life and there is no
//             next_ca, or the next_ca is unreadable or expired (replaced);
//   renew     the leaf is not issued by ca, its SANs differ from the
//             policy's (as sets), it is not valid yet, or it is past
//             renew_fraction of its life and a new one would last longer
//             (it does not already end with the CA). While a next_ca waits
//             the age rule holds back, since promoting brings a new leaf
//             anyway, unless the leaf would expire before the promotion.
// Precondition: check_policy(policy) passed.
rotation_decision plan_rotation(
    const std::optional<certificate_bundle>& current,
    const rotation_policy& policy, std::chrono::system_clock::time_point now);

// The bundle after `step`. notBefore is backdated by min(60 s,
// lifetime / 10) for clock skew among the clients; leaves end no later
// than their CA. promote_next_ca moves the old CA to retiring_cas with
// retire_at = now + ca_grace (or later, if already later) and issues the
// new leaf in the same step, so the Secret never pairs a leaf with a CA
// that has not been published. Errors: a step that does not apply to
// `current` is internal (a bug in the caller); issuing failures as
// tls::issue_serving_certificate reports them.
mca::result<certificate_bundle> apply_rotation(
    const std::optional<certificate_bundle>& current, rotation_step step,
    const rotation_policy& policy, std::chrono::system_clock::time_point now);

// `bundle` with next_ca_published_at = now, for the publisher to call once
// every trust bundle (caBundle, each mca-ca-bundle ConfigMap) holds
// next_ca. Keeps an earlier mark: the clock runs from the first time every
// client could see it. Without a next_ca, `bundle` unchanged.
certificate_bundle mark_next_ca_published(
    certificate_bundle bundle, std::chrono::system_clock::time_point now);

}  // namespace mca::op
