#pragma once
// VectorIndex: the semantic index of one namespace. It maps EntryId -> unit vector and
// answers top-k inner-product (cosine) queries. Rows are dense; remove() moves the last row
// into the hole, so there are no tombstones and no compaction.
//
// Thread safety: search() and the const accessors may run concurrently with each other;
// add() and remove() need exclusive access (SemanticCache holds its index lock).
//
// Scores: with ElementType::kF32 and a flat layout, scores are exact cosines. With f16/int8
// or HNSW, they are approximate; exact_scores() says so, and the caller re-scores candidates
// against the stored float32 embedding before any threshold test.

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "engram/options.hpp"
#include "engram/types.hpp"

namespace engram {

struct IndexConfig {
  std::size_t dim = 0;
  IndexKind kind = IndexKind::kFlat;
  ElementType element = ElementType::kF32;
  HnswParams hnsw;
  std::size_t search_threads = 1;
};

struct Candidate {
  EntryId id = 0;
  float score = 0;  // inner product with the query; higher is more similar
};

class VectorIndex {
 public:
  explicit VectorIndex(const IndexConfig& config);
  ~VectorIndex();
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Adds or replaces the vector of `id`. Precondition: vector.size() == dim, unit length.
  void add(EntryId id, std::span<const float> vector);
  // Removes `id`; false if it was not present.
  bool remove(EntryId id);
  bool contains(EntryId id) const;
  // Up to k candidates, best first. Precondition: query.size() == dim, unit length.
  std::vector<Candidate> search(std::span<const float> query, std::size_t k) const;

  std::size_t size() const;
  std::size_t dim() const;
  std::size_t memory_bytes() const;
  bool exact_scores() const;
  // Human-readable layout, e.g. "flat-f32" or "hnsw-int8".
  const char* describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram
