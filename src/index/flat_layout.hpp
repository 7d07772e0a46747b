#pragma once
// The flat layout of one namespace: rows in the stored element format, kept dense in
// fixed-size chunks (a power of two of rows, about 1-2 MiB each), a parallel id array per
// chunk, and an IdMap from id to global row index.
//
// Why chunks: growth never copies the whole matrix (a put into a 150 MB namespace does not
// stall on a realloc), the last chunk grows by 1.25x so the slack stays small, and chunks are
// the natural unit for splitting a scan across threads. remove() moves the globally last row
// into the hole, so every chunk but the last is always full and there are no tombstones.
//
// Borrowed rows (the sidecar, docs/architecture.md): adopt() makes the layout read rows and
// ids in place from memory it does not own (a read-only file mapping, kept alive by a
// shared_ptr), so every process that opens the same sidecar shares those pages. A chunk is
// copied into owned memory the first time it is modified (copy-on-write, one chunk at a time:
// a put into a large namespace copies one chunk, the others stay shared).
//
// Thread safety: const members may run concurrently; upsert/remove/clear need exclusivity.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "codec.hpp"
#include "id_map.hpp"
#include "topk.hpp"

namespace engram::detail {

class FlatLayout {
 public:
  explicit FlatLayout(const Codec& codec);
  ~FlatLayout();
  FlatLayout(const FlatLayout&) = delete;
  FlatLayout& operator=(const FlatLayout&) = delete;

  std::size_t size() const noexcept { return size_; }
  bool contains(EntryId id) const noexcept { return find(id) != nullptr; }
  // The stored row of `id`, or nullptr.
  const std::byte* find(EntryId id) const noexcept;

  // Adds `id` or overwrites its row. `row` holds codec.row_bytes() bytes.
  void upsert(EntryId id, const std::byte* row);
  bool remove(EntryId id);
  void clear() noexcept;

  // Top k by score (cosine units), scanning with up to `threads` threads when the namespace
  // is large enough for that to pay off.
  std::vector<Scored> search(std::span<const float> query, std::size_t k, std::size_t threads) const;

  // Visits every (id, row) in row order.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t r = 0; r < size_; ++r) f(id_at(r), row_at(r));
  }

  // Visits every id in row order (reads only the id arrays).
  template <class F>
  void for_each_id(F&& f) const {
    for (std::size_t c = 0; c < chunks_.size(); ++c) {
      const std::size_t begin = c << chunk_shift_;
      const std::size_t end = std::min(size_, begin + chunk_rows());
      for (std::size_t r = begin; r < end; ++r) f(chunks_[c].ids[r - begin]);
    }
  }

  std::size_t memory_bytes() const noexcept;
  std::size_t chunk_rows() const noexcept { return std::size_t{1} << chunk_shift_; }

  // ---- persistence (the sidecar) ----
  // The id map's probe table (row index per slot, IdMap::kEmpty when free).
  std::span<const std::uint32_t> id_slots() const noexcept { return map_.slots(); }
  // Replaces the contents with `n` rows read in place: rows[r * row_bytes] and ids[r] for row
  // r, `id_slots` as returned by id_slots() for the same rows. `backing` keeps that memory
  // alive; rows must be 64-byte aligned. Returns false (leaving the layout empty) when the
  // pieces do not fit together: a slot count that is not a power of two, a slot naming a row
  // past n, a count of used slots other than n, an id <= 0.
  bool adopt(std::size_t n, const std::byte* rows, const EntryId* ids, std::span<const std::uint32_t> id_slots,
             std::shared_ptr<const void> backing);
  // Chunks still read in place from borrowed memory.
  std::size_t borrowed_chunks() const noexcept;

  // The live rows chunk by chunk, in row order. A borrowed segment's memory never changes (a
  // write copies the chunk first) and stays valid while backing() is held, so a reader on
  // another thread may use it later without a copy; an owned one must be copied now.
  struct Segment {
    const std::byte* rows;
    const EntryId* ids;
    std::size_t count;
    bool borrowed;
  };
  template <class F>
  void for_each_segment(F&& f) const {
    for (std::size_t c = 0; c < chunks_.size() && (c << chunk_shift_) < size_; ++c) {
      const std::size_t begin = c << chunk_shift_;
      f(Segment{chunks_[c].data, chunks_[c].ids, std::min(size_, begin + chunk_rows()) - begin, chunks_[c].borrowed});
    }
  }
  const std::shared_ptr<const void>& backing() const noexcept { return backing_; }

 private:
  struct Chunk {
    std::byte* data = nullptr;  // capacity * row_bytes, 64-byte aligned
    EntryId* ids = nullptr;     // capacity
    std::size_t capacity = 0;
    bool borrowed = false;  // data and ids point into backing_ (read-only): copy before writing
  };

  EntryId id_at(std::size_t r) const noexcept { return chunks_[r >> chunk_shift_].ids[r & chunk_mask_]; }
  std::byte* row_at(std::size_t r) const noexcept {
    return chunks_[r >> chunk_shift_].data + (r & chunk_mask_) * row_bytes_;
  }
  void grow_for(std::size_t row);
  // Copies a borrowed chunk into owned memory (same capacity) so it can be written.
  void own(Chunk& c, std::size_t live_rows);
  void own_row_chunk(std::size_t r) {
    Chunk& c = chunks_[r >> chunk_shift_];
    own(c, std::min(c.capacity, size_ - ((r >> chunk_shift_) << chunk_shift_)));
  }
  void free_chunk(Chunk& c) noexcept;
  void scan_rows(const void* query, float scale, std::size_t begin, std::size_t end, TopK& top) const;

  Codec codec_;
  std::size_t row_bytes_;
  std::size_t chunk_shift_;
  std::size_t chunk_mask_;
  std::vector<Chunk> chunks_;
  std::size_t size_ = 0;
  IdMap map_;
  std::shared_ptr<const void> backing_;  // keeps borrowed chunks' memory alive
};

}  // namespace engram::detail
