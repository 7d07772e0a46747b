#pragma once
// SemanticCache<Store, Embedder>: a two-layer cache for expensive calls (LLM completions).
//
//   get(query)  1. exact layer: normalize -> XXH3-128 -> in-memory map (ns, hash) -> entry;
//                  the response comes from a bounded in-memory response cache, so a hot exact
//                  hit does no store I/O and never computes an embedding.
//               2. semantic layer: embed (outside any lock) -> top-k cosine search in the
//                  namespace's index -> the first candidate that is above the threshold, not
//                  expired, accepted by the guard and the validator and confident enough.
//   put(query, response)  validates, embeds, writes the store in one transaction, updates the
//                  in-memory layers and evicts by LRU to the namespace quota and max_entries.
//
// Thread safety: one cache may be shared by any number of threads. Gets run in parallel
// (shared lock on the in-memory state; calls into the store are serialized by a mutex);
// writes take the exclusive lock. The embedder runs without any lock held. Callbacks
// (guard, validator, confidence_fn, metrics_hook, on_error) may run under the shared lock and must
// not call back into the cache.
//
// Several processes: every get first checks the store's version counter (at most once per
// CacheOptions::sync_interval) and applies the store's change feed when it moved, so inserts,
// updates and deletes made by other processes become visible. A process applies its own writes
// immediately.
//
// Failure policy: get() fails open by default (a store or embedder error becomes a miss with
// MissReason::kError, reported to on_error); CacheOptions::fail_open = false makes it throw.
// put() always throws on failure. Bad input throws InvalidArgument and writes nothing. After
// close(), every call throws CacheClosed.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <concepts>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>  // std::shared_lock
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engram/detail/cache_state.hpp"
#include "engram/detail/cache_support.hpp"
#include "engram/detail/rw_mutex.hpp"
#include "engram/detail/sidecar.hpp"
#include "engram/embedder.hpp"
#include "engram/embedders/hashing_embedder.hpp"
#include "engram/errors.hpp"
#include "engram/hash.hpp"
#include "engram/normalize.hpp"
#include "engram/options.hpp"
#include "engram/store.hpp"
#include "engram/types.hpp"

namespace engram {

template <Store S, Embedder E = HashingEmbedder>
class SemanticCache {
 public:
  using StoreType = S;
  using EmbedderType = E;

  // Opens `store` with the embedder's fingerprint and dimension and loads the in-memory
  // layers from it. Throws InvalidArgument (bad options), DimensionMismatch / EmbedderMismatch
  // (the store was created with another embedder), StoreError subclasses.
  SemanticCache(S store, E embedder = E{}, CacheOptions options = {})
      : store_(std::move(store)),
        embedder_(std::move(embedder)),
        options_(std::move(options)),
        dim_(static_cast<std::size_t>(embedder_.dim())),
        threshold_(resolve_threshold(options_, embedder_)),
        state_(IndexConfig{dim_, options_.index, options_.vectors, options_.hnsw, options_.search_threads},
               options_.response_cache_bytes) {
    detail::validate_options(options_);
    store_.open(embedder_.fingerprint(), dim_);
    sidecar_path_ = resolve_sidecar_path();
    {
      std::unique_lock lock(state_mu_);
      const auto store_lock = lock_store();
      if (!load_sidecar_locked()) rebuild_locked();
    }
    start_row_verifier();
    try {
      if (options_.flush_interval.count() > 0) flusher_ = std::thread([this] { flusher_loop(); });
    } catch (...) {
      if (verifier_.joinable()) verifier_.join();
      throw;
    }
  }

  // Closes the cache (writing back buffered accesses); errors are swallowed here — call
  // close() explicitly to see them.
  ~SemanticCache() {
    try {
      close();
    } catch (...) {
    }
  }
  SemanticCache(const SemanticCache&) = delete;
  SemanticCache& operator=(const SemanticCache&) = delete;

  // The best hit for `query` in options.ns, or nullopt on a miss. Throws InvalidArgument for
  // bad input (oversize or non-UTF-8 query, bad threshold or embedding), CacheClosed after
  // close(), and store/embedder errors only when fail_open is false.
  std::optional<Hit> get(std::string_view query, const GetOptions& options = {}) {
    const auto started = std::chrono::steady_clock::now();
    ensure_open();
    detail::validate_query(query, options_);
    detail::validate_namespace(options.ns);
    const double threshold = options.threshold.value_or(threshold_);
    detail::validate_threshold(threshold);
    std::optional<std::vector<float>> supplied;
    if (options.embedding) supplied = detail::to_unit_vector(*options.embedding, dim_, "GetOptions::embedding");
    if (options.bypass) return miss(options.ns, MissReason::kBypass, started);
    try {
      return lookup(query, options.ns, threshold, std::move(supplied), started);
    } catch (const InvalidArgument&) {
      throw;
    } catch (const CacheClosed&) {
      throw;
    } catch (const std::exception& e) {
      if (!options_.fail_open) throw;
      report_error(e, options.ns);
      return miss(options.ns, MissReason::kError, started);
    }
  }

  // Stores `response` for `query` (upsert: a repeated query keeps its id and replaces the
  // response, metadata, embedding and TTL). Returns the entry id. Throws InvalidArgument for
  // bad input (nothing is written), CacheClosed, StoreError subclasses.
  EntryId put(std::string_view query, std::string_view response, const PutOptions& options = {}) {
    const auto started = std::chrono::steady_clock::now();
    ensure_open();
    detail::validate_query(query, options_);
    detail::validate_namespace(options.ns);
    detail::validate_payload(response, options.metadata, options_);
    validate_put_options(options);

    std::string normalized = normalize_query(query, options_.normalize);
    StoredEntry entry;
    entry.ns = options.ns;
    entry.query_hash = hash_bytes(normalized);
    entry.query = std::string(query);
    entry.response = std::string(response);
    entry.metadata = options.metadata;
    entry.embedding = options.embedding ? detail::to_unit_vector(*options.embedding, dim_, "PutOptions::embedding")
                                        : detail::to_unit_vector(embedder_.embed(query), dim_, "the embedder's output");
    entry.created_at = entry.last_accessed_at = now();
    entry.ttl = options.ttl ? options.ttl : options_.default_ttl;

    EntryId id = 0;
    {
      std::unique_lock lock(state_mu_);
      const auto store_lock = lock_store();
      ensure_open();
      sync_if_moved_locked();
      id = store_.insert(entry);
      // Our write was the only change since we synced: nothing else to apply.
      if (store_.read_version_counter() == local_version_ + 1) {
        ++local_version_;
        last_applied_ = Change{local_version_, id, ChangeKind::kUpsert};
      }
      entry.id = id;
      apply_entry_locked(std::move(entry), std::move(normalized));
      counters(state_.find_namespace(options.ns)).puts.fetch_add(1, std::memory_order_relaxed);
      total_.puts.fetch_add(1, std::memory_order_relaxed);
      enforce_limits_locked(options.ns);
    }
    put_latency_.record(std::chrono::steady_clock::now() - started);
    emit("put", EventAttrs{.ns = options.ns, .latency = elapsed_ms(started)});
    return id;
  }

