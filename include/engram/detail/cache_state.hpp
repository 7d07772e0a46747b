#pragma once
// Internal: the in-memory side of SemanticCache, independent of the store type.
//
// CacheState holds, per namespace, the exact map (query hash -> slot) and the vector index,
// plus a reverse map id -> entry and a bounded response cache. It does no locking of its
// own: SemanticCache guards it with a reader/writer lock. Methods marked [shared] are safe under a
// shared lock (they touch only atomics besides reading); everything else needs the exclusive
// lock.

#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
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
inline std::int64_t expiry_ms(Timestamp created_at, std::optional<Millis> ttl) {
  return ttl ? to_ms(created_at) + ttl->count() : kNever;
}

// The text of an entry, kept in the response cache so an exact hit needs no store read.
struct Payload {
  std::string query, response, metadata;
  std::size_t bytes() const { return query.size() + response.size() + metadata.size() + sizeof(Payload); }
};

struct NamespaceCounters {
  std::atomic<std::uint64_t> hits_exact{0}, hits_semantic{0}, puts{0}, evictions{0}, expirations{0};
  std::array<std::atomic<std::uint64_t>, kMissReasonCount> misses{};
};

struct NamespaceState {
  NamespaceState(std::string n, const IndexConfig& config) : name(std::move(n)), index(config) {}
  std::string name;
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

class CacheState {
 public:
  CacheState(const IndexConfig& index_config, std::size_t response_cache_bytes);

  // [shared] nullptr when the namespace has never held an entry.
  NamespaceState* find_namespace(std::string_view ns) const;
  // [shared]
  struct EntryRef {
    NamespaceState* ns;
    Slot* slot;  // stable until the entry is removed (ExactMap never moves slots)
  };
  const EntryRef* find_id(EntryId id) const;
  // [shared] The cached text of `id`, or null; marks it recently used.
  std::shared_ptr<const Payload> cached_payload(EntryId id) const;
  // [shared] The same without sharing ownership: valid only while the lock is held.
  const Payload* peek_payload(EntryId id) const;
  // [shared] Records one access (written back to the store by take_touches).
  void record_access(Slot& slot, std::int64_t now_ms);
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
  void cache_payload(EntryId id, std::shared_ptr<const Payload> payload);
  bool remove(EntryId id);
  void clear();

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
  std::unordered_map<EntryId, EntryRef> ids_;
  std::unordered_map<EntryId, CachedPayload> payloads_;
  std::deque<EntryId> payload_clock_;  // CLOCK order for response-cache eviction
  std::size_t payload_bytes_ = 0;
  std::atomic<std::size_t> pending_touches_{0};
};

}  // namespace engram::detail
