// AVX2 + FMA + F16C kernels. Compiled with -mavx2 -mfma -mf16c (see CMakeLists.txt); only
// <immintrin.h> and fixed-width types are included, and every helper has internal linkage, so
// no AVX2 code can leak into a function the rest of the program shares.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels.hpp"

namespace engram::detail {
namespace {

inline float hsum(__m256 v) noexcept {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline std::int32_t hsum(__m256i v) noexcept {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline float half_to_float(std::uint16_t h) noexcept { return _cvtsh_ss(h); }

inline float dot_f32_impl(const float* a, const float* b, std::size_t d) noexcept {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  std::size_t j = 0;
  for (; j + 32 <= d; j += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 16), _mm256_loadu_ps(b + j + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 24), _mm256_loadu_ps(b + j + 24), s3);
  }
  for (; j + 8 <= d; j += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), s0);
  float tail = 0;
  for (; j < d; ++j) tail += a[j] * b[j];
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

inline __m256 load_half8(const std::uint16_t* p) noexcept {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline float dot_f32_f16_impl(const float* q, const std::uint16_t* r, std::size_t d) noexcept {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  std::size_t j = 0;
  for (; j + 32 <= d; j += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), load_half8(r + j), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), load_half8(r + j + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 16), load_half8(r + j + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 24), load_half8(r + j + 24), s3);
  }
  for (; j + 8 <= d; j += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), load_half8(r + j), s0);
  float tail = 0;
  for (; j < d; ++j) tail += q[j] * half_to_float(r[j]);
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

inline float dot_f16_impl(const std::uint16_t* a, const std::uint16_t* b, std::size_t d) noexcept {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::size_t j = 0;
  for (; j + 16 <= d; j += 16) {
    s0 = _mm256_fmadd_ps(load_half8(a + j), load_half8(b + j), s0);
    s1 = _mm256_fmadd_ps(load_half8(a + j + 8), load_half8(b + j + 8), s1);
  }
  for (; j + 8 <= d; j += 8) s0 = _mm256_fmadd_ps(load_half8(a + j), load_half8(b + j), s0);
  float tail = 0;
  for (; j < d; ++j) tail += half_to_float(a[j]) * half_to_float(b[j]);
  return hsum(_mm256_add_ps(s0, s1)) + tail;
}

inline __m256i load_i8_as_i16(const std::int8_t* p) noexcept {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Both operands widened to 16 bits; vpmaddwd sums adjacent products into 32 bits exactly.
inline std::int32_t dot_i8_impl(const std::int8_t* a, const std::int8_t* b, std::size_t d) noexcept {
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  std::size_t j = 0;
  for (; j + 32 <= d; j += 32) {
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(load_i8_as_i16(a + j), load_i8_as_i16(b + j)));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(load_i8_as_i16(a + j + 16), load_i8_as_i16(b + j + 16)));
  }
  for (; j + 16 <= d; j += 16)
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(load_i8_as_i16(a + j), load_i8_as_i16(b + j)));
  std::int32_t tail = 0;
  for (; j < d; ++j) tail += static_cast<std::int32_t>(a[j]) * b[j];
  return hsum(_mm256_add_epi32(s0, s1)) + tail;
}

float dot_f32(const float* a, const float* b, std::size_t d) noexcept { return dot_f32_impl(a, b, d); }
float dot_f32_f16(const float* q, const std::uint16_t* r, std::size_t d) noexcept { return dot_f32_f16_impl(q, r, d); }
float dot_f16(const std::uint16_t* a, const std::uint16_t* b, std::size_t d) noexcept { return dot_f16_impl(a, b, d); }
std::int32_t dot_i8(const std::int8_t* a, const std::int8_t* b, std::size_t d) noexcept { return dot_i8_impl(a, b, d); }

void scan_f32(const float* q, const float* rows, std::size_t n, std::size_t d, float* out) noexcept {
  for (std::size_t r = 0; r < n; ++r) out[r] = dot_f32_impl(q, rows + r * d, d);
}
void scan_f16(const float* q, const std::uint16_t* rows, std::size_t n, std::size_t d, float* out) noexcept {
  for (std::size_t r = 0; r < n; ++r) out[r] = dot_f32_f16_impl(q, rows + r * d, d);
}
void scan_i8(const std::int8_t* q, const std::int8_t* rows, std::size_t n, std::size_t d, std::int32_t* out) noexcept {
  for (std::size_t r = 0; r < n; ++r) out[r] = dot_i8_impl(q, rows + r * d, d);
}

inline std::size_t dim_of(const void* p) noexcept { return *static_cast<const std::size_t*>(p); }

float neg_dot_f32(const void* a, const void* b, const void* p) {
  return -dot_f32_impl(static_cast<const float*>(a), static_cast<const float*>(b), dim_of(p));
}
float neg_dot_f16(const void* a, const void* b, const void* p) {
  return -dot_f16_impl(static_cast<const std::uint16_t*>(a), static_cast<const std::uint16_t*>(b), dim_of(p));
}
float neg_dot_i8(const void* a, const void* b, const void* p) {
  return -static_cast<float>(
      dot_i8_impl(static_cast<const std::int8_t*>(a), static_cast<const std::int8_t*>(b), dim_of(p)));
}

}  // namespace

extern const KernelTable kKernelsAvx2 = {KernelLevel::kAvx2, "avx2",   dot_f32, dot_f32_f16, dot_f16,     dot_i8,
                                         scan_f32,           scan_f16, scan_i8, neg_dot_f32, neg_dot_f16, neg_dot_i8};

}  // namespace engram::detail
