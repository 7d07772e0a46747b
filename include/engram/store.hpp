#pragma once
// The Store concept: the 24 methods a backing store implements so that
// SemanticCache<Store, Embedder> can use it. The full contract, one requirement per row with
// the battery test that checks it, is docs/store-contract.md; the compliance battery in
// <engram/conformance/battery.hpp> proves a store meets it.
//
// The concept is split into named groups so that a compiler error names the group a type
// fails (e.g. "StoreChangeFeed<MyStore> not satisfied"). A Store need not be thread-safe:
// the cache serializes every call into it. Reads are const. Every method may throw a
// StoreError subclass (see errors.hpp), except integrity_check(), which is noexcept.
//
// Conventions every store follows:
//  - open() records the embedder fingerprint and dimension as meta keys "fingerprint" and
//    "dim" (and its schema version as "schema_version" when it has one).
//  - Each upsert or deleted row is one Change with its own version; the version counter
//    equals the version of the latest change (0 on a fresh store). update_access, touches,
//    quotas and meta do not move it.
//  - Namespaces are arbitrary byte strings, compared exactly ("a" and "a:b" are unrelated).
//  - Optional: `static constexpr const char* kBackendName` names the backend in
//    SemanticCache::health() (otherwise "custom").

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engram/types.hpp"

