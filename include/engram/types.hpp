#pragma once
// Core value types shared by the cache, the stores and the battery.
//
// Everything here is a plain value: copyable, no hidden sharing, safe to pass between
// threads. Timestamps are milliseconds since the Unix epoch (system clock), which is what
// every store persists.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace engram {

using EntryId = std::int64_t;  // > 0, assigned by the store, stable across upserts
using Millis = std::chrono::milliseconds;
using Timestamp = std::chrono::sys_time<Millis>;

// XXH3-128 of the normalized query. Byte order is big-endian (high 64 bits first), the
// canonical XXH128 representation, so hex() matches `xxh128sum` of the normalized text.
struct QueryHash {
  std::array<std::uint8_t, 16> bytes{};

  std::string hex() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(32, '0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      out[2 * i] = kDigits[bytes[i] >> 4];
      out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
    }
    return out;
  }
  friend bool operator==(const QueryHash&, const QueryHash&) = default;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 false positive on a defaulted <=> (the 0 it compares with)
  friend auto operator<=>(const QueryHash&, const QueryHash&) = default;
};

// Hash functor so QueryHash can key unordered containers (the bytes are already uniform).
struct QueryHashHasher {
  std::size_t operator()(const QueryHash& h) const noexcept {
    std::size_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | h.bytes[static_cast<std::size_t>(i)];
    return v;
  }
};

// One cached entry as a store keeps it.
struct StoredEntry {
  EntryId id = 0;
  std::string ns{};
  QueryHash query_hash{};
  std::string query{};  // the raw query as given to put()
  std::string response{};
  std::vector<float> embedding{};  // L2-normalized float32, stored bit-exact
  std::string metadata = "{}";     // a JSON object, validated by the cache on put
  Timestamp created_at{};
  Timestamp last_accessed_at{};
  std::optional<Millis> ttl{};  // relative to created_at
  std::int64_t access_count = 0;

  // Expired when created_at + ttl <= now (the boundary instant counts as expired).
  // A sum past the int64 range (ttl = Millis::max(), say) means "never", not overflow.
  bool expired_at(Timestamp now) const {
    if (!ttl) return false;
    std::int64_t end = 0;
    if (__builtin_add_overflow(created_at.time_since_epoch().count(), ttl->count(), &end)) return ttl->count() < 0;
    return end <= now.time_since_epoch().count();
  }
  friend bool operator==(const StoredEntry&, const StoredEntry&) = default;
};

// The columns an index rebuild needs, without query/response/metadata text.
struct IndexRow {
  EntryId id = 0;
  std::string ns{};
  QueryHash query_hash{};
  Timestamp created_at{};
  std::optional<Millis> ttl{};
  std::vector<float> embedding{};
};

// A batched access write-back: last_accessed_at = max(stored, at); access_count += hits.
struct Touch {
  EntryId id = 0;
  Timestamp at{};
  std::int64_t hits = 1;
};

enum class ChangeKind { kUpsert, kDelete };

// One record of a store's change feed. Every change has its own version; the store's version
// counter equals the version of its latest change.
struct Change {
  std::uint64_t version = 0;
  EntryId id = 0;
  ChangeKind kind = ChangeKind::kUpsert;
  friend bool operator==(const Change&, const Change&) = default;
};

using EntryVisitor = std::function<bool(const StoredEntry&)>;  // return false to stop
using IndexRowVisitor = std::function<bool(const IndexRow&)>;  // return false to stop

enum class Layer { kExact, kSemantic };

struct Hit {
  std::string response{};
  double similarity = 0;  // 1.0 for an exact hit; the exact cosine otherwise
  double confidence = 0;  // confidence_fn(similarity, age, metadata), or similarity
  Layer layer = Layer::kExact;
  std::string ns{};
  std::string metadata{};
  EntryId id = 0;
  std::string matched_query{};
  Millis age{0};
};

// Why a get() returned nothing. kError is counted only in fail-open mode.
enum class MissReason {
  kNoCandidate,     // namespace empty or nothing scored at all
  kBelowThreshold,  // best candidate under the similarity threshold
  kExpired,         // the matching entry's TTL had passed
  kRejected,        // the validator refused every candidate
  kLowConfidence,   // confidence under min_confidence
  kBypass,          // GetOptions::bypass
  kError,           // store or embedder failure (fail-open)
  kGuarded,         // the guard refused every candidate above the threshold
};
inline constexpr std::size_t kMissReasonCount = 8;
const char* to_string(MissReason reason) noexcept;
const char* to_string(Layer layer) noexcept;

// Latency summary over a sliding window of recent calls, in microseconds.
struct LatencySummary {
  std::uint64_t count = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
};

struct NamespaceStats {
  std::size_t entries = 0;
  std::uint64_t hits_exact = 0, hits_semantic = 0, puts = 0, evictions = 0, expirations = 0;
  std::array<std::uint64_t, kMissReasonCount> misses_by_reason{};
  // kGuarded misses by the reason of the guard's first rejection in that get ("negation",
  // "number", ...); the counts add up to misses(MissReason::kGuarded).
  std::map<std::string, std::uint64_t, std::less<>> guarded_by_reason{};
  std::size_t index_memory_bytes = 0;
  // HNSW namespaces: rows put (here or by other processes) that the background linker has not
  // moved into the graph yet; searches scan them exactly meanwhile. Stays near 0 unless puts
  // arrive faster than one core links them (docs/performance.md, "Puts into an HNSW namespace").
  std::size_t index_unlinked = 0;
  // The namespace's index layout now: "flat-f32", "hnsw-int8", ... (empty in Stats::total).
  std::string index_layout{};
  std::uint64_t misses() const {
    std::uint64_t n = 0;
    for (auto m : misses_by_reason) n += m;
    return n;
  }
  std::uint64_t misses(MissReason r) const { return misses_by_reason[static_cast<std::size_t>(r)]; }
};

struct Stats {
  NamespaceStats total{};  // aggregate over every namespace
  std::map<std::string, NamespaceStats> by_namespace{};
  std::uint64_t syncs = 0, rebuilds = 0, errors = 0;
  // The index sidecar (CacheOptions::index_path): opens that loaded it, sidecars found but
  // discarded (each reported to on_error with the reason; the index was rebuilt from the
  // store instead), and sidecars this cache wrote.
  std::uint64_t sidecar_loads = 0, sidecar_discards = 0, sidecar_writes = 0;
  // Stored rows the cache skips because their embedding is unusable (wrong dimension or not
  // finite): they are never served, and each is reported once to on_error as StoreCorrupt.
  std::size_t quarantined = 0;
  // exact_map_bytes counts this process's own memory: slot records still read in place from
  // the sidecar are in the page cache, shared with every process that opened it, and not here.
  std::size_t response_cache_bytes = 0, exact_map_entries = 0, exact_map_bytes = 0;
  LatencySummary get_latency{}, put_latency{};
};

struct Health {
  bool healthy = false;  // open, store reachable, integrity ok, fingerprint matches
  bool integrity_ok = false;
  int schema_version = 0;
  bool embedder_fingerprint_match = false;
  std::size_t entries = 0;
  std::size_t namespaces = 0;
  std::string store_backend{};  // e.g. "sqlite", "dict", "redis"
  std::string index_backend{};  // e.g. "flat-f32", "hnsw-int8"
  std::string message{};        // empty when healthy; otherwise what is wrong
};

}  // namespace engram
