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
#include <cstdint>
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
  // Appends the layout to `out`: labels, free labels, the graph's parameters, each element's
  // label and its upper-level links. Level 0 (hnswlib's one block of links, row and label per
  // element, nearly all the bytes) is level0(), which the sidecar stores page-aligned so that
  // load() maps it instead of copying it.
  void serialize(std::vector<std::byte>& out) const;
  std::span<const std::byte> level0() const noexcept;

  // Where load() finds level 0: its bytes, and when they are in a file (`fd` open, `offset`
  // page-aligned) the file, so that load() maps them copy-on-write: pages this process never
  // writes stay the page cache's, shared by every process that opens the same file.
  struct Level0Source {
    std::span<const std::byte> bytes;
    int fd = -1;
    std::uint64_t offset = 0;
  };
  // A layout read back from serialize()'s bytes and level0(), without rebuilding the graph.
  // nullptr when the bytes are not a layout for this codec and M: every count, offset, size,
  // label and upper-level link is checked before anything is read. Level 0's links are
  // checked later, by check_elements() (below): reading them all would be most of the open.
  static std::unique_ptr<HnswLayout> load(const Codec& codec, const HnswParams& params, std::span<const std::byte> meta,
                                          const Level0Source& level0);

  // A loaded layout is unchecked until set_checked(): search() then scans the rows exactly,
  // using only what load() verified (labels from the sidecar, not from level 0), and nothing
  // else may follow a level-0 link. Only remove(), find(), for_each() and the const members
  // may run on an unchecked layout; upsert() and insert_bulk() need a checked one.
  bool checked() const noexcept;
  // The elements hnswlib holds, live and deleted.
  std::size_t elements() const noexcept;
  // Checks elements [begin, end) of level 0: every link names an element, the label is the
  // one the sidecar recorded, the deleted mark matches the label's state. May run concurrently
  // with the const members (it only reads).
  bool check_elements(std::size_t begin, std::size_t end) const;
  void set_checked();
  // Drops every element: an empty, checked layout with the same codec and parameters.
  void reset();

 private:
  HnswLayout() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::detail
