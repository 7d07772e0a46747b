#include "codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "half.hpp"

namespace engram::detail {

namespace {

std::size_t element_bytes(ElementType e) noexcept {
  switch (e) {
    case ElementType::kF32:
      return 4;
    case ElementType::kF16:
      return 2;
    case ElementType::kInt8:
      return 1;
  }
  return 4;
}

std::int8_t quantize(float x, float scale) noexcept {
  const float v = std::clamp(std::nearbyint(x * scale), -127.0f, 127.0f);
  return std::isnan(v) ? std::int8_t{0} : static_cast<std::int8_t>(v);
}

void quantize_query(std::span<const float> q, QueryBuffer& out) {
  float max_abs = 0;
  for (float x : q) max_abs = std::max(max_abs, std::fabs(x));
  const float scale = max_abs > 0 ? kInt8Scale / max_abs : 1.0f;
  out.i8.resize(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) out.i8[i] = quantize(q[i], scale);
  out.scale = 1.0f / (kInt8Scale * scale);
  out.data = out.i8.data();
}

}  // namespace

Codec::Codec(ElementType element, std::size_t dim) noexcept
    : element_(element), dim_(dim), row_bytes_(dim * element_bytes(element)) {}

void Codec::encode(std::span<const float> v, std::byte* out) const noexcept {
  switch (element_) {
    case ElementType::kF32:
      std::memcpy(out, v.data(), dim_ * sizeof(float));
      return;
    case ElementType::kF16: {
      for (std::size_t i = 0; i < dim_; ++i) {
        const std::uint16_t h = float_to_half(v[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    }
    case ElementType::kInt8:
      for (std::size_t i = 0; i < dim_; ++i) {
        const std::int8_t b = quantize(v[i], kInt8Scale);
        std::memcpy(out + i, &b, 1);
      }
      return;
  }
}

void Codec::decode(const std::byte* row, float* out) const noexcept {
  switch (element_) {
    case ElementType::kF32:
      std::memcpy(out, row, dim_ * sizeof(float));
      return;
    case ElementType::kF16:
      for (std::size_t i = 0; i < dim_; ++i) {
        std::uint16_t h;
        std::memcpy(&h, row + 2 * i, 2);
        out[i] = half_to_float(h);
      }
      return;
    case ElementType::kInt8:
      for (std::size_t i = 0; i < dim_; ++i) {
        std::int8_t b;
        std::memcpy(&b, row + i, 1);
        out[i] = static_cast<float>(b) / kInt8Scale;
      }
      return;
  }
}

void prepare_scan_query(const Codec& codec, std::span<const float> q, QueryBuffer& out) {
  if (codec.element() == ElementType::kInt8) {
    quantize_query(q, out);
    return;
  }
  out.f32.assign(q.begin(), q.end());
  out.scale = 1.0f;
  out.data = out.f32.data();
}

void prepare_stored_query(const Codec& codec, std::span<const float> q, QueryBuffer& out) {
  switch (codec.element()) {
    case ElementType::kF32:
      out.f32.assign(q.begin(), q.end());
      out.scale = 1.0f;
      out.data = out.f32.data();
      return;
    case ElementType::kF16:
      out.f16.resize(q.size());
      for (std::size_t i = 0; i < q.size(); ++i) out.f16[i] = float_to_half(q[i]);
      out.scale = 1.0f;
      out.data = out.f16.data();
      return;
    case ElementType::kInt8:
      quantize_query(q, out);
      return;
  }
}

}  // namespace engram::detail
