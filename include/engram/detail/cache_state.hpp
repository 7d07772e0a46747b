#pragma once
// Internal: the in-memory side of SemanticCache, independent of the store type.
//
// CacheState holds, per namespace, the exact map (query hash -> slot) and the vector index,
// plus a reverse map id -> entry and a bounded response cache. It does no locking of its
// own: SemanticCache guards it with a reader/writer lock. Methods marked [shared] are safe under a
// shared lock (they touch only atomics besides reading); everything else needs the exclusive
// lock.

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engram/detail/exact_map.hpp"
#include "engram/index/vector_index.hpp"
#include "engram/types.hpp"

namespace engram::detail {

inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

inline std::int64_t to_ms(Timestamp t) { return t.time_since_epoch().count(); }

// a + b and a - b clamped to the int64 range. Timestamps and TTLs come from callers and from
// stored rows (a restored file may hold any value), so their sums must not overflow:
// ttl = Millis::max() means "never expires", not "expired in 1970".
inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (!__builtin_add_overflow(a, b, &out)) return out;
  return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}
inline std::int64_t saturating_sub(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (!__builtin_sub_overflow(a, b, &out)) return out;
  return b < 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}
inline std::int64_t expiry_ms(Timestamp created_at, std::optional<Millis> ttl) {
  return ttl ? saturating_add(to_ms(created_at), ttl->count()) : kNever;
}

// The text of an entry, kept in the response cache so an exact hit needs no store read.
// `normalized` is the normalized query: an exact hit compares it with the caller's normalized
// query, so a hash collision (crafted or not) can never serve another query's response.
struct Payload {
  std::string query, normalized, response, metadata;
  std::size_t bytes() const {
    return query.size() + normalized.size() + response.size() + metadata.size() + sizeof(Payload);
  }
};

