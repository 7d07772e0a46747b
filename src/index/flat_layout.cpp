#include "flat_layout.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

#include "kernels.hpp"
#include "thread_pool.hpp"

namespace engram::detail {

namespace {
constexpr std::size_t kMinChunkRows = 64;
constexpr std::size_t kMaxChunkRows = std::size_t{1} << 16;
constexpr std::size_t kFirstCapacity = 32;
constexpr std::size_t kScanBlock = 256;  // rows scored per kernel call (scores stay in L1)
// Below this many bytes a scan takes well under the cost of waking helper threads.
constexpr std::size_t kParallelMinBytes = std::size_t{8} << 20;

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// The smallest power-of-two row count whose chunk is a whole number of 2 MiB huge pages
// (6 MiB for d = 384 f32 or int8), so full chunks can be backed by transparent huge pages.
std::size_t chunk_shift_for(std::size_t row_bytes) {
  const std::size_t pow2_factor = row_bytes == 0 ? 1 : (row_bytes & (~row_bytes + 1));
  std::size_t rows = kHugePage / std::min(pow2_factor, kHugePage);
  rows = std::clamp(rows, kMinChunkRows, kMaxChunkRows);
  return static_cast<std::size_t>(std::countr_zero(rows));
}

// Full-size chunks that are whole huge pages are 2 MiB aligned and madvise'd for THP: a scan
// then takes a TLB miss every 2 MiB instead of every 4 KiB.
std::byte* allocate_rows(std::size_t bytes) {
  if (bytes >= kHugePage && bytes % kHugePage == 0) {
    void* p = std::aligned_alloc(kHugePage, bytes);
    if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    ::madvise(p, bytes, MADV_HUGEPAGE);  // advisory: failure just means 4 KiB pages
#endif
    return static_cast<std::byte*>(p);
  }
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}
}  // namespace

FlatLayout::FlatLayout(const Codec& codec)
    : codec_(codec),
      row_bytes_(codec.row_bytes()),
      chunk_shift_(chunk_shift_for(codec.row_bytes())),
      chunk_mask_((std::size_t{1} << chunk_shift_) - 1) {}

FlatLayout::~FlatLayout() { clear(); }

void FlatLayout::free_chunk(Chunk& c) noexcept {
  if (!c.borrowed) {
    std::free(c.data);
    delete[] c.ids;  // NOLINT(cppcoreguidelines-owning-memory): owned unless borrowed
  }
  c.data = nullptr;
  c.ids = nullptr;
  c.capacity = 0;
  c.borrowed = false;
}

void FlatLayout::clear() noexcept {
  for (auto& c : chunks_) free_chunk(c);
  chunks_.clear();
  chunks_.shrink_to_fit();
  size_ = 0;
  map_.clear();
  backing_.reset();
}

void FlatLayout::own(Chunk& c, std::size_t live_rows) {
  if (!c.borrowed) return;
  std::byte* data = allocate_rows(c.capacity * row_bytes_);
  auto* ids = new EntryId[c.capacity];
  std::memcpy(data, c.data, live_rows * row_bytes_);
  std::copy_n(c.ids, live_rows, ids);
  c.data = data;
  c.ids = ids;
  c.borrowed = false;
}

std::size_t FlatLayout::borrowed_chunks() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(chunks_.begin(), chunks_.end(), [](const Chunk& c) { return c.borrowed; }));
}

bool FlatLayout::adopt(std::size_t n, const std::byte* rows, const EntryId* ids,
                       std::span<const std::uint32_t> id_slots, std::shared_ptr<const void> backing) {
  clear();
  if (n > 0 && (rows == nullptr || ids == nullptr || reinterpret_cast<std::uintptr_t>(rows) % 64 != 0)) return false;
  if (n >= IdMap::kEmpty) return false;
  for (std::size_t r = 0; r < n; ++r)
    if (ids[r] <= 0) return false;
  if (!map_.assign(id_slots, n)) return false;
  backing_ = std::move(backing);
  for (std::size_t begin = 0; begin < n; begin += chunk_rows()) {
    Chunk c;
    // The mapping is read-only: nothing writes through these pointers before own() copies.
    c.data = const_cast<std::byte*>(rows + begin * row_bytes_);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    c.ids = const_cast<EntryId*>(ids + begin);                   // NOLINT(cppcoreguidelines-pro-type-const-cast)
    c.capacity = std::min(chunk_rows(), n - begin);
    c.borrowed = true;
    chunks_.push_back(c);
  }
  size_ = n;
  return true;
}

const std::byte* FlatLayout::find(EntryId id) const noexcept {
  const std::size_t slot = map_.find(id, [this](std::uint32_t r) { return id_at(r); });
  return slot == IdMap::npos ? nullptr : row_at(map_.row_at(slot));
}

void FlatLayout::grow_for(std::size_t row) {
  const std::size_t c = row >> chunk_shift_, off = row & chunk_mask_;
  if (c == chunks_.size()) chunks_.emplace_back();
  Chunk& chunk = chunks_[c];
  if (off < chunk.capacity) {
    own(chunk, off);
    return;
  }
  // 1.25x growth (rounded to 8 rows): bounded slack at the cost of a few small copies; a
  // chunk is at most ~2 MiB, so a copy never stalls a put for long.
  std::size_t cap = chunk.capacity == 0 ? kFirstCapacity : (chunk.capacity * 5 / 4 + 7) / 8 * 8;
  cap = std::min(std::max(cap, off + 1), chunk_rows());
  std::byte* data = allocate_rows(cap * row_bytes_);
  auto* ids = new EntryId[cap];
  if (chunk.capacity > 0) {
    std::memcpy(data, chunk.data, off * row_bytes_);
    std::copy_n(chunk.ids, off, ids);
  }
  free_chunk(chunk);
  chunk.data = data;
  chunk.ids = ids;
  chunk.capacity = cap;
}

