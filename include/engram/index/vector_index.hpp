#pragma once
// VectorIndex: the semantic index of one namespace. It maps EntryId -> unit vector and
// answers top-k inner-product (cosine) queries.
//
// Layouts (IndexConfig::kind):
//   kFlat  dense rows in the element type (f32, f16 or int8), scanned with SIMD kernels chosen
//          at run time (AVX-512/VNNI, AVX2, portable); remove() moves the last row into the
//          hole, so there are no tombstones and no compaction. Large namespaces are scanned by
//          up to IndexConfig::search_threads threads (a shared pool).
//   kHnsw  an HNSW graph (hnswlib) over the same element type; deleted slots are reused. A
//          row added to it first lands in a small flat tail that searches scan exactly, and a
//          background thread links it into the graph: an add() never pays for graph
//          construction (0.1-0.5 ms a row at 100k), so puts and a reader's catch-up on another
//          process's puts stay as fast as in the flat layout.
//   kAuto  flat until the namespace grows past hnsw.auto_threshold entries, HNSW from then on,
//          flat again when it shrinks below half of that (hysteresis). The flat -> HNSW build
//          runs on a background thread by default (IndexTuning::background_build): the flat
//          layout keeps answering, and the switch happens inside a later add()/remove() once
//          the graph has caught up. Every entry stays findable across a switch: both layouts
//          store the same encoded rows, so a switch re-links, it never re-quantizes.
//
// Thread safety: search() and the const accessors may run concurrently with each other;
// add(), add_batch(), remove() and finish_build() need exclusive access (SemanticCache holds
// its index lock shared for searches and exclusively for writes). Nothing here blocks on I/O.
// The HNSW linker thread synchronizes with both on a lock of its own; a search may wait for
// at most one row's link.
//
// Scores: with ElementType::kF32 every returned score is the exact inner product (also with
// HNSW: the graph may miss a neighbour, recall < 1, but the scores it returns are exact), and
// exact_scores() is true. With f16 or int8 scores are approximate (int8: |error| is typically
// < 0.01); exact_scores() is false and the caller re-scores candidates against the stored
// float32 embedding before any threshold test.
//
// Memory: flat rows cost dim * element size bytes plus ~25-35 bytes per entry (id array,
// id map, chunk slack at large N); HNSW adds its graph (~(2 * M + 1) * 4 + 60 bytes per entry)
// and ~2.6 MiB of fixed hnswlib locks per HNSW namespace. memory_bytes() reports it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
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

// Rarely needed knobs, kept out of IndexConfig so existing aggregate initializations of it
// stay complete.
struct IndexTuning {
  bool background_build = true;  // kAuto: build the HNSW graph off the caller's thread
  // hnswlib inserters for bulk builds (add_batch, the kAuto background build). 1 by default:
  // hnswlib 0.6.2's concurrent inserts hold one node's lock while taking others' (a lock-order
  // inversion ThreadSanitizer reports; faiss fixed the same pattern as a real deadlock), so
  // parallel builds are an explicit opt-in. 2 halves the build time on two cores.
  std::size_t build_threads = 1;
};

// One namespace's index as the sidecar file stores it (see docs/architecture.md, "The
// sidecar"). A flat layout is its rows (encoded, row order), their ids and the id map's probe
// table; an HNSW layout is two opaque blobs: the graph's level 0 (hnswlib's block of links,
// rows and labels, nearly all the bytes) and everything else (labels, upper levels, the rows
// not linked yet).
struct IndexImage {
  bool hnsw = false;
  std::size_t count = 0;
  std::vector<std::byte> rows;          // flat: count * row_bytes()
  std::vector<EntryId> ids;             // flat: count
  std::vector<std::uint32_t> id_slots;  // flat
  std::vector<std::byte> graph;         // hnsw
  std::vector<std::byte> level0;        // hnsw
};

// The same, read in place (from a file mapping).
struct IndexImageView {
  bool hnsw = false;
  std::size_t count = 0;
  const std::byte* rows = nullptr;  // flat: 64-byte aligned
  const EntryId* ids = nullptr;     // flat
  std::span<const std::uint32_t> id_slots;
  std::span<const std::byte> graph;   // hnsw
  std::span<const std::byte> level0;  // hnsw
  // hnsw: the file `level0` was read from (an open descriptor, valid during restore()) and its
  // offset there, a multiple of the page size; restore() then maps level 0 copy-on-write
  // instead of copying it. -1: copied.
  int level0_fd = -1;
  std::uint64_t level0_offset = 0;
};