  // The cached response for `query`, or compute() once per (ns, normalized query) across all
  // threads of this cache: concurrent callers of the same key wait for the first one's result
  // (or its exception). `options` are validated before anything is computed (InvalidArgument),
  // so a bad option never wastes a computation. The computed value is put with `options`; if
  // that put fails — the store is down, or the value cannot be cached (say, over
  // max_response_bytes) — the value is still returned when fail_open is set (the error goes to
  // on_error and the "error" event), otherwise the put's exception is thrown.
  template <class Compute>
  std::string get_or_compute(std::string_view query, Compute&& compute, const PutOptions& options = {}) {
    ensure_open();
    detail::validate_query(query, options_);
    detail::validate_namespace(options.ns);
    detail::validate_payload({}, options.metadata, options_);
    validate_put_options(options);
    // The key is claimed before the lookup, so each call counts exactly one hit or miss and
    // callers arriving while the first one computes wait for it instead of missing too.
    const std::string key =
        std::to_string(options.ns.size()) + ':' + options.ns + hash_query(query, options_.normalize).hex();
    std::promise<std::string> promise;
    std::shared_future<std::string> result;
    {
      std::lock_guard lock(inflight_mu_);
      if (auto it = inflight_.find(key); it != inflight_.end()) {
        result = it->second;
      } else {
        inflight_.emplace(key, promise.get_future().share());
      }
    }
    if (result.valid()) return result.get();  // another caller is on it

    auto release = [&] {
      std::lock_guard lock(inflight_mu_);
      inflight_.erase(key);
    };
    std::string value;
    try {
      if (auto hit = get(query, GetOptions{.ns = options.ns, .embedding = options.embedding})) {
        value = std::move(hit->response);
      } else {
        value = std::string(std::invoke(std::forward<Compute>(compute)));
        try {
          put(query, value, options);
        } catch (const CacheClosed&) {
          throw;
        } catch (const std::exception& e) {  // InvalidArgument too: the value itself is fine to return
          if (!options_.fail_open) throw;
          report_error(e, options.ns);
        }
      }
    } catch (...) {
      promise.set_exception(std::current_exception());
      release();
      throw;
    }
    promise.set_value(value);
    release();
    return value;
  }

  // Removes the entry for `query` in `ns`. Returns true if one was removed.
  bool erase(std::string_view query, std::string_view ns = {}) {
    ensure_open();
    detail::validate_query(query, options_);
    detail::validate_namespace(ns);
    const QueryHash hash = hash_query(query, options_.normalize);
    std::unique_lock lock(state_mu_);
    const auto store_lock = lock_store();
    ensure_open();
    sync_if_moved_locked();
    const auto stored = store_.get_by_hash(ns, hash);
    if (!stored) return false;
    const bool removed = store_.delete_by_id(stored->id);
    sync_locked();  // applies our delete through the change feed
    return removed;
  }

  // Deletes expired entries (in `ns`, or everywhere) from the store and memory. Returns the
  // number of rows the store removed. Expired entries are never served before this runs.
  std::size_t vacuum(std::optional<std::string_view> ns = {}) {
    ensure_open();
    std::unique_lock lock(state_mu_);
    const auto store_lock = lock_store();
    ensure_open();
    const Timestamp t = now();
    const std::int64_t now_ms = detail::to_ms(t);
    for (detail::NamespaceState* space : state_.namespaces()) {
      if (ns && space->name != *ns) continue;
      std::uint64_t expired = 0;
      space->exact.for_each(
          [&](const detail::SlotRecord& record, std::uint32_t) { expired += record.expires_ms <= now_ms; });
      space->counters.expirations.fetch_add(expired, std::memory_order_relaxed);
      total_.expirations.fetch_add(expired, std::memory_order_relaxed);
    }
    const std::size_t removed = store_.delete_expired(t, ns);
    sync_locked();
    return removed;
  }

  // Removes every entry of `ns`. Returns the number removed.
  std::size_t clear_namespace(std::string_view ns) {
    ensure_open();
    detail::validate_namespace(ns);
    std::unique_lock lock(state_mu_);
    const auto store_lock = lock_store();
    ensure_open();
    const std::size_t removed = store_.clear_namespace(ns);
    sync_locked();
    return removed;
  }

  // Persists a quota for `ns` (every process sharing the store applies it on its next put
  // into `ns`) and evicts down to it now.
  void set_namespace_quota(std::string_view ns, std::size_t max_entries) {
    ensure_open();
    detail::validate_namespace(ns);
    std::unique_lock lock(state_mu_);
    const auto store_lock = lock_store();
    ensure_open();
    store_.set_namespace_quota(ns, max_entries);
    sync_if_moved_locked();
    enforce_limits_locked(ns);
  }

  std::optional<std::size_t> namespace_quota(std::string_view ns) const {
    ensure_open();
    const auto store_lock = lock_store();
    return store_.get_namespace_quota(ns);
  }

  // The similarity threshold get() applies when GetOptions::threshold is unset: the option's,
  // else the embedder's recommendation, else kDefaultSimilarityThreshold.
  double similarity_threshold() const noexcept { return threshold_; }

  // Entries held in memory (all namespaces, or one), as of the last sync.
  std::size_t size(std::optional<std::string_view> ns = {}) const {
    std::shared_lock lock(state_mu_);
    if (!ns) return state_.entries();
    const detail::NamespaceState* space = state_.find_namespace(*ns);
    return space ? space->exact.size() : 0;
  }

  Stats stats() const {
    Stats out;
    std::shared_lock lock(state_mu_);
    out.total = snapshot(total_);
    out.total.entries = state_.entries();
    out.total.index_memory_bytes = state_.index_memory_bytes();
    for (const detail::NamespaceState* space : state_.namespaces()) {
      NamespaceStats ns = snapshot(space->counters);
      ns.entries = space->exact.size();
      ns.index_memory_bytes = space->index.memory_bytes();
      ns.index_unlinked = space->index.unlinked();
      ns.index_layout = space->index.describe();
      out.total.index_unlinked += ns.index_unlinked;
      out.by_namespace.emplace(space->name, ns);
    }
    out.syncs = syncs_.load(std::memory_order_relaxed);
    out.sidecar_loads = sidecar_loads_.load(std::memory_order_relaxed);
    out.sidecar_discards = sidecar_discards_.load(std::memory_order_relaxed);
    out.sidecar_writes = sidecar_writes_.load(std::memory_order_relaxed);
    out.rebuilds = rebuilds_.load(std::memory_order_relaxed);
    out.errors = errors_.load(std::memory_order_relaxed);
    out.quarantined = quarantined_.size();
    out.response_cache_bytes = state_.response_cache_bytes();
    out.exact_map_entries = state_.entries();
    out.exact_map_bytes = state_.exact_map_bytes();
    out.get_latency = get_latency_.summary();
    out.put_latency = put_latency_.summary();
    return out;
  }

  // A health report; never throws (a failing store is reported as unhealthy).
  Health health() const {
    Health h;
    if (closed_.load()) {
      h.message = "the cache is closed";
      return h;
    }
    if constexpr (requires { S::kBackendName; }) h.store_backend = S::kBackendName;
    else h.store_backend = "custom";
    {
      std::shared_lock lock(state_mu_);
      h.index_backend = index_description();
    }
    try {
      const auto store_lock = lock_store();
      h.integrity_ok = store_.integrity_check();
      h.embedder_fingerprint_match = store_.read_meta("fingerprint") == embedder_.fingerprint();
      if (auto v = store_.read_meta("schema_version")) h.schema_version = std::atoi(v->c_str());
      h.entries = store_.count();
      h.namespaces = store_.list_namespaces().size();
      h.healthy = h.integrity_ok && h.embedder_fingerprint_match;
      if (!h.integrity_ok) h.message = "the store failed its integrity check";
      else if (!h.embedder_fingerprint_match) h.message = "the store's embedder fingerprint differs";
    } catch (const std::exception& e) {
      h.healthy = false;
      h.message = e.what();
    }
    return h;
  }

  // Applies other processes' changes now (get() does this by itself every sync_interval).
  void sync() {
    ensure_open();
    std::unique_lock lock(state_mu_);
    const auto store_lock = lock_store();
    ensure_open();
    sync_locked();
  }

