// AVX-512 kernels: F + BW + VL for f32, f16 (vcvtph2ps) and int8 (widen + vpmaddwd), plus
// the VNNI int8 kernels (vpdpbusd) in functions that add target("avx512vnni") on top of the
// translation unit's flags (-mavx512f -mavx512bw -mavx512vl -mavx2 -mfma -mf16c). Tails use
// masked loads, so odd dimensions never read past a row. Only <immintrin.h> and fixed-width
// types are included, and all helpers have internal linkage (see kernels.hpp).
// GCC 12 reports false -Wuninitialized / -Wmaybe-uninitialized inside avx512fintrin.h for the
// _mm512_undefined_*() idiom once its intrinsics are inlined (GCC bug 105593, fixed in 13);
// the diagnostics fire at our call sites, so they are silenced for this file only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // a g++-only warning group; clang does not know it
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels.hpp"

namespace engram::detail {
namespace {

inline __mmask16 mask16(std::size_t n) noexcept { return static_cast<__mmask16>((1u << n) - 1u); }
inline __mmask32 mask32(std::size_t n) noexcept { return static_cast<__mmask32>((std::uint64_t{1} << n) - 1u); }
inline __mmask64 mask64(std::size_t n) noexcept {
  return n >= 64 ? ~__mmask64{0} : static_cast<__mmask64>((std::uint64_t{1} << n) - 1u);
}

// ---- f32 ----

inline float dot_f32_impl(const float* a, const float* b, std::size_t d) noexcept {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  std::size_t j = 0;
  for (; j + 64 <= d; j += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 32), _mm512_loadu_ps(b + j + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 48), _mm512_loadu_ps(b + j + 48), s3);
  }
  for (; j + 16 <= d; j += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), s0);
  if (j < d) {
    const __mmask16 m = mask16(d - j);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + j), _mm512_maskz_loadu_ps(m, b + j), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// ---- f16 ----

inline __m512 load_half16(const std::uint16_t* p) noexcept {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load_half16(const std::uint16_t* p, __mmask16 m) noexcept {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

inline float dot_f32_f16_impl(const float* q, const std::uint16_t* r, std::size_t d) noexcept {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  std::size_t j = 0;
  for (; j + 64 <= d; j += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), load_half16(r + j), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 16), load_half16(r + j + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 32), load_half16(r + j + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 48), load_half16(r + j + 48), s3);
  }
  for (; j + 16 <= d; j += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), load_half16(r + j), s0);
  if (j < d) {
    const __mmask16 m = mask16(d - j);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + j), load_half16(r + j, m), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

