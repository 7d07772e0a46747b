// Portable kernels: the reference behaviour and the fallback for CPUs without AVX2.
// Four partial sums break the floating-point dependency chain so the compiler can keep
// several multiplies in flight even without vector instructions.
#include "half.hpp"
#include "kernels.hpp"

namespace engram::detail {
namespace {

float dot_f32(const float* a, const float* b, std::size_t d) noexcept {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t j = 0;
  for (; j + 4 <= d; j += 4) {
    s0 += a[j] * b[j];
    s1 += a[j + 1] * b[j + 1];
    s2 += a[j + 2] * b[j + 2];
    s3 += a[j + 3] * b[j + 3];
  }
  for (; j < d; ++j) s0 += a[j] * b[j];
  return (s0 + s1) + (s2 + s3);
}

float dot_f32_f16(const float* q, const std::uint16_t* row, std::size_t d) noexcept {
  float s0 = 0, s1 = 0;
  std::size_t j = 0;
  for (; j + 2 <= d; j += 2) {
    s0 += q[j] * half_to_float(row[j]);
    s1 += q[j + 1] * half_to_float(row[j + 1]);
  }
  for (; j < d; ++j) s0 += q[j] * half_to_float(row[j]);
  return s0 + s1;
}

float dot_f16(const std::uint16_t* a, const std::uint16_t* b, std::size_t d) noexcept {
  float s = 0;
  for (std::size_t j = 0; j < d; ++j) s += half_to_float(a[j]) * half_to_float(b[j]);
  return s;
}

std::int32_t dot_i8(const std::int8_t* a, const std::int8_t* b, std::size_t d) noexcept {
  std::int32_t s = 0;
  for (std::size_t j = 0; j < d; ++j) s += static_cast<std::int32_t>(a[j]) * b[j];
  return s;
}

void scan_f32(const float* q, const float* rows, std::size_t n, std::size_t d, float* out) noexcept {
  for (std::size_t r = 0; r < n; ++r) out[r] = dot_f32(q, rows + r * d, d);
}

void scan_f16(const float* q, const std::uint16_t* rows, std::size_t n, std::size_t d, float* out) noexcept {
  for (std::size_t r = 0; r < n; ++r) out[r] = dot_f32_f16(q, rows + r * d, d);
}

void scan_i8(const std::int8_t* q, const std::int8_t* rows, std::size_t n, std::size_t d, std::int32_t* out) noexcept {
  for (std::size_t r = 0; r < n; ++r) out[r] = dot_i8(q, rows + r * d, d);
}

std::size_t dim_of(const void* param) noexcept { return *static_cast<const std::size_t*>(param); }

float neg_dot_f32(const void* a, const void* b, const void* p) {
  return -dot_f32(static_cast<const float*>(a), static_cast<const float*>(b), dim_of(p));
}
float neg_dot_f16(const void* a, const void* b, const void* p) {
  return -dot_f16(static_cast<const std::uint16_t*>(a), static_cast<const std::uint16_t*>(b), dim_of(p));
}
float neg_dot_i8(const void* a, const void* b, const void* p) {
  return -static_cast<float>(dot_i8(static_cast<const std::int8_t*>(a), static_cast<const std::int8_t*>(b), dim_of(p)));
}

}  // namespace

extern const KernelTable kKernelsScalar = {
    KernelLevel::kScalar, "scalar",    dot_f32,   dot_f32_f16, dot_f16, dot_i8, scan_f32, scan_f16, scan_i8,
    neg_dot_f32,          neg_dot_f16, neg_dot_i8};

}  // namespace engram::detail
