#pragma once
// The HNSW layout of one namespace, on Debian's hnswlib (0.6.2, header-only). This header
// does not expose hnswlib: hnsw_layout.cpp is the only translation unit that includes it,
// which matters because hnswlib.h defines non-inline functions at namespace scope.
//
// Distances are custom spaces over the stored row format (f32, f16, int8) using the
// dispatched kernels: distance = -dot, so smaller is closer.
//
// Deletes: hnswlib 0.6.2 predates `allow_replace_deleted`, so slot reuse is done here with the
// primitives it has: remove() = markDelete(label) and the label goes on a free list; the next
// insert of a new id takes a free label and calls addPoint(row, label), which for an existing
// label unmarks it and runs updatePoint (re-links the slot at its new position). This is what
// replace_deleted does in later hnswlib versions. Growth uses resizeIndex (x1.5).
//
// Thread safety: search(), find(), contains(), size(), for_each() may run concurrently with
// each other (hnswlib's searchKnn is const; its only shared mutable state is the visited-list
// pool, which is mutex-protected, and two std::atomic metric counters); every other member
// needs exclusive access.

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "codec.hpp"
#include "topk.hpp"

namespace engram::detail {

class HnswLayout {
 public:
  HnswLayout(const Codec& codec, const HnswParams& params, std::size_t initial_capacity);
  ~HnswLayout();
  HnswLayout(const HnswLayout&) = delete;
  HnswLayout& operator=(const HnswLayout&) = delete;

  std::size_t size() const noexcept;
  bool contains(EntryId id) const noexcept;
  const std::byte* find(EntryId id) const noexcept;

  void upsert(EntryId id, const std::byte* row);
  bool remove(EntryId id);
  // Inserts ids that are not present yet (precondition), rows dense in the stored format,
  // with `threads` concurrent hnswlib inserters. Stops early (leaving a partial graph) when
  // *cancel becomes true.
  void insert_bulk(std::span<const EntryId> ids, const std::byte* rows, std::size_t threads,
                   const std::atomic<bool>* cancel = nullptr);

  std::vector<Scored> search(std::span<const float> query, std::size_t k) const;
  void for_each(const std::function<void(EntryId, const std::byte*)>& f) const;
  void for_each_id(const std::function<void(EntryId)>& f) const;

  std::size_t memory_bytes() const noexcept;
  std::size_t capacity() const noexcept;
  // Rebuilds the graph from the live rows, dropping deleted slots (remove() calls it when
  // deleted slots outnumber live ones).
  void compact();
  void set_ef_search(std::size_t ef);

  // ---- persistence (the sidecar) ----
  // Appends the layout (labels, free labels, and the hnswlib graph in saveIndex's layout) to
  // `out`.
  void serialize(std::vector<std::byte>& out) const;
  // A layout read back from serialize()'s bytes, without rebuilding the graph (the bytes are
  // copied: hnswlib owns its memory). nullptr when the bytes are not a layout for this codec
  // and M (every count, offset and size is checked before anything is read).
  static std::unique_ptr<HnswLayout> load(const Codec& codec, const HnswParams& params, std::span<const std::byte> in);

 private:
  HnswLayout() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::detail
