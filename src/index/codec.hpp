#pragma once
// Row and query encodings for the index's element types (see kernels.hpp for the formats).
//
// Queries against int8 rows are quantized too, but with their own scale: the query is scaled
// so that its largest component maps to 127 (not a fixed 127), which uses the full int8 range
// for the query side and so halves-or-better its rounding error. Every score of one search
// shares that scale, so rankings are unaffected and scores are brought back to cosine units by
// QueryBuffer::scale.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engram/options.hpp"

namespace engram::detail {

inline constexpr float kInt8Scale = 127.0f;

class Codec {
 public:
  Codec(ElementType element, std::size_t dim) noexcept;

  ElementType element() const noexcept { return element_; }
  std::size_t dim() const noexcept { return dim_; }
  std::size_t row_bytes() const noexcept { return row_bytes_; }

  // Writes row_bytes() bytes. Precondition: v.size() == dim().
  void encode(std::span<const float> v, std::byte* out) const noexcept;
  // Writes dim() floats (the dequantized row).
  void decode(const std::byte* row, float* out) const noexcept;

 private:
  ElementType element_;
  std::size_t dim_;
  std::size_t row_bytes_;
};

// A query in the format a scan or an HNSW distance expects. raw score * scale = cosine.
struct QueryBuffer {
  std::vector<float> f32;
  std::vector<std::uint16_t> f16;
  std::vector<std::int8_t> i8;
  float scale = 1.0f;
  const void* data = nullptr;
};

// For flat scans: f32 and f16 rows are scanned with an f32 query; int8 rows with an int8 query.
void prepare_scan_query(const Codec& codec, std::span<const float> q, QueryBuffer& out);
// For HNSW: the query in exactly the stored row format (hnswlib compares like with like).
void prepare_stored_query(const Codec& codec, std::span<const float> q, QueryBuffer& out);

}  // namespace engram::detail
