#include "common/util/base64.hpp"

#include <cstdint>

#include <openssl/evp.h>

namespace mca::util {

namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t digits = 0;
  std::size_t padding = 0;
  for (const char c : in) {
    if (is_space(c)) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int v = base64_value(c);
    if (v < 0 || padding > 0) return std::nullopt;
    acc = ((acc << 6U) | static_cast<std::uint32_t>(v)) & 0xFFFFFFU;
    bits += 6;
    ++digits;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(
          static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  const std::size_t tail = digits % 4;
  if (tail == 1) return std::nullopt;
  if (padding > 0 && tail + padding != 4) return std::nullopt;
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(in.data()),
                      static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace mca::util