  // Writes buffered accesses (last_accessed_at, access_count) to the store.
  void flush() {
    ensure_open();
    flush_touches();
  }

  // Writes the index sidecar now (see CacheOptions::index_path): the in-memory layers are
  // copied under the shared lock (gets go on; writes wait for the copy) and written outside
  // any lock to a temporary file that is renamed over the sidecar. Returns false when this
  // cache has no sidecar, or when the store history cannot be anchored yet (right after a
  // restore, before the first change). Throws CacheClosed, CheckpointError.
  bool persist_index() {
    ensure_open();
    return persist_sidecar(/*force=*/true);
  }

  // The sidecar path in use, or nullopt when the sidecar is off.
  const std::optional<std::filesystem::path>& index_path() const noexcept { return sidecar_path_; }

  // A consistent copy of the store at `path` (see the store's snapshot_to).
  void snapshot_to(const std::filesystem::path& path) {
    flush();
    const auto store_lock = lock_store();
    store_.snapshot_to(path);
  }

  // The maintenance kinds the store offers (e.g. "analyze", "compact", "checkpoint"); empty
  // when the store has no maintenance (see MaintainableStore).
  std::vector<std::string> maintenance_kinds() const {
    ensure_open();
    if constexpr (MaintainableStore<S>) {
      const auto store_lock = lock_store();
      return store_.maintenance_kinds();
    } else {
      return {};
    }
  }

  // Runs one maintenance kind on the store, after writing back buffered accesses. Throws
  // InvalidArgument for a kind the store does not offer, StoreError subclasses on failure.
  void run_maintenance(std::string_view kind) {
    flush();
    if constexpr (MaintainableStore<S>) {
      const auto store_lock = lock_store();
      store_.run_maintenance(kind);
    } else {
      throw InvalidArgument("this store offers no maintenance ('" + std::string(kind) +
                            "' requested). Remediation: check maintenance_kinds() first.");
    }
  }

  // Writes back buffered accesses, writes the index sidecar unless the one on disk already
  // reflects this state (a failure there goes to on_error, it is not thrown), and closes the
  // store. Idempotent. Afterwards every call throws CacheClosed.
  void close() {
    if (closed_.exchange(true)) return;
    {
      std::lock_guard lock(flusher_mu_);
      stop_flusher_ = true;
    }
    flusher_cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    if (verifier_.joinable()) verifier_.join();  // its verdict decides what may be persisted
    std::exception_ptr error;
    try {
      flush_touches();
    } catch (...) {
      error = std::current_exception();
    }
    try {
      persist_sidecar(/*force=*/false);
    } catch (const std::exception& e) {
      report_error(e, {});
    }
    std::unique_lock lock(state_mu_);  // no get is peeking at the store's counter (maybe_sync)
    const auto store_lock = lock_store();
    store_.close();
    if (error) std::rethrow_exception(error);
  }

  bool closed() const noexcept { return closed_.load(); }
  std::size_t dim() const noexcept { return dim_; }
  const CacheOptions& options() const noexcept { return options_; }

 private:
  static constexpr std::size_t kSyncBatch = 4096;
  static constexpr std::size_t kScanChangedRows = 16;  // upserted ids in a batch read by one scan
  static constexpr std::size_t kRebuildChunk = 8192;   // rows per bulk index insertion
  static constexpr std::size_t kTouchChunk = 128;      // touches per write-back transaction
  using Clock = std::chrono::steady_clock;

  Timestamp now() const { return options_.clock ? options_.clock() : detail::system_now(); }
  static Millis elapsed_ms(Clock::time_point started) {
    return std::chrono::duration_cast<Millis>(Clock::now() - started);
  }

  void ensure_open() const {
    if (closed_.load(std::memory_order_relaxed))
      throw CacheClosed("the cache is closed. Remediation: construct a new SemanticCache.");
  }

  // The checks of put() that do not depend on the response. Throws InvalidArgument.
  void validate_put_options(const PutOptions& options) const {
    if (options.ttl && options.ttl->count() <= 0)
      throw InvalidArgument("ttl must be positive. Remediation: pass a positive duration or no ttl.");
    if (options.embedding) (void)detail::to_unit_vector(*options.embedding, dim_, "PutOptions::embedding");
  }

  // The text of a stored row as the response cache keeps it; nullptr when the stored query is
  // not valid UTF-8 (a damaged row: it can match nothing).
  std::shared_ptr<const detail::Payload> payload_of(StoredEntry&& e, std::string normalized = {}) const {
    if (normalized.empty()) {
      try {
        normalized = normalize_query(e.query, options_.normalize);
      } catch (const InvalidArgument&) {
        return nullptr;
      }
    }
    return std::make_shared<const detail::Payload>(
        detail::Payload{std::move(e.query), std::move(normalized), std::move(e.response), std::move(e.metadata)});
  }

  // ---- get ---------------------------------------------------------------------------