void FlatLayout::upsert(EntryId id, const std::byte* row) {
  auto key_of = [this](std::uint32_t r) { return id_at(r); };
  if (const std::size_t slot = map_.find(id, key_of); slot != IdMap::npos) {
    const std::size_t r = map_.row_at(slot);
    own_row_chunk(r);
    std::memcpy(row_at(r), row, row_bytes_);
    return;
  }
  const std::size_t r = size_;
  grow_for(r);
  std::memcpy(row_at(r), row, row_bytes_);
  chunks_[r >> chunk_shift_].ids[r & chunk_mask_] = id;
  ++size_;
  map_.insert(id, static_cast<std::uint32_t>(r), key_of);
}

bool FlatLayout::remove(EntryId id) {
  auto key_of = [this](std::uint32_t r) { return id_at(r); };
  const std::size_t slot = map_.find(id, key_of);
  if (slot == IdMap::npos) return false;
  const std::size_t hole = map_.row_at(slot), last = size_ - 1;
  if (hole != last) {
    own_row_chunk(hole);
    const EntryId moved = id_at(last);
    const std::size_t moved_slot = map_.find(moved, key_of);
    std::memcpy(row_at(hole), row_at(last), row_bytes_);
    chunks_[hole >> chunk_shift_].ids[hole & chunk_mask_] = moved;
    map_.set_row(moved_slot, static_cast<std::uint32_t>(hole));
  }
  --size_;
  // The erased slot still names row `hole`, now holding `moved`; erase_slot works by position.
  map_.erase_slot(slot, key_of);
  if ((size_ & chunk_mask_) == 0 && chunks_.size() > 1 && (size_ >> chunk_shift_) < chunks_.size()) {
    free_chunk(chunks_.back());
    chunks_.pop_back();
  }
  return true;
}

void FlatLayout::scan_rows(const void* query, float scale, std::size_t begin, std::size_t end, TopK& top) const {
  const KernelTable& k = kernels();
  const std::size_t d = codec_.dim();
  float scores[kScanBlock];
  std::int32_t raw[kScanBlock];
  for (std::size_t r = begin; r < end;) {
    const std::size_t in_chunk = chunk_rows() - (r & chunk_mask_);
    const std::size_t len = std::min({kScanBlock, end - r, in_chunk});
    const std::byte* base = row_at(r);
    switch (codec_.element()) {
      case ElementType::kF32:
        k.scan_f32(static_cast<const float*>(query), reinterpret_cast<const float*>(base), len, d, scores);
        break;
      case ElementType::kF16:
        k.scan_f16(static_cast<const float*>(query), reinterpret_cast<const std::uint16_t*>(base), len, d, scores);
        break;
      case ElementType::kInt8:
        k.scan_i8(static_cast<const std::int8_t*>(query), reinterpret_cast<const std::int8_t*>(base), len, d, raw);
        for (std::size_t i = 0; i < len; ++i) scores[i] = static_cast<float>(raw[i]) * scale;
        break;
    }
    const EntryId* ids = chunks_[r >> chunk_shift_].ids + (r & chunk_mask_);
    float floor = top.floor();
    for (std::size_t i = 0; i < len; ++i) {
      if (scores[i] >= floor) {
        top.push(scores[i], ids[i]);
        floor = top.floor();
      }
    }
    r += len;
  }
}

std::vector<Scored> FlatLayout::search(std::span<const float> query, std::size_t k, std::size_t threads) const {
  if (k == 0 || size_ == 0) return {};
  thread_local QueryBuffer q;
  prepare_scan_query(codec_, query, q);
  const std::size_t n_chunks = chunks_.size();
  if (threads <= 1 || n_chunks < 2 || size_ * row_bytes_ < kParallelMinBytes) {
    TopK top(k);
    scan_rows(q.data, q.scale, 0, size_, top);
    return top.take_sorted();
  }
  std::vector<std::vector<Scored>> partial(n_chunks);
  const void* data = q.data;
  const float scale = q.scale;
  ThreadPool::shared().parallel_for(n_chunks, threads, [&](std::size_t c) {
    TopK top(k);
    const std::size_t begin = c << chunk_shift_;
    scan_rows(data, scale, begin, std::min(size_, begin + chunk_rows()), top);
    partial[c] = top.take_sorted();
  });
  TopK top(k);
  for (const auto& p : partial)
    for (const Scored& s : p) top.push(s.score, s.id);
  return top.take_sorted();
}

std::size_t FlatLayout::memory_bytes() const noexcept {
  std::size_t bytes = sizeof(*this) + chunks_.capacity() * sizeof(Chunk) + map_.memory_bytes();
  for (const auto& c : chunks_) bytes += c.capacity * (row_bytes_ + sizeof(EntryId));
  return bytes;
}

}  // namespace engram::detail
