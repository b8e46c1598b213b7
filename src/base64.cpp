// Standard base64, both ways (nca/base64.h).
#include "nca/base64.h"

#include <array>
#include <cstdint>

namespace nca {
namespace {

constexpr const char* kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of each character, -1 for those outside the alphabet.
std::array<int8_t, 256> decoding_table() {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}

}  // namespace

std::string base64(const void* data, size_t size) {
  const auto* in = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (size_t i = 0; i < size; i += 3) {
    const uint32_t n = (uint32_t{in[i]} << 16) | (i + 1 < size ? uint32_t{in[i + 1]} << 8 : 0) |
                       (i + 2 < size ? uint32_t{in[i + 2]} : 0);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < size ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < size ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  static const std::array<int8_t, 256> kTable = decoding_table();
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    uint32_t n = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char ch = text[i + k];
      int v = kTable[static_cast<unsigned char>(ch)];
      if (ch == '=' && last && k >= 4 - padding) v = 0;
      if (v < 0) return std::nullopt;
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    const size_t bytes = last ? 3 - padding : 3;
    // Bits below the last byte must be zero, or two texts would name the same bytes.
    if (bytes < 3 && (n & ((1u << (8 * (3 - bytes))) - 1)) != 0) return std::nullopt;
    for (size_t b = 0; b < bytes; ++b) out += static_cast<char>((n >> (16 - 8 * b)) & 0xff);
  }
  return out;
}

}  // namespace nca