inline float dot_f16_impl(const std::uint16_t* a, const std::uint16_t* b, std::size_t d) noexcept {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  std::size_t j = 0;
  for (; j + 32 <= d; j += 32) {
    s0 = _mm512_fmadd_ps(load_half16(a + j), load_half16(b + j), s0);
    s1 = _mm512_fmadd_ps(load_half16(a + j + 16), load_half16(b + j + 16), s1);
  }
  for (; j + 16 <= d; j += 16) s0 = _mm512_fmadd_ps(load_half16(a + j), load_half16(b + j), s0);
  if (j < d) {
    const __mmask16 m = mask16(d - j);
    s1 = _mm512_fmadd_ps(load_half16(a + j, m), load_half16(b + j, m), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// ---- int8 without VNNI: widen to 16 bits, vpmaddwd ----

inline __m512i load_i8_as_i16(const std::int8_t* p) noexcept {
  return _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512i load_i8_as_i16(const std::int8_t* p, __mmask32 m) noexcept {
  return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
}

inline std::int32_t dot_i8_bw_impl(const std::int8_t* a, const std::int8_t* b, std::size_t d) noexcept {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  std::size_t j = 0;
  for (; j + 64 <= d; j += 64) {
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(load_i8_as_i16(a + j), load_i8_as_i16(b + j)));
    s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(load_i8_as_i16(a + j + 32), load_i8_as_i16(b + j + 32)));
  }
  for (; j + 32 <= d; j += 32)
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(load_i8_as_i16(a + j), load_i8_as_i16(b + j)));
  if (j < d) {
    const __mmask32 m = mask32(d - j);
    s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(load_i8_as_i16(a + j, m), load_i8_as_i16(b + j, m)));
  }
  return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

// ---- int8 with VNNI: sign flip + vpdpbusd (see kernels.hpp for the algebra) ----

#define ENGRAM_VNNI __attribute__((target("avx512vnni")))

// sum((a ^ 0x80) * b) over d bytes, i.e. sum((a + 128) * b). Masked-off lanes load as 0 and
// flip to 128, but b is 0 there too, so they add nothing.
ENGRAM_VNNI inline std::int32_t dot_flip_vnni(const std::int8_t* a, const std::int8_t* b, std::size_t d) noexcept {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  std::size_t j = 0;
  for (; j + 128 <= d; j += 128) {
    s0 = _mm512_dpbusd_epi32(s0, _mm512_xor_si512(_mm512_loadu_si512(a + j), flip), _mm512_loadu_si512(b + j));
    s1 =
        _mm512_dpbusd_epi32(s1, _mm512_xor_si512(_mm512_loadu_si512(a + j + 64), flip), _mm512_loadu_si512(b + j + 64));
  }
  for (; j + 64 <= d; j += 64)
    s0 = _mm512_dpbusd_epi32(s0, _mm512_xor_si512(_mm512_loadu_si512(a + j), flip), _mm512_loadu_si512(b + j));
  if (j < d) {
    const __mmask64 m = mask64(d - j);
    s1 = _mm512_dpbusd_epi32(s1, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + j), flip),
                             _mm512_maskz_loadu_epi8(m, b + j));
  }
  return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

// sum(b) with vpdpbusd against a vector of unsigned ones.
ENGRAM_VNNI inline std::int32_t sum_i8_vnni(const std::int8_t* b, std::size_t d) noexcept {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i s = _mm512_setzero_si512();
  std::size_t j = 0;
  for (; j + 64 <= d; j += 64) s = _mm512_dpbusd_epi32(s, ones, _mm512_loadu_si512(b + j));
  if (j < d) s = _mm512_dpbusd_epi32(s, ones, _mm512_maskz_loadu_epi8(mask64(d - j), b + j));
  return _mm512_reduce_add_epi32(s);
}

// ---- exported functions ----

float dot_f32(const float* a, const float* b, std::size_t d) noexcept { return dot_f32_impl(a, b, d); }
float dot_f32_f16(const float* q, const std::uint16_t* r, std::size_t d) noexcept { return dot_f32_f16_impl(q, r, d); }
float dot_f16(const std::uint16_t* a, const std::uint16_t* b, std::size_t d) noexcept { return dot_f16_impl(a, b, d); }
std::int32_t dot_i8_bw(const std::int8_t* a, const std::int8_t* b, std::size_t d) noexcept {
  return dot_i8_bw_impl(a, b, d);
}
ENGRAM_VNNI std::int32_t dot_i8_vnni(const std::int8_t* a, const std::int8_t* b, std::size_t d) noexcept {
  return dot_flip_vnni(a, b, d) - 128 * sum_i8_vnni(b, d);
}

// ---- scans ----
// Rows are consumed strictly in memory order (one row after the other: interleaving four
// rows measured 30-40 % slower here, as it defeats the hardware stream prefetcher), but the
// horizontal sums of four consecutive rows are folded together: at d = 384 a full horizontal
// reduction per row costs about as much as the dot itself.

inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) noexcept {
  auto half = [](__m512 v) {
    const __m256 h =
        _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  };
  return _mm_hadd_ps(_mm_hadd_ps(half(a), half(b)), _mm_hadd_ps(half(c), half(d)));
}

inline __m128i reduce4(__m512i a, __m512i b, __m512i c, __m512i d) noexcept {
  auto half = [](__m512i v) {
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  };
  return _mm_hadd_epi32(_mm_hadd_epi32(half(a), half(b)), _mm_hadd_epi32(half(c), half(d)));
}