// kGuarded misses per guard reason. Guard rejections are rare next to hits and misses, so a
// mutex-guarded map is enough.
class GuardCounts {
 public:
  void add(std::string_view reason) {
    std::lock_guard lock(mu_);
    auto it = counts_.find(reason);
    if (it == counts_.end()) it = counts_.emplace(std::string(reason), 0).first;
    ++it->second;
  }
  std::map<std::string, std::uint64_t, std::less<>> snapshot() const {
    std::lock_guard lock(mu_);
    return counts_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t, std::less<>> counts_;
};

struct NamespaceCounters {
  std::atomic<std::uint64_t> hits_exact{0}, hits_semantic{0}, puts{0}, evictions{0}, expirations{0};
  std::array<std::atomic<std::uint64_t>, kMissReasonCount> misses{};
  GuardCounts guarded;
};

struct NamespaceState {
  NamespaceState(std::string n, std::uint32_t num, const IndexConfig& config)
      : name(std::move(n)), number(num), index(config) {}
  std::string name;
  std::uint32_t number;  // its position in CacheState's namespaces, for the id table
  ExactMap exact;
  VectorIndex index;
  NamespaceCounters counters;
};

// The exact-layer facts of one entry (its vector travels separately in bulk loads).
struct RowKey {
  EntryId id = 0;
  QueryHash hash;
  Timestamp created_at{};
  std::optional<Millis> ttl;
};

// Everything the in-memory state needs to know about one entry.
struct EntryInfo {
  EntryId id = 0;
  std::string_view ns;
  QueryHash hash;
  Timestamp created_at{};
  std::optional<Millis> ttl;
  std::span<const float> embedding;  // unit length, dim floats
};

// EntryId -> V in one open-addressing table (linear probing, backward-shift deletion, at most
// half full), so that a million entries are one allocation instead of a million nodes: the
// sidecar open fills it in a few milliseconds. Id 0 marks a free cell (ids are positive).
// Pointers returned by find() stay valid until the next insert, erase or clear.
template <class V>
class IdTable {
 public:
  std::size_t size() const noexcept { return size_; }
  V* find(EntryId id) noexcept {
    if (size_ == 0) return nullptr;
    for (std::size_t i = home(id);; i = (i + 1) & mask_) {
      if (cells_[i].id == id) return &cells_[i].value;
      if (cells_[i].id == 0) return nullptr;
    }
  }
  const V* find(EntryId id) const noexcept { return const_cast<IdTable*>(this)->find(id); }
  // Inserts or replaces. Returns false when `id` was already there and `replace` is false.
  bool insert(EntryId id, const V& value, bool replace = true) {
    if ((size_ + 1) * 2 > cells_.size()) rehash(std::max<std::size_t>(16, cells_.size() * 2));
    std::size_t i = home(id);
    for (; cells_[i].id != 0; i = (i + 1) & mask_) {
      if (cells_[i].id != id) continue;
      if (replace) cells_[i].value = value;
      return replace;
    }
    cells_[i] = Cell{id, value};
    ++size_;
    return true;
  }
  // Inserts items[i].first -> value_of(items[i]) for every item, none of which may be present
  // yet; false (stopping there) at the first id already present. The bulk path of a sidecar
  // open: in input order every insert would land on a random cell of a table far larger than
  // the caches (48 MiB for a million ids). The items are first distributed by the top 10 bits
  // of their home cell (a counting sort: 1024 sequential write streams), so the inserts then
  // fill the table one 1/1024th window (48 KiB for a million ids) at a time, in cache.
  template <class Item, class F>
  bool insert_all_new(std::span<const Item> items, F&& value_of) {
    reserve(size_ + items.size());
    const auto bits = static_cast<unsigned>(std::countr_zero(cells_.size()));
    const unsigned shift = bits > 10 ? bits - 10 : 0;
    std::vector<std::size_t> start((cells_.size() >> shift) + 1, 0);
    for (const Item& item : items) ++start[(home(item.first) >> shift) + 1];
    for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
    std::vector<Item> sorted(items.size());
    for (const Item& item : items) sorted[start[home(item.first) >> shift]++] = item;
    for (const Item& item : sorted) {
      const EntryId id = item.first;
      std::size_t i = home(id);
      for (; cells_[i].id != 0; i = (i + 1) & mask_)
        if (cells_[i].id == id) return false;
      cells_[i] = Cell{id, value_of(item)};
      ++size_;
    }
    return true;
  }
  bool erase(EntryId id) noexcept {
    if (size_ == 0) return false;
    std::size_t hole = home(id);
    for (;; hole = (hole + 1) & mask_) {
      if (cells_[hole].id == 0) return false;
      if (cells_[hole].id == id) break;
    }
    for (std::size_t j = (hole + 1) & mask_; cells_[j].id != 0; j = (j + 1) & mask_) {
      const std::size_t h = home(cells_[j].id);
      const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!stays) {
        cells_[hole] = cells_[j];
        hole = j;
      }
    }
    cells_[hole] = Cell{};
    --size_;
    return true;
  }
  void clear() noexcept {
    cells_.clear();
    cells_.shrink_to_fit();
    size_ = mask_ = 0;
  }
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    if (cap > cells_.size()) rehash(cap);
  }
  template <class F>
  void for_each(F&& f) {
    for (Cell& c : cells_)
      if (c.id != 0) f(c.id, c.value);
  }

 private:
  struct Cell {
    EntryId id = 0;
    V value{};
  };
  std::size_t home(EntryId id) const noexcept { return static_cast<std::size_t>(mix_id(id)) & mask_; }
  void rehash(std::size_t capacity) {
    std::vector<Cell> old(capacity);
    old.swap(cells_);
    mask_ = capacity - 1;
    for (const Cell& c : old) {
      if (c.id == 0) continue;
      std::size_t i = home(c.id);
      while (cells_[i].id != 0) i = (i + 1) & mask_;
      cells_[i] = c;
    }
  }
  std::vector<Cell> cells_;
  std::size_t size_ = 0, mask_ = 0;
};

class CacheState {
 public:
  CacheState(const IndexConfig& index_config, std::size_t response_cache_bytes);