  std::optional<Hit> lookup(std::string_view query, const std::string& ns, double threshold,
                            std::optional<std::vector<float>> supplied, Clock::time_point started) {
    maybe_sync();
    const std::string normalized = normalize_query(query, options_.normalize);
    const QueryHash hash = hash_bytes(normalized);
    const Timestamp t = now();
    const std::int64_t now_ms = detail::to_ms(t);
    std::optional<MissReason> reason;
    std::string guard_reason;  // the guard's first rejection, when reason is kGuarded

    // Exact layer.
    EntryId exact_id = 0;
    {
      std::shared_lock lock(state_mu_);
      if (detail::NamespaceState* space = state_.find_namespace(ns)) {
        if (const detail::SlotRef found = space->exact.find(hash)) {
          const detail::SlotRecord& record = *found.record;
          if (record.expires_ms <= now_ms) {
            reason = MissReason::kExpired;
          } else if (const detail::Payload* payload = state_.peek_payload(record.id)) {
            // A payload for another query with the same 128-bit hash is never served.
            if (payload->normalized == normalized) {
              if (!options_.confidence_fn) {  // fast path: confidence is 1 and always passes
                state_.record_access(*found.access, now_ms);
                space->counters.hits_exact.fetch_add(1, std::memory_order_relaxed);
                Hit hit = make_hit(*payload, ns, record.id, Layer::kExact, 1.0, 1.0,
                                   detail::saturating_sub(now_ms, record.created_ms));
                lock.unlock();
                return finish_hit(std::move(hit), started);
              }
              exact_id = record.id;
            }
          } else {
            exact_id = record.id;
          }
        }
      }
    }
    if (exact_id != 0) {
      if (auto hit = accept(exact_id, query, normalized, ns, 1.0, t, reason, guard_reason))
        return finish_hit(std::move(*hit), started);
    }

    // Semantic layer.
    const std::vector<float> embedding =
        supplied ? std::move(*supplied) : detail::to_unit_vector(embedder_.embed(query), dim_, "the embedder's output");
    struct Scored {
      EntryId id;
      double score;
      std::int64_t expires_ms;
      QueryHash hash;                                 // the key the in-memory state holds for id
      std::shared_ptr<const detail::Payload> loaded;  // read while re-scoring
    };
    std::vector<Scored> candidates;
    bool exact_scores = true;
    bool build_ready = false;
    {
      std::shared_lock lock(state_mu_);
      if (detail::NamespaceState* space = state_.find_namespace(ns)) {
        // Rows still unverified (a sidecar open, "The sidecar" in docs/architecture.md): the
        // candidates are re-scored from the store like quantized ones, so a damaged row can
        // at most keep its own entry out of the top k, never lend an entry a score.
        exact_scores = space->index.exact_scores() && !rows_unverified_.load(std::memory_order_acquire);
        build_ready = space->index.build_ready();
        for (const Candidate& c : space->index.search(embedding, options_.top_k)) {
          if (const auto ref = state_.find_id(c.id))
            candidates.push_back({c.id, c.score, ref->record->expires_ms, ref->record->hash, nullptr});
        }
      }
    }
    if (build_ready) finish_index_build(ns);
    if (!exact_scores) {
      // Approximate scores (quantized): re-score against the stored float32 vectors.
      for (Scored& c : candidates) {
        std::optional<StoredEntry> stored;
        {
          const auto store_lock = lock_store();
          stored = store_.get_by_id(c.id);
        }
        if (!stored || stored->ns != ns || stored->query_hash != c.hash || stored->embedding.size() != dim_) {
          c.score = -2.0;  // gone or replaced meanwhile: below every threshold
          continue;
        }
        c.score = detail::dot(stored->embedding, embedding);
        c.loaded = payload_of(std::move(*stored));
        if (!c.loaded) c.score = -2.0;
      }
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const Scored& a, const Scored& b) { return a.score > b.score; });
    }
    for (const Scored& c : candidates) {
      if (c.score < threshold) {
        if (!reason) reason = MissReason::kBelowThreshold;
        break;  // sorted: nothing further can pass
      }
      if (c.expires_ms <= now_ms) {
        if (!reason) reason = MissReason::kExpired;
        continue;
      }
      if (auto hit = accept(c.id, query, std::nullopt, ns, c.score, t, reason, guard_reason, c.loaded))
        return finish_hit(std::move(*hit), started);
    }
    return miss(ns, reason.value_or(MissReason::kNoCandidate), started, guard_reason);
  }

  // A namespace's background HNSW build has caught up: switch to it. Writes do this too; a
  // namespace that is only read switches here, on the first get that notices.
  void finish_index_build(const std::string& ns) {
    std::unique_lock lock(state_mu_);
    if (detail::NamespaceState* space = state_.find_namespace(ns); space && space->index.build_ready())
      space->index.finish_build();
  }

  // Loads the text of a candidate (`loaded` if the caller already read it, else the response
  // cache, else the store), checks that it is the row the in-memory state describes (namespace
  // and key; for an exact hit, the normalized query text itself), applies the guard and the
  // validator (to semantic candidates) and the confidence rules, and records the access. On
  // rejection sets `reason` (if unset; with the guard's reason in `guard_reason`) and returns
  // nullopt.
  //
  // A row read from the store is kept in the response cache only if the entry's generation
  // did not change during the read: a put or a sync that landed meanwhile holds newer text.
  std::optional<Hit> accept(EntryId id, std::string_view query, std::optional<std::string_view> exact_query,
                            const std::string& ns, double similarity, Timestamp t, std::optional<MissReason>& reason,
                            std::string& guard_reason, const std::shared_ptr<const detail::Payload>& loaded = nullptr) {
    const Layer layer = exact_query ? Layer::kExact : Layer::kSemantic;
    std::shared_ptr<const detail::Payload> payload;
    std::int64_t created_ms = 0;
    std::uint32_t generation = 0;
    QueryHash hash;
    {
      std::shared_lock lock(state_mu_);
      const auto ref = state_.find_id(id);
      if (!ref) return std::nullopt;  // removed meanwhile
      payload = loaded ? loaded : state_.cached_payload(id);
      created_ms = ref->record->created_ms;
      generation = ref->access->generation;
      hash = ref->record->hash;
    }
    if (!payload) {
      std::optional<StoredEntry> stored;
      {
        const auto store_lock = lock_store();
        stored = store_.get_by_id(id);
      }
      if (!stored || stored->ns != ns || stored->query_hash != hash) return std::nullopt;
      created_ms = detail::to_ms(stored->created_at);
      payload = payload_of(std::move(*stored));
      if (!payload) return std::nullopt;
      std::unique_lock lock(state_mu_);
      state_.cache_payload(id, generation, payload);
    }
    if (exact_query && payload->normalized != *exact_query) return std::nullopt;  // a hash collision
    if (layer == Layer::kSemantic && options_.guard) {
      GuardVerdict verdict = options_.guard(query, payload->query);
      if (!verdict.accept) {
        if (!reason) {
          reason = MissReason::kGuarded;
          guard_reason = verdict.reason.empty() ? std::string("guard") : std::move(verdict.reason);
        }
        return std::nullopt;
      }
    }
    if (layer == Layer::kSemantic && options_.validator && !options_.validator(payload->response)) {
      if (!reason) reason = MissReason::kRejected;
      return std::nullopt;
    }
    const Millis age(detail::saturating_sub(detail::to_ms(t), created_ms));
    const double confidence =
        options_.confidence_fn ? options_.confidence_fn(similarity, age, payload->metadata) : similarity;
    if (confidence < options_.min_confidence) {
      if (!reason) reason = MissReason::kLowConfidence;
      return std::nullopt;
    }
    std::shared_lock lock(state_mu_);
    const auto ref = state_.find_id(id);
    if (!ref) return std::nullopt;
    state_.record_access(*ref->access, detail::to_ms(t));
    auto& hits = layer == Layer::kExact ? ref->ns->counters.hits_exact : ref->ns->counters.hits_semantic;
    hits.fetch_add(1, std::memory_order_relaxed);
    return make_hit(*payload, ns, id, layer, similarity, confidence, age.count());
  }

  static Hit make_hit(const detail::Payload& payload, const std::string& ns, EntryId id, Layer layer, double similarity,
                      double confidence, std::int64_t age_ms) {
    return Hit{payload.response, similarity, confidence,    layer,         ns,
               payload.metadata, id,         payload.query, Millis(age_ms)};
  }

  std::optional<Hit> finish_hit(Hit hit, Clock::time_point started) {
    auto& hits = hit.layer == Layer::kExact ? total_.hits_exact : total_.hits_semantic;
    hits.fetch_add(1, std::memory_order_relaxed);
    get_latency_.record(Clock::now() - started);
    if (state_.pending_touches() >= options_.touch_batch) {
      if (flusher_.joinable()) {
        flusher_cv_.notify_one();
      } else {
        try {
          flush_touches();  // no background thread: the get that fills the batch writes it
        } catch (const std::exception& e) {
          report_error(e, hit.ns);
        }
      }
    }
    emit("hit",
         EventAttrs{.ns = hit.ns, .layer = hit.layer, .similarity = hit.similarity, .latency = elapsed_ms(started)});
    return hit;
  }

  // `guard_reason`: the guard's reason, for MissReason::kGuarded.
  std::optional<Hit> miss(const std::string& ns, MissReason reason, Clock::time_point started,
                          std::string_view guard_reason = {}) {
    const auto r = static_cast<std::size_t>(reason);
    const bool guarded = reason == MissReason::kGuarded;
    total_.misses[r].fetch_add(1, std::memory_order_relaxed);
    if (guarded) total_.guarded.add(guard_reason);
    {
      std::shared_lock lock(state_mu_);
      if (detail::NamespaceState* space = state_.find_namespace(ns)) {
        space->counters.misses[r].fetch_add(1, std::memory_order_relaxed);
        if (guarded) space->counters.guarded.add(guard_reason);
      }
    }
    get_latency_.record(Clock::now() - started);
    emit("miss", EventAttrs{.ns = ns, .reason = reason, .latency = elapsed_ms(started), .detail = guard_reason});
    return std::nullopt;
  }

  // ---- synchronization with the store -------------------------------------------------

  // One counter read (at most every sync_interval); applies the change feed when it moved.
  void maybe_sync() {
    if (options_.sync_interval.count() > 0) {
      const std::int64_t now_ns = Clock::now().time_since_epoch().count();
      const std::int64_t interval_ns = std::chrono::nanoseconds(options_.sync_interval).count();
      std::int64_t last = last_sync_check_ns_.load(std::memory_order_relaxed);
      if (now_ns - last < interval_ns) return;
      if (!last_sync_check_ns_.compare_exchange_strong(last, now_ns)) return;  // another thread checks
    }
    {
      std::unique_lock store_lock(store_mu_, std::try_to_lock);
      if (!store_lock.owns_lock()) {
        // The store is busy with this cache's own work (a touch write-back, a put, a re-score
        // read). A store that can vouch without I/O that nothing was committed since its last
        // counter read spares the wait; the shared state lock keeps close() out meanwhile.
        // The store publishes what it vouches for right after each of its own commits, so a
        // peek that lands between a commit and that publication is retried for a moment
        // before the get waits for the lock (which may be held for a whole slow write).
        if constexpr (PeekVersionStore<S>) {
          const auto give_up = Clock::now() + std::chrono::microseconds(200);
          do {
            {
              std::shared_lock lock(state_mu_);
              if (const auto v = store_.peek_version_counter(); v && *v == local_version_) return;
            }
            if (store_lock.try_lock()) break;
            std::this_thread::yield();
          } while (Clock::now() < give_up);
        }
        if (!store_lock.owns_lock()) store_lock = lock_store();
      }
      if (store_.read_version_counter() == local_version_) return;
    }
    std::unique_lock lock(state_mu_);
    const auto store_lock = lock_store();
    sync_locked();
  }

  void sync_if_moved_locked() {
    if (store_.read_version_counter() != local_version_) sync_locked();
  }

  // Applies every change after local_version_, or rebuilds when the feed cannot be trusted.
  // Needs both locks.
  void sync_locked() {
    if (store_.read_version_counter() < local_version_) {  // the store went back in time
      rebuild_locked();
      return;
    }
    for (;;) {
      auto changes = feed_after_local_locked();
      if (!changes) {
        rebuild_locked();
        return;
      }
      ChangedRows rows = read_changed_rows_locked(*changes);
      for (std::size_t i = 0; i < changes->size(); ++i) {
        const Change& change = (*changes)[i];
        if (change.kind == ChangeKind::kUpsert) {
          // An id's changes are upserts and at most one final delete (ids are never reused),
          // and each upsert reads the id's current row: applying it at the id's last upsert
          // in the batch leaves the same state as applying it at every one.
          if (rows.last_upsert.at(change.id) == i) {
            auto it = rows.found.find(change.id);
            if (it != rows.found.end()) apply_entry_locked(std::move(it->second));
            else remove_locked(change.id);  // deleted since
          }
        } else {
          remove_locked(change.id);
        }
        local_version_ = change.version;
        last_applied_ = change;
      }
      if (changes->size() < kSyncBatch) break;
    }
    syncs_.fetch_add(1, std::memory_order_relaxed);
    emit("sync", EventAttrs{});
  }

  // The current rows of the ids a batch of changes upserts (ids absent from `found` are
  // deleted), and the position of each id's last upsert in the batch.
  struct ChangedRows {
    std::unordered_map<EntryId, StoredEntry> found;
    std::unordered_map<EntryId, std::size_t> last_upsert;
  };

  // Reads them in one ascending iter_since scan from the smallest id when there are enough of
  // them (a catch-up after a sidecar open applies thousands: one scan instead of one get_by_id
  // each), the rest with get_by_id. The scan stops once it has seen every id, or after reading
  // as many rows nobody asked for as it was asked for (ids scattered over an old store), and
  // the ids past where it stopped are read one by one. Needs store_mu_.
  ChangedRows read_changed_rows_locked(const std::vector<Change>& changes) {
    ChangedRows out;
    std::vector<EntryId> want;
    for (std::size_t i = 0; i < changes.size(); ++i) {
      if (changes[i].kind != ChangeKind::kUpsert) continue;
      if (out.last_upsert.insert_or_assign(changes[i].id, i).second) want.push_back(changes[i].id);
    }
    std::sort(want.begin(), want.end());
    out.found.reserve(want.size());
    std::size_t next = 0;  // want[0, next) are read (or known deleted)
    if (want.size() >= kScanChangedRows) {
      std::size_t unwanted = 0;
      bool stopped = false;
      store_.iter_since(want.front() - 1, [&](const StoredEntry& e) {
        while (next < want.size() && want[next] < e.id) ++next;  // passed over: deleted
        if (next < want.size() && want[next] == e.id) {
          out.found.emplace(e.id, e);
          ++next;
        } else {
          ++unwanted;
        }
        stopped = next < want.size() && unwanted > want.size();
        return next < want.size() && !stopped;
      });
      if (!stopped) next = want.size();  // the scan reached the end: the rest are deleted
    }
    for (; next < want.size(); ++next)
      if (auto e = store_.get_by_id(want[next])) out.found.emplace(want[next], std::move(*e));
    return out;
  }

  // The change records after local_version_, or nullopt when they do not continue the history
  // this cache applied (the lineage rule of docs/store-contract.md): the store must still hold
  // the very record applied last as the first one after local_version_ - 1. A restore into a
  // live store, a Redis restart from an older RDB or a failover to a lagging replica rewrite
  // that history — versions and ids come back with other meanings — and the reader rebuilds
  // instead of following a feed that describes someone else's rows. nullopt also when the
  // store's retained feed no longer reaches back to local_version_.
  std::optional<std::vector<Change>> feed_after_local_locked() {
    if (!last_applied_) return store_.changes_since(local_version_, kSyncBatch);
    auto changes = store_.changes_since(local_version_ - 1, kSyncBatch + 1);
    if (!changes || changes->empty() || changes->front() != *last_applied_) return std::nullopt;
    changes->erase(changes->begin());
    return changes;
  }

  // Reloads the in-memory layers from the store, a namespace's rows at a time through the
  // index's bulk path. Needs both locks.
  void rebuild_locked() {
    write_touches_locked(state_.take_touches());
    ++state_epoch_;
    state_.clear();
    rows_unverified_.store(false, std::memory_order_release);  // nothing left from a sidecar
    const std::uint64_t version = store_.read_version_counter();
    // One namespace's rows on their way into the index: keys plus vectors, row-major, so the
    // index's bulk path reads them without another copy.
    struct Pending {
      std::vector<detail::RowKey> keys;
      std::vector<float> vectors;
      void load(detail::CacheState& state, const std::string& ns) {
        state.upsert_many(ns, keys, vectors);
        keys.clear();
        vectors.clear();
      }
    };
    std::map<std::string, Pending, std::less<>> pending;
    std::unordered_set<EntryId> was_quarantined;
    was_quarantined.swap(quarantined_);
    auto take = [&](EntryId id, const std::string& ns, const QueryHash& hash, Timestamp created_at,
                    std::optional<Millis> ttl, const std::vector<float>& embedding) {
      if (!usable_embedding(embedding)) {
        quarantine_locked(id, embedding, !was_quarantined.contains(id));
        return true;
      }
      auto it = pending.find(ns);
      if (it == pending.end()) it = pending.emplace(ns, Pending{}).first;
      Pending& p = it->second;
      p.keys.push_back({id, hash, created_at, ttl});
      p.vectors.insert(p.vectors.end(), embedding.begin(), embedding.end());
      if (p.keys.size() >= kRebuildChunk) p.load(state_, it->first);
      return true;
    };
    if constexpr (IndexRowStore<S>) {
      store_.iter_index_rows(
          [&](const IndexRow& r) { return take(r.id, r.ns, r.query_hash, r.created_at, r.ttl, r.embedding); });
    } else {
      store_.iter_all(
          [&](const StoredEntry& e) { return take(e.id, e.ns, e.query_hash, e.created_at, e.ttl, e.embedding); });
    }
    for (auto& [ns, rows] : pending) rows.load(state_, ns);
    local_version_ = version;
    // The record at `version` anchors the next sync's lineage check; a store whose history was
    // just reset by a restore has none (then the next sync trusts the feed from here on).
    last_applied_.reset();
    if (version > 0) {
      auto last = store_.changes_since(version - 1, 1);
      if (last && !last->empty() && last->front().version == version) last_applied_ = last->front();
    }
    rebuilds_.fetch_add(1, std::memory_order_relaxed);
    emit("rebuild", EventAttrs{});
  }

  // ---- the index sidecar ------------------------------------------------------------------

  // CacheOptions::index_path, else "<path>.engram-index" for a store on a file.
  std::optional<std::filesystem::path> resolve_sidecar_path() const {
    if (options_.index_path) {
      if (options_.index_path->empty()) return std::nullopt;
      return *options_.index_path;
    }
    if constexpr (requires(const S& s) {
                    { s.path() } -> std::convertible_to<std::filesystem::path>;
                  }) {
      std::filesystem::path p = store_.path();
      const std::string text = p.string();
      if (text.empty() || text == ":memory:" || text.starts_with("file:")) return std::nullopt;
      p += ".engram-index";
      return p;
    } else {
      return std::nullopt;
    }
  }

  // The store's identity (store meta engram.store_uuid), created on first use. Needs store_mu_.
  std::string store_uuid_locked() {
    if (auto uuid = store_.read_meta(detail::kStoreUuidKey); uuid && !uuid->empty()) return *uuid;
    store_.write_meta(detail::kStoreUuidKey, detail::random_uuid());
    // Another process may have written its own meanwhile: the stored one is the identity.
    return store_.read_meta(detail::kStoreUuidKey).value_or(std::string());
  }

  // Why the sidecar with header `h` cannot stand for this store's state; empty when it can (the
  // changes after its version are then applied through the feed). Needs store_mu_.
  std::string sidecar_mismatch(const detail::SidecarHeader& h, const std::string& uuid) {
    if (h.store_uuid != uuid)
      return "it belongs to another store (store UUID " + h.store_uuid + ", this store's is " + uuid + ")";
    if (h.fingerprint != embedder_.fingerprint())
      return "it was written with another embedder ('" + h.fingerprint + "')";
    if (h.dim != dim_) return "it holds vectors of dimension " + std::to_string(h.dim);
    if (h.element != options_.vectors)
      return std::string("it holds ") + to_string(h.element) + " vectors, the cache uses " +
             to_string(options_.vectors);
    if (h.index_kind != options_.index || h.hnsw_m != options_.hnsw.m ||
        h.hnsw_ef_construction != options_.hnsw.ef_construction || h.auto_threshold != options_.hnsw.auto_threshold)
      return "it was written with another index configuration (IndexKind, HnswParams)";
    const std::uint64_t counter = store_.read_version_counter();
    const std::string v = std::to_string(h.store_version);
    if (h.store_version > counter)
      return "it reflects store version " + v + " but the store is at version " + std::to_string(counter) +
             " (restored or replaced)";
    if (h.store_version == 0) {
      if (counter > 0 && !store_.changes_since(0, 1)) return "the store's change feed no longer reaches version 0";
      return {};
    }
    if (!h.last_applied) return "it has no change record to anchor version " + v;
    const auto record = store_.changes_since(h.store_version - 1, 1);
    if (!record)
      return "the store's change feed no longer reaches back to version " + v +
             " (the sidecar is further behind than the feed's retention)";
    if (record->empty() || record->front() != *h.last_applied)
      return "the store's history at version " + v + " is not the one it reflects (restored from a snapshot?)";
    return {};
  }

  // Opens the sidecar, checks it against the store and loads the in-memory layers from it,
  // then applies the store's changes since. False (the caller rebuilds) when there is none or
  // it was discarded. Needs both locks.
  bool load_sidecar_locked() {
    if (!sidecar_path_) return false;
    const auto started = std::chrono::steady_clock::now();
    std::string uuid;
    try {
      uuid = store_uuid_locked();
    } catch (const std::exception& e) {
      report_error(e, {});  // a store that cannot keep the identity gets no sidecar
      sidecar_path_.reset();
      return false;
    }
    std::shared_ptr<const detail::MappedSidecar> file;
    try {
      file = detail::MappedSidecar::open(*sidecar_path_);
    } catch (const std::exception& e) {
      discard_sidecar(e.what());
      return false;
    }
    if (!file) return false;
    const detail::SidecarHeader& h = file->header();
    std::string why = sidecar_mismatch(h, uuid);
    // Large row and HNSW level-0 sections are verified after the open, in the background;
    // every other section (header, directory, ids, id map, the rest of HNSW graphs, exact map,
    // quarantine) before any use.
    const bool background = file->rows_bytes() >= detail::sidecar_background_verify_bytes.load();
    using Sections = detail::MappedSidecar::Sections;
    if (why.empty()) why = file->verify(background ? Sections::kAllButRows : Sections::kAll);
    const auto checked = std::chrono::steady_clock::now();
    if (why.empty()) {
      if (auto quarantined = file->restore_into(state_, file)) {
        const auto restored = std::chrono::steady_clock::now();
        quarantined_ = std::unordered_set<EntryId>(quarantined->begin(), quarantined->end());
        local_version_ = h.store_version;
        last_applied_ = h.last_applied;
        persisted_version_.store(h.store_version);
        sidecar_loads_.fetch_add(1, std::memory_order_relaxed);
        if (background) {
          unverified_file_ = file;
          unverified_epoch_ = state_epoch_;
          rows_unverified_.store(true, std::memory_order_release);
        }
        const std::uint64_t behind = store_.read_version_counter() - h.store_version;
        sync_if_moved_locked();
        // Where the open went: detail is "checks A ms, restore B ms, catch-up C ms (N changes),
        // rows checked in the background|before"; latency is the whole load.
        const auto done = std::chrono::steady_clock::now();
        auto ms = [](auto d) { return std::to_string(std::chrono::duration<double, std::milli>(d).count()); };
        const std::string phases = "checks " + ms(checked - started) + " ms, restore " + ms(restored - checked) +
                                   " ms, catch-up " + ms(done - restored) + " ms (" + std::to_string(behind) +
                                   " changes), rows checked " + (background ? "in the background" : "before");
        emit("sidecar_load", EventAttrs{.latency = std::chrono::duration_cast<Millis>(done - started),
                                        .count = state_.entries(),
                                        .detail = phases});
        return true;
      }
      why = "its sections do not fit together";
    }
    state_.clear();
    quarantined_.clear();
    discard_sidecar("index sidecar '" + sidecar_path_->string() + "': " + why +
                    ". Remediation: none needed: the cache rebuilds its index from the store (and writes a new "
                    "sidecar on close).");
    return false;
  }

  // ---- background verification of a sidecar's rows ----
  //
  // Why a row verified after the open can never produce a wrong answer:
  //  - Until the verdict, rows_unverified_ makes every semantic get re-score its candidates
  //    from the store's own float32 embeddings (as for quantized layouts): the score that
  //    decides a hit is never computed from a sidecar row. A damaged row can only rank its own
  //    entry too low (a miss or a lesser hit that is a true hit on its own, as with an
  //    approximate index) until the verdict. The ids, id map, exact map and the graphs' labels
  //    are verified before the open returns, so every candidate is the entry the store holds
  //    (an HNSW graph's level 0 is in the background set; its links are checked separately
  //    before any search follows them, see GraphWithTail).
  //  - Nothing derived from the rows is persisted before the verdict: persist_sidecar waits.
  //  - A mismatch discards the whole restored state: the verifier rebuilds every layer from
  //    the store (unless something rebuilt it meanwhile, state_epoch_), counts a discard and
  //    reports it, so rows copied into private chunks since (copy-on-write) or an HNSW graph
  //    built from them go too.
  //  - close() joins the verifier before it persists or closes the store.

  // Starts the verification recorded by load_sidecar_locked (after the constructor's locks
  // are released); runs it inline if no thread can be started.
  void start_row_verifier() {
    if (!unverified_file_) return;
    auto file = std::move(unverified_file_);
    const std::uint64_t epoch = unverified_epoch_;
    {
      std::lock_guard lock(verify_mu_);
      verify_pending_ = true;
    }
    try {
      verifier_ = std::thread([this, file, epoch] { verify_rows(*file, epoch); });
    } catch (const std::system_error&) {
      verify_rows(*file, epoch);
    }
  }

  void verify_rows(const detail::MappedSidecar& file, std::uint64_t epoch) {
    // One thread: the open has returned and the process has its own work to do.
    const std::string why = file.verify(detail::MappedSidecar::Sections::kRowsOnly, /*threads=*/1);
    if (!why.empty()) {
      {
        std::unique_lock lock(state_mu_);
        const auto store_lock = lock_store();
        if (state_epoch_ == epoch) {
          try {
            rebuild_locked();
          } catch (const std::exception& e) {
            // Left empty and behind: the next sync replays the feed or rebuilds.
            state_.clear();
            ++state_epoch_;
            local_version_ = 0;
            last_applied_.reset();
            report_error(e, {});
          }
        }
      }
      discard_sidecar("index sidecar '" + sidecar_path_->string() + "': " + why +
                      " (found after the open, by the background check of its rows). Remediation: none needed: "
                      "the cache rebuilt its index from the store (and writes a new sidecar on close).");
    }
    rows_unverified_.store(false, std::memory_order_release);
    {
      std::lock_guard lock(verify_mu_);
      verify_pending_ = false;
    }
    verify_cv_.notify_all();
  }

  void await_row_verification() {
    std::unique_lock lock(verify_mu_);
    verify_cv_.wait(lock, [this] { return !verify_pending_; });
  }

  void discard_sidecar(const std::string& message) {
    rewrite_sidecar_.store(true);  // the file on disk is unusable: the next persist replaces it
    report_error(CheckpointError(message), {});
    // Counted after the report: whoever sees the count (a test waiting for the background
    // check) finds on_error called.
    sidecar_discards_.fetch_add(1, std::memory_order_release);
  }

  // The background flusher's test: enough changes since the last sidecar.
  bool sidecar_due() const {
    if (!sidecar_path_ || options_.index_persist_interval == 0) return false;
    std::shared_lock lock(state_mu_);
    const std::uint64_t persisted = persisted_version_.load();
    return local_version_ > persisted && local_version_ - persisted >= options_.index_persist_interval;
  }

  // Copies the layers under the shared lock and writes them outside it. Unless `force`, skips
  // the write when the sidecar on disk already reflects this state. Throws CheckpointError.
  bool persist_sidecar(bool force) {
    if (!sidecar_path_) return false;
    // Rows not yet verified must not be written under fresh checksums: wait for the verdict
    // (a damaged sidecar has been replaced by a rebuild by then).
    await_row_verification();
    std::lock_guard persist_lock(persist_mu_);
    detail::SidecarImage image;
    {
      std::shared_lock lock(state_mu_);
      detail::SidecarHeader& h = image.header;
      {
        const auto store_lock = lock_store();
        h.store_uuid = store_uuid_locked();
      }
      h.fingerprint = embedder_.fingerprint();
      h.dim = dim_;
      h.element = options_.vectors;
      h.index_kind = options_.index;
      h.hnsw_m = options_.hnsw.m;
      h.hnsw_ef_construction = options_.hnsw.ef_construction;
      h.auto_threshold = options_.hnsw.auto_threshold;
      h.store_version = local_version_;
      h.last_applied = last_applied_;
      // Right after a restore the store may have no record at its version: such a sidecar
      // could not be checked against the feed at open, so none is written until a change.
      if (h.store_version > 0 && !h.last_applied) return false;
      if (!force && !rewrite_sidecar_.load()) {
        if (const auto on_disk = detail::peek_sidecar(*sidecar_path_);
            on_disk && on_disk->store_uuid == h.store_uuid && on_disk->store_version == h.store_version &&
            on_disk->last_applied == h.last_applied && on_disk->fingerprint == h.fingerprint &&
            on_disk->element == h.element && on_disk->index_kind == h.index_kind) {
          persisted_version_.store(h.store_version);
          return false;
        }
      }
      image.namespaces = detail::capture_namespaces(state_);
      image.quarantined.assign(quarantined_.begin(), quarantined_.end());
    }
    const std::uint64_t bytes = detail::write_sidecar(*sidecar_path_, image);
    rewrite_sidecar_.store(false);
    persisted_version_.store(image.header.store_version);
    sidecar_writes_.fetch_add(1, std::memory_order_relaxed);
    emit("sidecar_write", EventAttrs{.count = static_cast<std::size_t>(bytes)});
    return true;
  }

  // Makes `e` (the current row of e.id) the in-memory state of that id. `normalized` is its
  // normalized query when the caller has it. Needs both locks.
  void apply_entry_locked(StoredEntry e, std::string normalized = {}) {
    if (!usable_embedding(e.embedding)) {
      state_.remove(e.id);
      quarantine_locked(e.id, e.embedding, !quarantined_.contains(e.id));
      return;
    }
    quarantined_.erase(e.id);
    state_.upsert({e.id, e.ns, e.query_hash, e.created_at, e.ttl, e.embedding});
    const EntryId id = e.id;
    if (auto payload = payload_of(std::move(e), std::move(normalized)))
      state_.cache_payload(id, state_.generation(id), std::move(payload));
  }

  void remove_locked(EntryId id) {
    state_.remove(id);
    quarantined_.erase(id);
  }

  // A row whose embedding cannot be indexed (another dimension, NaN or infinity): it is skipped
  // rather than failing every rebuild (which would turn each fail-open get into another failed
  // rebuild). It stays in the store; stats().quarantined counts it, on_error hears of it once.
  bool usable_embedding(const std::vector<float>& embedding) const {
    return embedding.size() == dim_ &&
           std::all_of(embedding.begin(), embedding.end(), [](float x) { return std::isfinite(x); });
  }

  void quarantine_locked(EntryId id, const std::vector<float>& embedding, bool report) {
    quarantined_.insert(id);
    if (!report) return;
    const std::string what =
        embedding.size() != dim_
            ? "an embedding of dimension " + std::to_string(embedding.size()) + ", expected " + std::to_string(dim_)
            : std::string("a non-finite embedding");
    report_error(StoreCorrupt("entry " + std::to_string(id) + " has " + what +
                              "; the cache skips it (quarantined, never served)." +
                              " Remediation: erase it, or restore the store from a snapshot."),
                 {});
  }

  // ---- eviction -------------------------------------------------------------------------

  // Evicts by LRU down to the namespace quota and the global max_entries. Needs both locks.
  void enforce_limits_locked(std::string_view ns) {
    if (const auto quota = store_.get_namespace_quota(ns)) {
      const detail::NamespaceState* space = state_.find_namespace(ns);
      const std::size_t held = space ? space->exact.size() : 0;
      if (held > *quota) evict_locked(held - *quota, ns);
    }
    if (options_.max_entries && state_.entries() > *options_.max_entries)
      evict_locked(state_.entries() - *options_.max_entries, std::nullopt);
  }

  void evict_locked(std::size_t overflow, std::optional<std::string_view> ns) {
    write_touches_locked(state_.take_touches());  // the store's LRU order must include our hits
    const std::vector<EntryId> victims = store_.iter_lru_ids(std::max(overflow, options_.eviction_batch), ns);
    for (EntryId id : victims) {
      if (const auto ref = state_.find_id(id)) ref->ns->counters.evictions.fetch_add(1, std::memory_order_relaxed);
    }
    const std::size_t removed = store_.delete_many(victims);
    total_.evictions.fetch_add(removed, std::memory_order_relaxed);
    sync_locked();
    emit("evict", EventAttrs{.ns = ns.value_or(std::string_view{}), .count = removed});
  }

  // ---- access write-back ----------------------------------------------------------------

  // The store lock, counted in store_waiters_ while the caller waits for it: the touch
  // write-back takes the lock chunk after chunk, and std::mutex is not fair, so without the
  // count it would re-take the lock before a woken get or put ran, again and again.
  std::unique_lock<std::mutex> lock_store() const {
    std::unique_lock lock(store_mu_, std::try_to_lock);
    if (lock.owns_lock()) return lock;
    store_waiters_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
    store_waiters_.fetch_sub(1, std::memory_order_relaxed);
    return lock;
  }

  // Between two write-back chunks: lets callers waiting for the store go first, for a bounded
  // time (a steady stream of them must not starve the write-back).
  void yield_to_store_waiters() const {
    const auto give_up = Clock::now() + std::chrono::milliseconds(5);
    while (store_waiters_.load(std::memory_order_relaxed) > 0 && Clock::now() < give_up) std::this_thread::yield();
  }

  void flush_touches() {
    std::vector<Touch> touches;
    {
      std::shared_lock lock(state_mu_);
      touches = state_.take_touches();
    }
    // One store transaction per kTouchChunk touches, the store lock released in between: a put
    // (which holds the exclusive state lock while it waits for the store) or a get that reads
    // the store waits for one chunk at most, never for the whole batch.
    const std::span<const Touch> all(touches);
    for (std::size_t i = 0; i < all.size(); i += kTouchChunk) {
      if (i > 0) yield_to_store_waiters();
      std::lock_guard store_lock(store_mu_);
      write_touches_locked(all.subspan(i, std::min(kTouchChunk, all.size() - i)));
      // Our commit changed the store's WAL header: re-read the counter (touches leave it
      // alone) so that gets arriving meanwhile can peek at it instead of waiting.
      if constexpr (PeekVersionStore<S>) (void)store_.read_version_counter();
    }
  }

  void write_touches_locked(std::span<const Touch> touches) {
    if (touches.empty()) return;
    if constexpr (TouchManyStore<S>) {
      store_.touch_many(touches);
    } else {
      for (const Touch& touch : touches)
        for (std::int64_t i = 0; i < touch.hits; ++i) store_.update_access(touch.id, touch.at);
    }
  }

  // Writes touches back every flush_interval, or sooner when touch_batch are pending.
  void flusher_loop() {
    std::unique_lock lock(flusher_mu_);
    while (!stop_flusher_) {
      if (state_.pending_touches() < options_.touch_batch) flusher_cv_.wait_for(lock, options_.flush_interval);
      if (stop_flusher_) break;
      lock.unlock();
      try {
        flush_touches();
      } catch (const std::exception& e) {
        report_error(e, {});
      }
      try {
        if (sidecar_due()) persist_sidecar(/*force=*/false);
      } catch (const std::exception& e) {
        report_error(e, {});
      }
      lock.lock();
    }
  }

  // ---- reporting --------------------------------------------------------------------------

  void report_error(const std::exception& e, std::string_view ns) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    if (options_.on_error) options_.on_error(e);
    emit("error", EventAttrs{.ns = ns, .detail = e.what()});
  }

  void emit(std::string_view event, const EventAttrs& attrs) const {
    if (options_.metrics_hook) options_.metrics_hook(event, attrs);
  }

  detail::NamespaceCounters& counters(detail::NamespaceState* space) { return space ? space->counters : total_; }

  static NamespaceStats snapshot(const detail::NamespaceCounters& c) {
    NamespaceStats s;
    s.hits_exact = c.hits_exact.load(std::memory_order_relaxed);
    s.hits_semantic = c.hits_semantic.load(std::memory_order_relaxed);
    s.puts = c.puts.load(std::memory_order_relaxed);
    s.evictions = c.evictions.load(std::memory_order_relaxed);
    s.expirations = c.expirations.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < kMissReasonCount; ++i)
      s.misses_by_reason[i] = c.misses[i].load(std::memory_order_relaxed);
    s.guarded_by_reason = c.guarded.snapshot();
    return s;
  }

  static double resolve_threshold(const CacheOptions& options, const E& embedder) {
    if (options.similarity_threshold) return *options.similarity_threshold;
    if constexpr (RecommendsThreshold<E>) {
      const auto recommended = static_cast<double>(embedder.recommended_threshold());
      detail::validate_threshold(recommended);
      return recommended;
    } else {
      return kDefaultSimilarityThreshold;
    }
  }

  std::string index_description() const {
    std::string out;
    for (const detail::NamespaceState* space : state_.namespaces()) {
      const std::string d = space->index.describe();
      if (out.find(d) == std::string::npos) out += (out.empty() ? "" : ",") + d;
    }
    return out.empty() ? std::string("flat-") + to_string(options_.vectors) : out;
  }

  S store_;
  E embedder_;
  CacheOptions options_;
  std::size_t dim_;
  double threshold_;  // similarity_threshold(), resolved once

  // Lock order: state_mu_ before store_mu_; never take state_mu_ while holding store_mu_.
  mutable detail::WriterPreferringMutex state_mu_;
  mutable std::mutex store_mu_;
  mutable std::atomic<int> store_waiters_{0};  // callers blocked in lock_store()
  detail::CacheState state_;                   // guarded by state_mu_
  std::uint64_t local_version_ = 0;            // written under both locks; read under either
  std::optional<Change> last_applied_;         // the record at local_version_, when known; both locks
  std::unordered_set<EntryId> quarantined_;    // rows skipped for unusable embeddings; both locks
  std::atomic<std::int64_t> last_sync_check_ns_{0};
  std::atomic<bool> closed_{false};

  detail::NamespaceCounters total_;
  std::atomic<std::uint64_t> syncs_{0}, rebuilds_{0}, errors_{0};
  std::atomic<std::uint64_t> sidecar_loads_{0}, sidecar_discards_{0}, sidecar_writes_{0};
  std::optional<std::filesystem::path> sidecar_path_;  // set in the constructor
  std::mutex persist_mu_;                              // one sidecar write at a time
  std::atomic<std::uint64_t> persisted_version_{0};    // store version of the last sidecar read or written
  std::atomic<bool> rewrite_sidecar_{false};           // the file on disk was discarded: replace it
  std::uint64_t state_epoch_ = 0;                      // +1 per rebuild; both locks
  // A sidecar whose rows are verified in the background (see start_row_verifier).
  std::shared_ptr<const detail::MappedSidecar> unverified_file_;  // constructor only
  std::uint64_t unverified_epoch_ = 0;
  std::atomic<bool> rows_unverified_{false};  // semantic candidates are re-scored meanwhile
  std::mutex verify_mu_;
  std::condition_variable verify_cv_;
  bool verify_pending_ = false;  // guarded by verify_mu_
  detail::LatencyWindow get_latency_, put_latency_;

  std::mutex inflight_mu_;
  std::unordered_map<std::string, std::shared_future<std::string>> inflight_;

  std::mutex flusher_mu_;
  std::condition_variable flusher_cv_;
  bool stop_flusher_ = false;
  std::thread verifier_;  // started after everything above is constructed
  std::thread flusher_;   // last: started after everything above is constructed
};

}  // namespace engram
