#pragma once
// Dot-product kernels for the semantic index, dispatched once at run time.
//
// Row formats (what a VectorIndex stores per element):
//   f32   IEEE binary32, as given.
//   f16   IEEE binary16 bit patterns (std::uint16_t), round-to-nearest-even from f32.
//   int8  symmetric: value = clamp(round(x * 127), -127, 127). The vectors are unit length, so
//         |x| <= 1 and the fixed scale 127 never clips; -128 is never produced, which keeps
//         the VNNI sign trick below exact.
//
// int8 with AVX-512 VNNI: vpdpbusd multiplies *unsigned* bytes by *signed* bytes. We flip the
// sign bit of one operand (x ^ 0x80 == x + 128 as an unsigned byte), multiply by the other
// signed operand b, and subtract the correction 128 * sum(b):
//     sum((a + 128) * b) - 128 * sum(b) == sum(a * b)
// In a scan the query is b, so sum(b) is computed once per scan; in a row-row dot (HNSW)
// sum(b) comes from a second vpdpbusd against a vector of ones. All in 32-bit integers, exact.
// Without VNNI (AVX-512BW, AVX2) both operands are widened to 16 bits and multiplied with
// vpmaddwd, which cannot saturate (2 * 127 * 127 < 2^15 * 2^16); vpmaddubsw is avoided on
// purpose because its 16-bit pair sums saturate for vectors with a few large components.
//
// The kernel translation units are compiled with their own -m flags and include nothing but
// <immintrin.h>, <cstddef> and <cstdint>, so no inline function of the standard library can be
// emitted there with instructions the running CPU might lack (the classic COMDAT hazard).
//
// Thread safety: every kernel is a pure function; the tables are immutable.

#include <cstddef>
#include <cstdint>

namespace engram::detail {

enum class KernelLevel : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3 };
inline constexpr int kKernelLevelCount = 4;

// hnswlib's distance-function signature: (a, b, param) with param -> std::size_t dim.
using DistanceFn = float (*)(const void*, const void*, const void*);

struct KernelTable {
  KernelLevel level;
  const char* name;
  // Single dot products.
  float (*dot_f32)(const float* a, const float* b, std::size_t d) noexcept;
  float (*dot_f32_f16)(const float* q, const std::uint16_t* row, std::size_t d) noexcept;
  float (*dot_f16)(const std::uint16_t* a, const std::uint16_t* b, std::size_t d) noexcept;
  std::int32_t (*dot_i8)(const std::int8_t* a, const std::int8_t* b, std::size_t d) noexcept;
  // Scans: out[r] = dot(q, rows + r * d) for r in [0, n); rows are dense (stride d).
  void (*scan_f32)(const float* q, const float* rows, std::size_t n, std::size_t d, float* out) noexcept;
  void (*scan_f16)(const float* q, const std::uint16_t* rows, std::size_t n, std::size_t d, float* out) noexcept;
  void (*scan_i8)(const std::int8_t* q, const std::int8_t* rows, std::size_t n, std::size_t d,
                  std::int32_t* out) noexcept;
  // hnswlib distances (smaller is closer): -dot(a, b), both operands in the stored format.
  DistanceFn neg_dot_f32;
  DistanceFn neg_dot_f16;
  DistanceFn neg_dot_i8;
};

// The tables, one per translation unit (constant-initialized: no static-order issues).
extern const KernelTable kKernelsScalar;
extern const KernelTable kKernelsAvx2;
extern const KernelTable kKernelsAvx512;
extern const KernelTable kKernelsAvx512Vnni;

// True if the running CPU (and OS) supports `level`.
bool kernel_level_supported(KernelLevel level) noexcept;
// The table for `level`, or nullptr if the CPU lacks it. Tests use this to force each level.
const KernelTable* kernel_table(KernelLevel level) noexcept;
// The best supported table, chosen once. The environment variable ENGRAM_KERNELS
// (scalar | avx2 | avx512 | avx512vnni) caps the level, for benchmarks and debugging.
const KernelTable& kernels() noexcept;
const char* to_string(KernelLevel level) noexcept;

}  // namespace engram::detail
