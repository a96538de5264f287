#include "sidecar/pod_files/pod_files.hpp"

#include <array>
#include <cstdint>
#include <random>
#include <string_view>
#include <system_error>
#include <utility>

#include <openssl/rand.h>

#include "common/util/atomic_file.hpp"
#include "common/util/strings.hpp"

namespace mca::sidecar {
namespace {

namespace fs = std::filesystem;

// 0644 for all three, the token included. The app container may run as a
// different uid than the sidecar and only shares the pod's fsGroup, so a
// 0600 file could be unreadable to it. That is safe because the token is a
// placeholder, not a credential (see make_placeholder_token); the CA
// certificate and the namespace are public anyway.
constexpr auto file_mode = fs::perms::owner_read | fs::perms::owner_write |
                           fs::perms::group_read | fs::perms::others_read;

// RFC 4648 §5, unpadded: safe in a header and a file without escaping.
std::string base64url(const unsigned char* data, std::size_t size) {
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((size * 4 + 2) / 3);
  std::uint32_t buffer = 0;
  unsigned bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8U) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(buffer >> bits) & 0x3fU];
    }
  }
  if (bits > 0) out += alphabet[(buffer << (6 - bits)) & 0x3fU];
  return out;
}

}  // namespace

mca::result<void> write_pod_files(const fs::path& dir, const pod_files& files) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return error::of(error_source::config, "creating the pod files directory " +
                                               quote(dir.string()) + ": " +
                                               ec.message());
  }
  // ca.crt last: whoever waits for it (a client, a startup check) can take
  // its presence to mean the directory is complete.
  const std::array<std::pair<const char*, const std::string*>, 3> order{{
      {"namespace", &files.namespace_name},
      {"token", &files.token},
      {"ca.crt", &files.ca_crt},
  }};
  for (const auto& [name, content] : order) {
    if (auto r = util::write_file_atomically(dir / name, *content, file_mode);
        !r) {
      return r;
    }
  }
  return {};
}

std::string make_placeholder_token() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // Not a secret, so a weaker source is acceptable; failing the sidecar's
    // start over a placeholder would not be.
    std::random_device random;
    for (auto& b : bytes) b = static_cast<unsigned char>(random());
  }
  return "mca-sidecar." + base64url(bytes.data(), bytes.size());
}

}  // namespace mca::sidecar