// Unreduced dot products (a vector whose lanes sum to the dot).
inline __m512 acc_f32(const float* q, const float* r, std::size_t d) noexcept {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  std::size_t j = 0;
  for (; j + 64 <= d; j += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), _mm512_loadu_ps(r + j), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 16), _mm512_loadu_ps(r + j + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 32), _mm512_loadu_ps(r + j + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 48), _mm512_loadu_ps(r + j + 48), s3);
  }
  for (; j + 16 <= d; j += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), _mm512_loadu_ps(r + j), s0);
  if (j < d) {
    const __mmask16 m = mask16(d - j);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + j), _mm512_maskz_loadu_ps(m, r + j), s1);
  }
  return _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
}

inline __m512 acc_f16(const float* q, const std::uint16_t* r, std::size_t d) noexcept {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  std::size_t j = 0;
  for (; j + 64 <= d; j += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), load_half16(r + j), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 16), load_half16(r + j + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 32), load_half16(r + j + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 48), load_half16(r + j + 48), s3);
  }
  for (; j + 16 <= d; j += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), load_half16(r + j), s0);
  if (j < d) {
    const __mmask16 m = mask16(d - j);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + j), load_half16(r + j, m), s1);
  }
  return _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
}

inline __m512i acc_i8_bw(const std::int8_t* q, const std::int8_t* r, std::size_t d) noexcept {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  std::size_t j = 0;
  for (; j + 64 <= d; j += 64) {
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(load_i8_as_i16(q + j), load_i8_as_i16(r + j)));
    s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(load_i8_as_i16(q + j + 32), load_i8_as_i16(r + j + 32)));
  }
  for (; j + 32 <= d; j += 32)
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(load_i8_as_i16(q + j), load_i8_as_i16(r + j)));
  if (j < d) {
    const __mmask32 m = mask32(d - j);
    s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(load_i8_as_i16(q + j, m), load_i8_as_i16(r + j, m)));
  }
  return _mm512_add_epi32(s0, s1);
}

// sum((r ^ 0x80) * q), unreduced; see dot_flip_vnni.
ENGRAM_VNNI inline __m512i acc_i8_vnni(const std::int8_t* q, const std::int8_t* r, std::size_t d) noexcept {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  std::size_t j = 0;
  for (; j + 128 <= d; j += 128) {
    s0 = _mm512_dpbusd_epi32(s0, _mm512_xor_si512(_mm512_loadu_si512(r + j), flip), _mm512_loadu_si512(q + j));
    s1 =
        _mm512_dpbusd_epi32(s1, _mm512_xor_si512(_mm512_loadu_si512(r + j + 64), flip), _mm512_loadu_si512(q + j + 64));
  }
  for (; j + 64 <= d; j += 64)
    s0 = _mm512_dpbusd_epi32(s0, _mm512_xor_si512(_mm512_loadu_si512(r + j), flip), _mm512_loadu_si512(q + j));
  if (j < d) {
    const __mmask64 m = mask64(d - j);
    s1 = _mm512_dpbusd_epi32(s1, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, r + j), flip),
                             _mm512_maskz_loadu_epi8(m, q + j));
  }
  return _mm512_add_epi32(s0, s1);
}

void scan_f32(const float* q, const float* rows, std::size_t n, std::size_t d, float* out) noexcept {
  std::size_t r = 0;
  for (; r + 4 <= n; r += 4) {
    const float* p = rows + r * d;
    const __m512 a0 = acc_f32(q, p, d), a1 = acc_f32(q, p + d, d);
    const __m512 a2 = acc_f32(q, p + 2 * d, d), a3 = acc_f32(q, p + 3 * d, d);
    _mm_storeu_ps(out + r, reduce4(a0, a1, a2, a3));
  }
  for (; r < n; ++r) out[r] = _mm512_reduce_add_ps(acc_f32(q, rows + r * d, d));
}

void scan_f16(const float* q, const std::uint16_t* rows, std::size_t n, std::size_t d, float* out) noexcept {
  std::size_t r = 0;
  for (; r + 4 <= n; r += 4) {
    const std::uint16_t* p = rows + r * d;
    const __m512 a0 = acc_f16(q, p, d), a1 = acc_f16(q, p + d, d);
    const __m512 a2 = acc_f16(q, p + 2 * d, d), a3 = acc_f16(q, p + 3 * d, d);
    _mm_storeu_ps(out + r, reduce4(a0, a1, a2, a3));
  }
  for (; r < n; ++r) out[r] = _mm512_reduce_add_ps(acc_f16(q, rows + r * d, d));
}

