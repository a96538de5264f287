#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/core/error.hpp"
#include "common/tls/self_signed.hpp"

namespace mca::op {

// The operator's CAs and serving certificate as one value: what the shared
// Secret holds, so every replica serves the same leaf and the leader alone
// rotates it. Plain data; rotation_plan.hpp decides how it changes.
struct certificate_bundle {
  // Secret data ca.crt / ca.key: the CA that signs leaves now.
  tls::key_and_cert ca;
  // next-ca.crt / next-ca.key: a new CA being published, not yet signing.
  std::optional<tls::key_and_cert> next_ca;
  // Annotation mca.k8s.io/next-ca-published-at (RFC 3339): when every
  // bundle held next_ca. Unset until the publisher says so.
  std::optional<std::chrono::system_clock::time_point> next_ca_published_at;
  // retiring-ca.crt (PEMs one after another): replaced CAs still trusted,
  // because a replica may still serve a leaf one of them signed.
  std::vector<std::string> retiring_cas;
  // Annotation mca.k8s.io/retire-at: when retiring_cas may go.
  std::optional<std::chrono::system_clock::time_point> retire_at;
  // tls.crt / tls.key: what both ports serve.
  tls::key_and_cert leaf;
};

// Data keys and annotations of the Secret, for the code that reads them.
inline constexpr const char* secret_ca_cert_key = "ca.crt";
inline constexpr const char* secret_ca_key_key = "ca.key";
inline constexpr const char* secret_next_ca_cert_key = "next-ca.crt";
inline constexpr const char* secret_next_ca_key_key = "next-ca.key";
inline constexpr const char* secret_retiring_cas_key = "retiring-ca.crt";
inline constexpr const char* secret_leaf_cert_key = "tls.crt";
inline constexpr const char* secret_leaf_key_key = "tls.key";
inline constexpr const char* secret_trust_bundle_key = "ca-bundle.crt";
inline constexpr const char* next_ca_published_at_annotation =
    "mca.k8s.io/next-ca-published-at";
inline constexpr const char* retire_at_annotation = "mca.k8s.io/retire-at";

// What clients must trust, as PEM: ca, then next_ca, then the retiring
// ones, each certificate once (by SHA-256 fingerprint). What caBundle and
// the mca-ca-bundle ConfigMaps hold. A certificate that does not parse is
// left out, since it could not anchor a chain anyway.
std::string trust_bundle(const certificate_bundle& bundle);

// The bundle a v1 Secret holds. Checks that every certificate parses (one
// per key, retiring-ca.crt excepted), the CAs are CAs, each key matches its
// certificate, and tls.crt was signed by ca.crt; validity windows are the
// planner's business, so an expired bundle still reads. Errors (source
// config) start with "Secret <ns>/<name>: " and name the data key or
// annotation at fault; none contains key bytes. ca-bundle.crt is derived
// and not read.
mca::result<certificate_bundle> bundle_from_secret(
    const nlohmann::json& secret);

// A full v1 Secret (type Opaque, label app.kubernetes.io/managed-by:
// mca-operator) holding `bundle`, with ca-bundle.crt = trust_bundle(bundle)
// and only the annotations that are set. Times are written to the whole
// second, rounded up, so reading them back never makes an event earlier.
// No resourceVersion: a caller updating an existing Secret adds the one it
// read, so two leaders cannot overwrite each other unnoticed.
nlohmann::json secret_for_bundle(const certificate_bundle& bundle,
                                 const std::string& name,
                                 const std::string& ns);

// RFC 3339 in UTC to the whole second ("2026-11-23T14:00:00Z"), rounded
// up: the annotations above mark the earliest moment something may happen,
// and a round trip through the Secret must not bring it forward.
std::string format_rfc3339(std::chrono::system_clock::time_point t);
// RFC 3339 date-time, with optional fractional seconds and a Z or +hh:mm
// offset; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(
    std::string_view text);

}  // namespace mca::op