struct Candidate {
  EntryId id = 0;
  float score = 0;  // inner product with the query; higher is more similar
};

// splitmix64's finalizer: spreads ids for digests and hash tables.
inline std::uint64_t mix_id(EntryId id) noexcept {
  auto x = static_cast<std::uint64_t>(id);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class VectorIndex {
 public:
  explicit VectorIndex(const IndexConfig& config, const IndexTuning& tuning = {});
  ~VectorIndex();
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Adds or replaces the vector of `id`. Precondition: unit length. Throws InvalidArgument if
  // vector.size() != dim() or id <= 0 (nothing changes).
  void add(EntryId id, std::span<const float> vector);
  // Adds many (e.g. the rebuild at open): ids.size() * dim() floats, row-major. In the HNSW
  // layout the graph is built with several threads. Same preconditions as add().
  void add_batch(std::span<const EntryId> ids, std::span<const float> vectors);
  // Removes `id`; false if it was not present.
  bool remove(EntryId id);
  bool contains(EntryId id) const;
  // Up to k candidates, best first (ties: lower id first). Throws InvalidArgument if
  // query.size() != dim(). Precondition: unit length.
  std::vector<Candidate> search(std::span<const float> query, std::size_t k) const;

  // The stored vector of `id` decoded to float (exact for f32, dequantized for f16/int8).
  std::optional<std::vector<float>> stored_vector(EntryId id) const;

  // Changes HnswParams::ef_search (the HNSW candidate-list size: higher = better recall,
  // slower search) for this index, now and after any later rebuild. Exclusive, like add().
  void set_ef_search(std::size_t ef);

  // kAuto: true while a background flat -> HNSW build is in progress (not yet switched to).
  bool build_pending() const;
  // True when a background build has finished, so finish_build() will not wait for it. Safe
  // under the shared lock: a cache can poll this after reads and take the exclusive lock only
  // when it is worth it (a namespace that only reads never reaches add(), where the switch
  // otherwise happens).
  bool build_ready() const;
  // Waits for a pending background build (if any) and switches to it. Exclusive, like add().
  void finish_build();
  // HNSW: rows added but not linked into the graph yet (they are found by an exact scan
  // meanwhile); 0 in the flat layout.
  std::size_t unlinked() const;
  // Blocks until unlinked() is 0 and a restored graph has been checked (benchmarks and tests
  // that want the steady state).
  void wait_linked() const;

  std::size_t size() const;
  std::size_t dim() const;
  std::size_t memory_bytes() const;
  bool exact_scores() const;
  // ---- persistence (the sidecar) ----
  // A copy of the contents (a pending background build is not included: the flat layout it
  // would replace is). Shared access is enough.
  IndexImage image() const;
  // Replaces the contents with `view`. Flat rows are read in place — `backing` keeps that
  // memory alive, and each chunk is copied the first time it is modified — an HNSW graph is
  // not rebuilt: its level 0 is mapped copy-on-write from view.level0_fd (else copied), and
  // searches scan its rows exactly until a background check of its links has passed (see
  // wait_linked()). Returns false, leaving the index empty, when
  // the view is inconsistent or its layout is impossible for this configuration (HNSW for
  // kFlat, flat for kHnsw). Exclusive.
  bool restore(const IndexImageView& view, std::shared_ptr<const void> backing);
  std::size_t row_bytes() const;
  // The sum of mix_id(id) over every id held: an order-free digest of the id set.
  std::uint64_t id_digest() const;
  // Flat chunks still read in place from a restored view (0 for HNSW).
  std::size_t borrowed_chunks() const;

  // Human-readable current layout: "flat-f32", "flat-f16", "flat-int8", "hnsw-f32", ...
  const char* describe() const;
  // The dot-product kernel level in use: "avx512vnni", "avx512", "avx2" or "scalar".
  static const char* kernel_name();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram
