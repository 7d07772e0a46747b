#pragma once
// Options for SemanticCache and its get/put calls. Every field has a sensible default;
// SemanticCache's constructor validates them and throws InvalidArgument on nonsense
// (threshold outside [-1, 1], zero limits, ...).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engram/guard.hpp"
#include "engram/lexical_guard.hpp"
#include "engram/types.hpp"

namespace engram {

enum class IndexKind { kFlat, kHnsw, kAuto };
enum class ElementType { kF32, kF16, kInt8 };

const char* to_string(IndexKind kind) noexcept;
const char* to_string(ElementType type) noexcept;

// HNSW parameters (hnswlib). auto_threshold: with IndexKind::kAuto a namespace switches to
// HNSW when it grows past this many entries (the graph is built on a background thread while
// the flat layout keeps answering) and back to flat below half of it. Chosen on real sentence
// embeddings (all-MiniLM-L6-v2 of Debian package summaries, docs/performance.md "Defaults and
// why"): at 100k x 384 f32, ef_search 64 finds the true nearest neighbour of every embedded
// paraphrase (recall@1 1.000; 0.9995 at 32) in ~0.1-0.25 ms, where a flat scan takes 5-11 ms.
// Below 20k a flat f32 scan is at most ~1.3 ms here and exact. Trades: a larger auto_threshold
// or IndexKind::kFlat keeps results exact (recall 1.0 on any data, flat cost ~66 ns/entry at
// d = 384); a larger ef_search buys recall on hard (near-isotropic) data at a linear cost in
// latency; larger m/ef_construction buy recall at build time and memory (ef_construction 100
// gives the same recall@1 as 200 on that data at half the linking CPU; linking runs off the
// put path, but its rate bounds how many puts a second a namespace absorbs before its tail of
// unlinked rows grows). HNSW recall depends
// on the data: on isotropic random vectors, the worst case, ef_search 64 gives only ~0.88 at
// 100k — measure on your own embeddings before lowering ef_search.
struct HnswParams {
  std::size_t m = 16;
  std::size_t ef_construction = 100;
  std::size_t ef_search = 64;
  std::size_t auto_threshold = 20'000;
};

// Attributes passed to CacheOptions::metrics_hook with each event.
struct EventAttrs {
  std::string_view ns{};
  std::optional<Layer> layer{};        // set on hits
  std::optional<MissReason> reason{};  // set on misses
  double similarity = 0;
  Millis latency{0};          // wall time of the call (get, put)
  std::size_t count = 0;      // rows affected ("evict")
  std::string_view detail{};  // error text for "error" events; the guard's reason for kGuarded misses
};

struct NormalizeOptions {
  bool nfkc = false;  // also apply Unicode NFKC (compatibility) normalization: "ｆｕｌｌ" == "full"
};

// The similarity threshold when neither CacheOptions nor the embedder names one.
inline constexpr double kDefaultSimilarityThreshold = 0.85;

struct CacheOptions {
  // Cosine similarity in [-1, 1] a semantic candidate needs. Unset: the embedder's
  // recommended_threshold() when it has one (see RecommendsThreshold in embedder.hpp), else
  // kDefaultSimilarityThreshold. SemanticCache::similarity_threshold() tells which applies.
  std::optional<double> similarity_threshold{};
  std::optional<std::size_t> max_entries{};  // global LRU cap over all namespaces
  std::optional<Millis> default_ttl{};       // applied when PutOptions::ttl is empty
  std::function<Timestamp()> clock{};        // default: system clock, truncated to ms
  Millis sync_interval{0};                   // 0: check the version counter on every get
  bool fail_open = true;                     // get() turns store/embedder errors into misses
  IndexKind index = IndexKind::kAuto;
  ElementType vectors = ElementType::kF32;  // in-memory element type; the store keeps f32
  HnswParams hnsw{};
  std::size_t search_threads = 1;  // threads for flat scans of large namespaces
  std::size_t top_k = 4;           // semantic candidates examined per get
  std::size_t response_cache_bytes = 64 << 20;
  std::size_t touch_batch = 1024;  // buffered touches that trigger a write-back
  // A background thread writes buffered touches every flush_interval (or as soon as
  // touch_batch are pending). 0: no thread at all — the get that fills a batch writes it —
  // which suits processes that fork() after creating the cache.
  Millis flush_interval{1000};
  std::size_t eviction_batch = 1;  // at least this many victims per eviction
  // The index sidecar (docs/architecture.md, "The sidecar"): the in-memory layers written to
  // a file, so that the next open maps it instead of rebuilding every index from the store.
  // Unset: "<store path>.engram-index" for stores with a path() (SqliteStore on a file), no
  // sidecar for the others. An empty path: no sidecar. Written on close(), by
  // persist_index(), and in the background every index_persist_interval changes.
  std::optional<std::filesystem::path> index_path{};
  // Store changes (our writes and other processes' ones we applied) after which the background
  // flusher (flush_interval > 0) rewrites the sidecar. 0: only on close() and persist_index().
  // Keep it well below the store's change-feed retention (SqliteOptions::change_log_retention,
  // 100,000 by default): a sidecar further behind than that is discarded at open.
  std::uint64_t index_persist_interval = 25'000;
  NormalizeOptions normalize{};
  // Checked on every semantic candidate above the threshold, before the validator; a
  // rejection is MissReason::kGuarded, counted per GuardVerdict::reason. The default,
  // LexicalGuard, refuses opposite or different questions that embed close together
  // (negation, antonyms, numbers, entities, direction; docs/answer-quality.md). An empty
  // function disables guarding.
  Guard guard = default_guard();
  std::function<bool(std::string_view response)> validator{};
  std::function<double(double similarity, Millis age, std::string_view metadata)> confidence_fn{};
  double min_confidence = 0.0;
  std::function<void(std::string_view event, const EventAttrs&)> metrics_hook{};
  std::function<void(const std::exception&)> on_error{};  // called for fail-open errors
  std::size_t max_query_bytes = 32 << 10;
  std::size_t max_response_bytes = 4 << 20;
  std::size_t max_metadata_bytes = 64 << 10;
};

struct GetOptions {
  std::string ns{};                               // namespace; "" is the default namespace
  std::optional<std::vector<float>> embedding{};  // supplied embedding: the embedder is skipped
  bool bypass = false;                            // always miss (counted as kBypass)
  std::optional<double> threshold{};              // overrides similarity_threshold
};

struct PutOptions {
  std::string ns{};
  std::string metadata = "{}";                    // must be a JSON object
  std::optional<Millis> ttl{};                    // overrides default_ttl
  std::optional<std::vector<float>> embedding{};  // supplied embedding: the embedder is skipped
};

}  // namespace engram
