#include "operator/certs/rotation_plan.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <utility>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "common/tls/certificate_authority.hpp"
#include "common/util/strings.hpp"

namespace mca::op {
namespace {

using sys_clock = std::chrono::system_clock;
using time_point = sys_clock::time_point;
using std::chrono::seconds;

constexpr auto never = time_point::max();

// Clients' clocks may run behind ours; a certificate that starts exactly
// now would be "not yet valid" to them for a moment.
seconds backdate(seconds lifetime) {
  return std::min(seconds(60), lifetime / 10);
}

// The moment `fraction` of the certificate's own window has passed.
time_point renew_point(const tls::certificate_facts& facts, double fraction) {
  const std::chrono::duration<double> life = facts.not_after - facts.not_before;
  return facts.not_before +
         std::chrono::duration_cast<sys_clock::duration>(life * fraction);
}

std::string percent(double fraction) {
  return std::to_string(std::lround(fraction * 100)) + "%";
}

bool is_ip(const std::string& ip) {
  std::array<unsigned char, 16> bytes{};
  return inet_pton(AF_INET, ip.c_str(), bytes.data()) == 1 ||
         inet_pton(AF_INET6, ip.c_str(), bytes.data()) == 1;
}

// The text inet_ntop gives, so "0:0::1" and "::1" compare equal; anything
// that does not parse stays as written (and then never matches).
std::string canonical_ip(const std::string& ip) {
  std::array<unsigned char, 16> bytes{};
  std::array<char, INET6_ADDRSTRLEN> text{};
  for (const int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, ip.c_str(), bytes.data()) == 1 &&
        inet_ntop(family, bytes.data(), text.data(),
                  static_cast<socklen_t>(text.size())) != nullptr) {
      return text.data();
    }
  }
  return ip;
}

std::set<std::string> canonical_ips(const std::vector<std::string>& ips) {
  std::set<std::string> out;
  for (const auto& ip : ips) out.insert(canonical_ip(ip));
  return out;
}

bool same_names(const tls::certificate_facts& leaf,
                const rotation_policy& policy) {
  return std::set<std::string>(leaf.dns_names.begin(), leaf.dns_names.end()) ==
             std::set<std::string>(policy.dns_names.begin(),
                                   policy.dns_names.end()) &&
         canonical_ips(leaf.ip_addresses) == canonical_ips(policy.ip_addresses);
}

// As OpenSSL sees it: from notAfter on, a certificate has expired (RFC
// 5280 would still allow that very second).
bool valid_at(const tls::certificate_facts& facts, time_point t) {
  return facts.not_before <= t && t < facts.not_after;
}

// One rule of the planner: the step it takes and from when. `at` is
// `never` for a rule that cannot fire until the bundle changes.
struct rule {
  rotation_step step;
  time_point at;
  std::string reason;
};

rotation_decision decide(const std::vector<rule>& rules, time_point now) {
  // `rules` are in priority order.
  for (const auto& r : rules) {
    if (r.at <= now) return {r.step, r.reason, now};
  }
  const rule* first = nullptr;
  for (const auto& r : rules) {
    if (r.at != never && (first == nullptr || r.at < first->at)) first = &r;
  }
  if (first == nullptr) {
    // Unreachable while the CA parses (its expiry is always a rule); a
    // bounded wait keeps a caller from sleeping forever regardless.
    return {rotation_step::none, "nothing to do", now + std::chrono::hours(1)};
  }
  return {rotation_step::none,
          "nothing to do until " + format_rfc3339(first->at) + ", when " +
              first->reason,
          first->at};
}