void scan_i8_bw(const std::int8_t* q, const std::int8_t* rows, std::size_t n, std::size_t d,
                std::int32_t* out) noexcept {
  std::size_t r = 0;
  for (; r + 4 <= n; r += 4) {
    const std::int8_t* p = rows + r * d;
    const __m512i a0 = acc_i8_bw(q, p, d), a1 = acc_i8_bw(q, p + d, d);
    const __m512i a2 = acc_i8_bw(q, p + 2 * d, d), a3 = acc_i8_bw(q, p + 3 * d, d);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + r), reduce4(a0, a1, a2, a3));
  }
  for (; r < n; ++r) out[r] = _mm512_reduce_add_epi32(acc_i8_bw(q, rows + r * d, d));
}

// The row is the flipped (unsigned) operand and the query the signed one, so the correction
// 128 * sum(q) is computed once for the whole scan.
ENGRAM_VNNI void scan_i8_vnni(const std::int8_t* q, const std::int8_t* rows, std::size_t n, std::size_t d,
                              std::int32_t* out) noexcept {
  const std::int32_t correction = 128 * sum_i8_vnni(q, d);
  const __m128i correction4 = _mm_set1_epi32(correction);
  std::size_t r = 0;
  for (; r + 4 <= n; r += 4) {
    const std::int8_t* p = rows + r * d;
    const __m512i a0 = acc_i8_vnni(q, p, d), a1 = acc_i8_vnni(q, p + d, d);
    const __m512i a2 = acc_i8_vnni(q, p + 2 * d, d), a3 = acc_i8_vnni(q, p + 3 * d, d);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + r), _mm_sub_epi32(reduce4(a0, a1, a2, a3), correction4));
  }
  for (; r < n; ++r) out[r] = _mm512_reduce_add_epi32(acc_i8_vnni(q, rows + r * d, d)) - correction;
}

inline std::size_t dim_of(const void* p) noexcept { return *static_cast<const std::size_t*>(p); }

float neg_dot_f32(const void* a, const void* b, const void* p) {
  return -dot_f32_impl(static_cast<const float*>(a), static_cast<const float*>(b), dim_of(p));
}
float neg_dot_f16(const void* a, const void* b, const void* p) {
  return -dot_f16_impl(static_cast<const std::uint16_t*>(a), static_cast<const std::uint16_t*>(b), dim_of(p));
}
float neg_dot_i8_bw(const void* a, const void* b, const void* p) {
  return -static_cast<float>(
      dot_i8_bw_impl(static_cast<const std::int8_t*>(a), static_cast<const std::int8_t*>(b), dim_of(p)));
}
ENGRAM_VNNI float neg_dot_i8_vnni(const void* a, const void* b, const void* p) {
  return -static_cast<float>(
      dot_i8_vnni(static_cast<const std::int8_t*>(a), static_cast<const std::int8_t*>(b), dim_of(p)));
}

#undef ENGRAM_VNNI

}  // namespace

extern const KernelTable kKernelsAvx512 = {
    KernelLevel::kAvx512, "avx512",    dot_f32,     dot_f32_f16,  dot_f16, dot_i8_bw, scan_f32, scan_f16,
    scan_i8_bw,           neg_dot_f32, neg_dot_f16, neg_dot_i8_bw};

extern const KernelTable kKernelsAvx512Vnni = {KernelLevel::kAvx512Vnni,
                                               "avx512-vnni",
                                               dot_f32,
                                               dot_f32_f16,
                                               dot_f16,
                                               dot_i8_vnni,
                                               scan_f32,
                                               scan_f16,
                                               scan_i8_vnni,
                                               neg_dot_f32,
                                               neg_dot_f16,
                                               neg_dot_i8_vnni};

}  // namespace engram::detail

#pragma GCC diagnostic pop