namespace engram {

// 1 open, 2 close. open(fingerprint, dim): creates the schema if missing; the first open
// records fingerprint and dim; a later open with another dim throws DimensionMismatch
// (checked first), with another fingerprint EmbedderMismatch. close() is idempotent; after it
// every other method throws CacheClosed. Calls before open() also throw CacheClosed.
template <class S>
concept StoreLifecycle = std::move_constructible<S> && requires(S& s, std::string_view fingerprint, std::size_t dim) {
  { s.open(fingerprint, dim) } -> std::same_as<void>;
  { s.close() } -> std::same_as<void>;
};

// 3 get_by_hash, 4 get_by_id, 5 count, 6 list_namespaces.
template <class S>
concept StoreLookup = requires(const S& s, std::string_view ns, const QueryHash& hash, EntryId id,
                               std::optional<std::string_view> maybe_ns) {
  { s.get_by_hash(ns, hash) } -> std::same_as<std::optional<StoredEntry>>;
  { s.get_by_id(id) } -> std::same_as<std::optional<StoredEntry>>;
  { s.count(maybe_ns) } -> std::same_as<std::size_t>;
  { s.count() } -> std::same_as<std::size_t>;
  { s.list_namespaces() } -> std::same_as<std::vector<std::string>>;
};

// 7 iter_lru_ids, 8 iter_all, 9 iter_since.
template <class S>
concept StoreIteration = requires(const S& s, std::size_t n, std::optional<std::string_view> maybe_ns, EntryId last_id,
                                  EntryVisitor visit) {
  { s.iter_lru_ids(n, maybe_ns) } -> std::same_as<std::vector<EntryId>>;
  { s.iter_lru_ids(n) } -> std::same_as<std::vector<EntryId>>;
  { s.iter_all(visit) } -> std::same_as<void>;
  { s.iter_since(last_id, visit) } -> std::same_as<void>;
};

// 10 insert, 11 update_access, 12 delete_by_id, 13 delete_expired, 14 clear_namespace,
// 24 delete_many.
template <class S>
concept StoreMutation = requires(S& s, const StoredEntry& entry, EntryId id, Timestamp now, std::string_view ns,
                                 std::optional<std::string_view> maybe_ns, std::span<const EntryId> ids) {
  { s.insert(entry) } -> std::same_as<EntryId>;
  { s.update_access(id, now) } -> std::same_as<void>;
  { s.delete_by_id(id) } -> std::same_as<bool>;
  { s.delete_expired(now, maybe_ns) } -> std::same_as<std::size_t>;
  { s.delete_expired(now) } -> std::same_as<std::size_t>;
  { s.clear_namespace(ns) } -> std::same_as<std::size_t>;
  { s.delete_many(ids) } -> std::same_as<std::size_t>;
};

// 15 set_namespace_quota, 16 get_namespace_quota.
template <class S>
concept StoreQuotas = requires(S& s, const S& cs, std::string_view ns, std::size_t max_entries) {
  { s.set_namespace_quota(ns, max_entries) } -> std::same_as<void>;
  { cs.get_namespace_quota(ns) } -> std::same_as<std::optional<std::size_t>>;
};

// 17 read_version_counter, 18 read_meta, 19 write_meta.
template <class S>
concept StoreCoordination = requires(S& s, const S& cs, std::string_view key, std::string_view value) {
  { cs.read_version_counter() } -> std::same_as<std::uint64_t>;
  { cs.read_meta(key) } -> std::same_as<std::optional<std::string>>;
  { s.write_meta(key, value) } -> std::same_as<void>;
};

// 20 integrity_check, 21 snapshot_to, 22 restore_from.
template <class S>
concept StoreBackup = requires(const S& cs, const std::filesystem::path& path, typename S::Location dest) {
  { cs.integrity_check() }
  noexcept->std::same_as<bool>;
  { cs.snapshot_to(path) } -> std::same_as<void>;
  { S::restore_from(path, dest) } -> std::same_as<S>;
};

// 23 changes_since: every change with version > `version`, ascending, at most `limit`;
// nullopt when the retained log no longer reaches back to version + 1, or when `version` is
// ahead of the counter (the store was replaced): the reader must rebuild.
template <class S>
concept StoreChangeFeed = requires(const S& cs, std::uint64_t version, std::size_t limit) {
  { cs.changes_since(version, limit) } -> std::same_as<std::optional<std::vector<Change>>>;
};

template <class S>
concept Store = StoreLifecycle<S> && StoreLookup<S> && StoreIteration<S> && StoreMutation<S> && StoreQuotas<S> &&
    StoreCoordination<S> && StoreBackup<S> && StoreChangeFeed<S>;

// ---- Optional refinements, detected by the cache and used when present -------------------

// Bulk load in one transaction; returns the ids in input order (upsert rules as insert()).
template <class S>
concept BulkInsertStore = Store<S> && requires(S& s, std::span<const StoredEntry> entries) {
  { s.insert_many(entries) } -> std::same_as<std::vector<EntryId>>;
};

// Batched access write-back in one transaction; unknown ids are skipped; no version bump.
template <class S>
concept TouchManyStore = Store<S> && requires(S& s, std::span<const Touch> touches) {
  { s.touch_many(touches) } -> std::same_as<void>;
};

// A store that can tell, without I/O and while another thread is using it, that its version
// counter is still the value last read: peek_version_counter() returns that value when nothing
// has been committed to the store since (by anyone; a write of this store's own that is still
// in flight has not committed yet), nullopt when it cannot vouch. The cache uses it so that a
// get never waits for this process's own store work (a touch write-back, a put) just to learn
// that nothing changed.
template <class S>
concept PeekVersionStore = Store<S> && requires(const S& cs) {
  { cs.peek_version_counter() } -> std::same_as<std::optional<std::uint64_t>>;
};

// Index rebuild reading only id, ns, hash, created_at, ttl and embedding, ascending id.
template <class S>
concept IndexRowStore = Store<S> && requires(const S& cs, IndexRowVisitor visit) {
  { cs.iter_index_rows(visit) } -> std::same_as<void>;
};

// Maintenance: maintenance_kinds() lists what run_maintenance(kind) accepts (reserved names:
// "analyze", "compact", "reindex", "checkpoint"); an unknown kind throws InvalidArgument.
// maintenance_state() reports facts as key/value text (page counts, last run, ...).
template <class S>
concept MaintainableStore = Store<S> && requires(S& s, const S& cs, std::string_view kind) {
  { cs.maintenance_kinds() } -> std::same_as<std::vector<std::string>>;
  { cs.maintenance_state() } -> std::same_as<std::map<std::string, std::string>>;
  { s.run_maintenance(kind) } -> std::same_as<void>;
};

}  // namespace engram