rotation_decision plan_for(const certificate_bundle& b,
                           const rotation_policy& policy, time_point now) {
  const double f = policy.renew_fraction;
  const auto ca = tls::inspect_certificate(b.ca.cert_pem);
  if (!ca) {
    return {rotation_step::create,
            "the CA certificate cannot be read (" + ca.error().message + ")",
            now};
  }
  const auto leaf = tls::inspect_certificate(b.leaf.cert_pem);
  const bool leaf_from_ca =
      leaf && tls::check_issued_by(b.leaf.cert_pem, b.ca.cert_pem);
  std::optional<tls::certificate_facts> next;
  if (b.next_ca) {
    if (auto n = tls::inspect_certificate(b.next_ca->cert_pem); n) next = *n;
  }
  // A next CA that could still take over; an unreadable or expired one is
  // only in the way.
  const bool next_usable = next && now < next->not_after;
  const bool next_valid_now = next && valid_at(*next, now);

  std::vector<rule> rules;

  // create: a dead CA with nobody to take over. Nothing it signed verifies
  // any more, so there is no trust left to preserve.
  rules.push_back({rotation_step::create,
                   next_valid_now ? never : ca->not_after,
                   "the CA expires (" + format_rfc3339(ca->not_after) +
                       ") with no next CA to take over"});

  // retire: only once the served leaf is the current CA's, or the CA that
  // signed it would leave the bundle while replicas serve it.
  if (!b.retiring_cas.empty() || b.retire_at) {
    time_point at = never;
    if (b.retire_at) {
      at = *b.retire_at;
    } else if (leaf) {
      // Written by hand without the annotation: the leaf's start is the
      // best record of when replicas began to switch.
      at = leaf->not_before + policy.ca_grace;
    }
    if (leaf_from_ca) {
      rules.push_back({rotation_step::retire_previous_cas, at,
                       "the replaced CAs' grace period ends"});
    }
  }

  // promote: clients have had the next CA for long enough. Or the CA has
  // died, and the next CA is better than starting over.
  if (next_usable) {
    time_point at = never;
    std::string reason;
    if (b.next_ca_published_at) {
      at = *b.next_ca_published_at + policy.bundle_propagation;
      reason = "the next CA has been published (at " +
               format_rfc3339(*b.next_ca_published_at) + ") for " +
               std::to_string(policy.bundle_propagation.count()) + " s";
    }
    if (next_valid_now && ca->not_after < at) {
      at = ca->not_after;
      reason = "the CA expires (" + format_rfc3339(ca->not_after) +
               ") before the next CA has been published long enough";
    }
    // Never before the next CA's own window opens (a clock behind).
    if (at != never) at = std::max(at, next->not_before);
    rules.push_back({rotation_step::promote_next_ca, at, std::move(reason)});
  }

  // add_next_ca: the CA is ageing and has no successor yet.
  if (!next_usable) {
    if (b.next_ca) {
      rules.push_back({rotation_step::add_next_ca, time_point::min(),
                       "the next CA cannot be read or has expired"});
    } else {
      rules.push_back({rotation_step::add_next_ca, renew_point(*ca, f),
                       "the CA is past " + percent(f) +
                           " of its life (it expires " +
                           format_rfc3339(ca->not_after) + ")"});
    }
  }

  // renew_leaf.
  if (!leaf) {
    rules.push_back({rotation_step::renew_leaf, time_point::min(),
                     "the leaf certificate cannot be read"});
  } else if (!leaf_from_ca) {
    rules.push_back({rotation_step::renew_leaf, time_point::min(),
                     "the leaf is not issued by the current CA"});
  } else if (!same_names(*leaf, policy)) {
    rules.push_back(
        {rotation_step::renew_leaf, time_point::min(),
         "the leaf's subjectAltNames differ from the configured ones"});
  } else if (now < leaf->not_before) {
    rules.push_back({rotation_step::renew_leaf, time_point::min(),
                     "the leaf is not valid until " +
                         format_rfc3339(leaf->not_before) +
                         " (has the clock gone back?)"});
  } else if (leaf->not_after < ca->not_after) {
    // A leaf that already ends with its CA cannot be outlived by another
    // from the same CA; only a new CA helps, and the rules above see to
    // that. Without this, renewals would crowd ever closer near the end.
    time_point at = renew_point(*leaf, f);
    if (next_usable) {
      // Promotion brings a new leaf; renewing first would be wasted work,
      // unless the leaf would not last until then.
      if (b.next_ca_published_at) {
        const auto promote_at =
            *b.next_ca_published_at + policy.bundle_propagation;
        if (leaf->not_after > promote_at) at = never;
      } else {
        at = std::max(at, leaf->not_after - policy.bundle_propagation);
      }
    }
    rules.push_back({rotation_step::renew_leaf, at,
                     "the leaf is past " + percent(f) +
                         " of its life (it expires " +
                         format_rfc3339(leaf->not_after) + ")"});
  }

  return decide(rules, now);
}