  // [shared] nullptr when the namespace has never held an entry.
  NamespaceState* find_namespace(std::string_view ns) const;
  // [shared] Where an entry lives; valid until the state next changes (exclusive lock).
  struct EntryRef {
    NamespaceState* ns;
    const SlotRecord* record;
    SlotAccess* access;
  };
  std::optional<EntryRef> find_id(EntryId id) const;
  // [shared] The generation of `id`'s in-memory state, 0 when `id` is not held. Every upsert
  // of an id gives it a new generation (also across clear()), so a reader that captured one
  // before reading the store can tell whether the entry changed meanwhile. 32 bits keep a
  // SlotAccess at 16 bytes; a reader would be fooled only if exactly 2^32 upserts happened
  // during its one store read.
  std::uint32_t generation(EntryId id) const;
  // [shared] The cached text of `id`, or null; marks it recently used.
  std::shared_ptr<const Payload> cached_payload(EntryId id) const;
  // [shared] The same without sharing ownership: valid only while the lock is held.
  const Payload* peek_payload(EntryId id) const;
  // [shared] Records one access (written back to the store by take_touches).
  void record_access(SlotAccess& access, std::int64_t now_ms);
  // [shared] Drains recorded accesses. Returns them as touches for the store.
  std::vector<Touch> take_touches();
  std::size_t pending_touches() const { return pending_touches_.load(std::memory_order_relaxed); }

  NamespaceState& namespace_for(std::string_view ns);
  // Adds or replaces an entry (by id, and by (ns, hash): a different id holding the same key
  // is dropped first).
  void upsert(const EntryInfo& entry);
  // Same as upsert() for many entries of namespace `ns`, with one bulk index insertion (the
  // rebuild at open): row i's vector is vectors[i * dim, (i + 1) * dim).
  void upsert_many(std::string_view ns, std::span<const RowKey> rows, std::span<const float> vectors);
  // Keeps `payload` as the text of `id`, but only while `id` is still at `generation`: a
  // payload read from the store before a concurrent write (ours or a sync's) must not replace
  // the newer text. Returns whether it was kept (it may also be skipped for the size budget).
  bool cache_payload(EntryId id, std::uint32_t generation, std::shared_ptr<const Payload> payload);
  bool remove(EntryId id);
  void clear();

  // ---- the sidecar ----
  // Makes room in the id map for n entries (before restoring namespaces).
  void reserve_ids(std::size_t n) { ids_.reserve(n); }
  // Restores namespace `ns` (which must not hold entries yet) from a sidecar: the index from
  // `index` (flat rows read in place, kept alive by `backing`), the exact map from its slot
  // records (also read in place), probe table and free list. Returns false when the pieces are
  // inconsistent (the caller then clears everything and rebuilds from the store).
  bool restore_namespace(std::string_view ns, const IndexImageView& index, std::shared_ptr<const void> backing,
                         const std::byte* slot_records, std::size_t used, std::span<const std::uint32_t> table,
                         std::span<const std::uint32_t> free_list);

  std::size_t entries() const { return ids_.size(); }
  std::size_t response_cache_bytes() const { return payload_bytes_; }
  std::vector<NamespaceState*> namespaces() const;
  std::size_t index_memory_bytes() const;
  std::size_t exact_map_bytes() const;

 private:
  struct CachedPayload {
    std::shared_ptr<const Payload> payload;
    mutable std::atomic<bool> referenced{false};
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  // The exact-map side of upsert(): drops conflicting older state, fills the slot and id map.
  void place(NamespaceState& ns, const RowKey& row);
  // Finds the cached text of `id` and marks it recently used (CLOCK).
  const CachedPayload* use_payload(EntryId id) const;
  void evict_payloads();
  void drop_payload(EntryId id);

  IndexConfig index_config_;
  std::size_t payload_budget_;
  std::unordered_map<std::string, std::unique_ptr<NamespaceState>, StringHash, std::equal_to<>> namespaces_;
  // An id's namespace number and exact-map slot number: 16-byte cells where two pointers
  // took 24 (the table is one of a reader's largest private allocations).
  struct IdCell {
    std::uint32_t ns = 0;
    std::uint32_t slot = 0;
  };
  EntryRef resolve(IdCell cell) const;

  std::vector<NamespaceState*> by_number_;  // namespaces_ by NamespaceState::number
  IdTable<IdCell> ids_;
  std::unordered_map<EntryId, CachedPayload> payloads_;
  std::deque<EntryId> payload_clock_;  // CLOCK order for response-cache eviction
  std::size_t payload_bytes_ = 0;
  std::uint32_t last_generation_ = 0;
  std::atomic<std::size_t> pending_touches_{0};
};

}  // namespace engram::detail
