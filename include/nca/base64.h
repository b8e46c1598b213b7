// Standard base64 (RFC 4648, with padding): the web page's embedded weights and the weights of
// Distill's model files. None of nca's dependencies offers it where every build has it (FFmpeg's
// libavutil does, but nca builds without FFmpeg too).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace nca {

// Standard base64 of raw bytes, with '=' padding.
std::string base64(const void* data, size_t size);

// The bytes `text` encodes, or nullopt when it is not canonical padded base64: a length that is
// not a multiple of 4, a character outside the alphabet, '=' anywhere but in the last two places,
// or padding bits that are not zero.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace nca