error misapplied(rotation_step step, const std::string& why) {
  return error::of(error_source::internal, std::string("rotation step ") +
                                               to_string(step) + ": " + why);
}

mca::result<tls::key_and_cert> new_ca(const rotation_policy& policy,
                                      time_point now) {
  const auto unix_seconds =
      std::chrono::floor<seconds>(now.time_since_epoch()).count();
  return tls::make_certificate_authority(tls::ca_options{
      .common_name = policy.ca_common_name + "@" + std::to_string(unix_seconds),
      .not_before = now - backdate(policy.ca_lifetime),
      .validity = policy.ca_lifetime,
  });
}

mca::result<tls::key_and_cert> new_leaf(const tls::key_and_cert& ca,
                                        const rotation_policy& policy,
                                        time_point now) {
  return tls::issue_serving_certificate(
      ca, tls::leaf_options{
              .common_name = policy.leaf_common_name,
              .dns_names = policy.dns_names,
              .ip_addresses = policy.ip_addresses,
              .not_before = now - backdate(policy.leaf_lifetime),
              .validity = policy.leaf_lifetime,
          });
}

}  // namespace

const char* to_string(rotation_step step) noexcept {
  switch (step) {
    case rotation_step::none:
      return "none";
    case rotation_step::create:
      return "create";
    case rotation_step::renew_leaf:
      return "renew_leaf";
    case rotation_step::add_next_ca:
      return "add_next_ca";
    case rotation_step::promote_next_ca:
      return "promote_next_ca";
    case rotation_step::retire_previous_cas:
      return "retire_previous_cas";
  }
  return "unknown";
}

mca::result<void> check_policy(const rotation_policy& policy) {
  const auto bad = [](std::string message) {
    return error::of(error_source::config,
                     "certificate rotation: " + std::move(message));
  };
  if (policy.ca_lifetime <= seconds::zero() ||
      policy.leaf_lifetime <= seconds::zero()) {
    return bad("the CA and leaf lifetimes must be positive");
  }
  if (policy.leaf_lifetime > policy.ca_lifetime) {
    return bad("the leaf lifetime (" +
               std::to_string(policy.leaf_lifetime.count()) +
               " s) is longer than the CA's (" +
               std::to_string(policy.ca_lifetime.count()) + " s)");
  }
  if (!(policy.renew_fraction > 0.0 && policy.renew_fraction < 1.0)) {
    return bad("the renew fraction must be between 0 and 1, not " +
               std::to_string(policy.renew_fraction));
  }
  if (policy.ca_grace < seconds::zero() ||
      policy.bundle_propagation < seconds::zero()) {
    return bad(
        "the CA grace period and bundle propagation time must not be "
        "negative");
  }
  // What is left of a CA's life when its successor is added must cover
  // publishing that successor and then the grace period of the old one.
  const std::chrono::duration<double> rest =
      policy.ca_lifetime * (1.0 - policy.renew_fraction);
  if (rest <= policy.bundle_propagation + policy.ca_grace) {
    return bad("a CA renewed at " + percent(policy.renew_fraction) + " of " +
               std::to_string(policy.ca_lifetime.count()) +
               " s has too little life left for the bundle propagation (" +
               std::to_string(policy.bundle_propagation.count()) +
               " s) and the grace period (" +
               std::to_string(policy.ca_grace.count()) + " s)");
  }
  if (policy.dns_names.empty() && policy.ip_addresses.empty()) {
    return bad(
        "the serving certificate needs at least one DNS name or IP "
        "address");
  }
  for (const auto& ip : policy.ip_addresses) {
    if (!is_ip(ip)) return bad(quote(ip) + " is not an IPv4 or IPv6 address");
  }
  // "@" and ten digits of Unix time follow the CA's name.
  if (policy.ca_common_name.empty() || policy.ca_common_name.size() > 53 ||
      policy.leaf_common_name.empty() || policy.leaf_common_name.size() > 64) {
    return bad(
        "the common names must be 1 to 53 (CA) and 1 to 64 (leaf) "
        "characters long");
  }
  return {};
}

