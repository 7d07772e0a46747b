#pragma once
// Portable IEEE binary16 <-> binary32 conversion (round to nearest even), bit-identical to
// the F16C / AVX-512 instructions for finite values, so rows encoded here decode the same way
// in every kernel. Never include this from a kernel translation unit compiled with -m flags.

#include <bit>
#include <cstdint>

namespace engram::detail {

inline float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalize into a binary32 normal
      std::uint32_t e = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --e;
      }
      bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

inline std::uint16_t float_to_half(float f) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  std::uint32_t abs = bits & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN (NaN stays a quiet NaN)
    const std::uint32_t nan = abs > 0x7f800000u ? 0x200u | ((abs >> 13) & 0x3ffu) : 0;
    return static_cast<std::uint16_t>(sign | 0x7c00u | nan);
  }
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {
    // Below the smallest normal half: adding 0.5f (whose ulp is 2^-24, the half subnormal
    // step) lets the FPU do the round-to-nearest-even for us.
    const float r = std::bit_cast<float>(abs) + 0.5f;
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(r) - 0x3f000000u));
  }
  const std::uint32_t odd = (abs >> 13) & 1u;
  abs = abs - (112u << 23) + 0xfffu + odd;
  return static_cast<std::uint16_t>(sign | (abs >> 13));
}

}  // namespace engram::detail