rotation_decision plan_rotation(
    const std::optional<certificate_bundle>& current,
    const rotation_policy& policy, time_point now) {
  if (!current) return {rotation_step::create, "there is no bundle yet", now};
  return plan_for(*current, policy, now);
}

mca::result<certificate_bundle> apply_rotation(
    const std::optional<certificate_bundle>& current, rotation_step step,
    const rotation_policy& policy, time_point now) {
  if (step == rotation_step::create) {
    auto ca = new_ca(policy, now);
    if (!ca) return ca.error();
    auto leaf = new_leaf(*ca, policy, now);
    if (!leaf) return leaf.error();
    certificate_bundle out;
    out.ca = std::move(*ca);
    out.leaf = std::move(*leaf);
    return out;
  }
  if (!current) return misapplied(step, "there is no bundle to change");
  certificate_bundle out = *current;
  switch (step) {
    case rotation_step::none:
    case rotation_step::create:
      return out;
    case rotation_step::retire_previous_cas:
      out.retiring_cas.clear();
      out.retire_at.reset();
      return out;
    case rotation_step::add_next_ca: {
      auto ca = new_ca(policy, now);
      if (!ca) return ca.error();
      out.next_ca = std::move(*ca);
      out.next_ca_published_at.reset();
      return out;
    }
    case rotation_step::promote_next_ca: {
      if (!out.next_ca) return misapplied(step, "there is no next CA");
      auto leaf = new_leaf(*out.next_ca, policy, now);
      if (!leaf) return leaf.error();
      if (std::find(out.retiring_cas.begin(), out.retiring_cas.end(),
                    out.ca.cert_pem) == out.retiring_cas.end()) {
        out.retiring_cas.push_back(out.ca.cert_pem);
      }
      const auto until = now + policy.ca_grace;
      out.retire_at = out.retire_at ? std::max(*out.retire_at, until) : until;
      out.ca = *std::move(out.next_ca);
      out.next_ca.reset();
      out.next_ca_published_at.reset();
      out.leaf = std::move(*leaf);
      return out;
    }
    case rotation_step::renew_leaf: {
      auto leaf = new_leaf(out.ca, policy, now);
      if (!leaf) return leaf.error();
      // A leaf from another CA (a retiring one, say) may still be served
      // for a while: keep its CA trusted for the same grace period.
      if (!out.retiring_cas.empty() &&
          !tls::check_issued_by(out.leaf.cert_pem, out.ca.cert_pem)) {
        const auto until = now + policy.ca_grace;
        out.retire_at = out.retire_at ? std::max(*out.retire_at, until) : until;
      }
      out.leaf = std::move(*leaf);
      return out;
    }
  }
  return misapplied(step, "unknown step");
}

certificate_bundle mark_next_ca_published(certificate_bundle bundle,
                                          time_point now) {
  if (bundle.next_ca && !bundle.next_ca_published_at) {
    bundle.next_ca_published_at = now;
  }
  return bundle;
}

}  // namespace mca::op
