#pragma once
// RedisStore: an engram::Store kept in Redis, shared by every process (on any host) that
// opens the same server, database and key prefix. It is the store to use when a fleet of
// workers shares one cache: writers bump the version counter and append to the change feed
// inside one Lua script per write, and readers poll the counter and apply the feed.
//
// Thread safety: one RedisStore is one Redis connection and is NOT thread-safe (the Store
// contract lets the cache serialize calls into it). Use one handle per thread or per cache.
// Several handles, in one process or many, may use the same prefix at once: every multi-key
// write is one atomic Lua script, so id allocation, the row, the version bump and its change
// record are never seen half-done. A handle notices fork(): a child process that inherits a
// handle opens its own connection instead of sharing the parent's socket.
//
// Availability: the handle connects lazily and reconnects by itself. While Redis cannot be
// reached every call throws StoreUnavailable; the first call after Redis is back succeeds.
// A write that fails with StoreUnavailable may or may not have been applied (the server may
// have died after running it); repeating an insert is safe (it is an upsert on (ns, hash)).
//
// Key layout (all keys carry the hash tag "{prefix}", so one cache lives in one Redis Cluster
// slot; namespaces appear in key names only hex-encoded, so no two namespaces can collide):
// see docs/multi-process.md and the comment at the top of stores/redis/src/scripts.hpp.
//
// hiredis is an implementation detail: no hiredis header is included here.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engram/store.hpp"
#include "engram/types.hpp"

namespace engram {

// Where and how to reach the Redis server, and which cache inside it.
struct RedisOptions {
  std::string host = "127.0.0.1";               // TCP host name or address (ignored with unix_socket)
  int port = 6379;                              // TCP port, 1..65535 (ignored with unix_socket)
  std::string unix_socket;                      // path of a Unix socket; when non-empty, used instead of TCP
  std::string username;                         // ACL user for AUTH (Redis 6+); empty: the default user
  std::string password;                         // AUTH password; empty: no AUTH is sent
  int database = 0;                             // SELECT index, >= 0
  std::string key_prefix = "engram";            // non-empty, without '{' or '}'; one cache per prefix
  Millis connect_timeout{1000};                 // > 0
  Millis command_timeout{5000};                 // > 0; must exceed the longest script (bulk loads, clears)
  std::size_t change_feed_retention = 100'000;  // changes kept for readers; >= 1

  // "redis://host:port/db" or "unix:/path" plus the prefix: for messages, never the password.
  std::string describe() const;
};

class RedisStore {
 public:
  using Location = RedisOptions;
  static constexpr const char* kBackendName = "redis";  // reported by SemanticCache::health()

  // Validates the options (throws InvalidArgument: empty prefix or one containing braces,
  // port outside 1..65535, non-positive timeouts, zero retention, negative database). Does
  // not connect: the handle is unopened until open().
  explicit RedisStore(RedisOptions options = {});
  ~RedisStore();
  RedisStore(RedisStore&&) noexcept;
  RedisStore& operator=(RedisStore&&) noexcept;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  const RedisOptions& options() const noexcept;

  // ---- lifecycle ---------------------------------------------------------------------
  // Connects, then records fingerprint, dim and schema_version in meta on first use of the
  // prefix. Throws DimensionMismatch (checked first) or EmbedderMismatch when the prefix was
  // created with another dim or fingerprint, SchemaError when it was written by a newer
  // schema, StoreUnavailable when Redis cannot be reached, StoreError when authentication
  // or SELECT fails, CacheClosed after close().
  void open(std::string_view fingerprint, std::size_t dim);
  // Drops the connection. Idempotent, never throws. Every later call throws CacheClosed.
  void close() noexcept;

  // ---- lookup (each throws CacheClosed when not open, StoreUnavailable when Redis is
  // unreachable, StoreCorrupt when a row does not decode) ---------------------------------
  // The row stored for (ns, hash), or nullopt.
  std::optional<StoredEntry> get_by_hash(std::string_view ns, const QueryHash& hash) const;
  // The row with this id, or nullopt (also for ids <= 0).
  std::optional<StoredEntry> get_by_id(EntryId id) const;
  // Exact number of rows, in `ns` or in all namespaces.
  std::size_t count(std::optional<std::string_view> ns = {}) const;
  // Namespaces holding at least one row, sorted bytewise, distinct.
  std::vector<std::string> list_namespaces() const;

  // ---- iteration ---------------------------------------------------------------------
  // Up to n ids, oldest last_accessed_at first, ties by lower id; in `ns` or everywhere.
  std::vector<EntryId> iter_lru_ids(std::size_t n, std::optional<std::string_view> ns = {}) const;
  // Every row in ascending id, read in pages; rows written meanwhile may or may not appear.
  // Stops when the visitor returns false.
  void iter_all(const EntryVisitor& visit) const;
  // Rows with id > last_id, ascending.
  void iter_since(EntryId last_id, const EntryVisitor& visit) const;
  // Like iter_all, reading only id, ns, hash, created_at, ttl and embedding.
  void iter_index_rows(const IndexRowVisitor& visit) const;

  // ---- mutation (one atomic Lua script each; throw CacheClosed, StoreUnavailable) ------
  // Upsert on (entry.ns, entry.query_hash): a new row gets a fresh id, an existing row keeps
  // its id and takes every other field from `entry` (entry.id is ignored). One change each.
  // Returns the row's id. Throws InvalidArgument, writing nothing, when entry.embedding.size()
  // is not the dim given to open().
  EntryId insert(const StoredEntry& entry);
  // insert() for each entry, in order, in one script. Returns the ids in input order. Throws
  // InvalidArgument, writing nothing, when any embedding does not have open()'s dim.
  std::vector<EntryId> insert_many(std::span<const StoredEntry> entries);
  // last_accessed_at = now, access_count += 1; a missing id is a no-op; no version bump.
  void update_access(EntryId id, Timestamp now);
  // last_accessed_at = max(stored, at), access_count += hits, for each touch; unknown ids
  // are skipped; no version bump.
  void touch_many(std::span<const Touch> touches);
  // Returns true when the row existed and was removed (one change).
  bool delete_by_id(EntryId id);
  // Removes the listed rows (duplicates and unknown ids are ignored); returns rows removed.
  std::size_t delete_many(std::span<const EntryId> ids);
  // Removes rows with created_at + ttl <= now, in `ns` or everywhere; returns rows removed.
  std::size_t delete_expired(Timestamp now, std::optional<std::string_view> ns = {});
  // Removes every row of `ns`; returns rows removed.
  std::size_t clear_namespace(std::string_view ns);

  // ---- quotas, meta, coordination ------------------------------------------------------
  // Persisted in Redis, so every process sees them. No version bump.
  void set_namespace_quota(std::string_view ns, std::size_t max_entries);
  std::optional<std::size_t> get_namespace_quota(std::string_view ns) const;
  // 0 on a fresh prefix; the version of the latest change. One GET.
  std::uint64_t read_version_counter() const;
  std::optional<std::string> read_meta(std::string_view key) const;
  void write_meta(std::string_view key, std::string_view value);
  // Changes with version > `version`, ascending, at most `limit`; nullopt when the retained
  // feed no longer reaches back to version + 1, or when `version` is ahead of the counter.
  std::optional<std::vector<Change>> changes_since(std::uint64_t version, std::size_t limit) const;

  // ---- backup and integrity ------------------------------------------------------------
  // Cross-checks the keys of the prefix (rows against the id, LRU, expiry and hash indexes,
  // per-namespace counts, the feed against the counter, embedding sizes against dim).
  // False on any inconsistency, when Redis is unreachable or when not open. Never throws.
  bool integrity_check() const noexcept;
  // Writes a point-in-time copy of every row (consistent as of one version), the quotas,
  // the meta and the counter to `path` (the binary format in docs/multi-process.md) through
  // detail::DurableFileWriter: a new private (0600) temporary file beside `path` (a symlink
  // planted there is never followed), fsynced, renamed over `path`, directory fsynced; no
  // temporary file is left behind on failure. Throws CheckpointError when the file cannot be
  // written.
  void snapshot_to(const std::filesystem::path& path) const;
  // Loads a snapshot into `dest`, replacing whatever that prefix held, and returns an
  // unopened store on it.
  //
  // All or nothing: the file's header is checked before Redis is touched (a wrong magic is
  // refused after 12 bytes, whatever the file's size); the rows are then streamed, a batch
  // at a time, into a staging area under the prefix's hash tag ("{prefix}:s:<token>:...",
  // keys that expire after a day) while the checksum is computed, and only when the whole
  // file verified does one Lua script switch: delete every other key of the prefix and
  // rename the staging keys into place. Until that script runs every handle, reader and
  // writer on `dest` sees the old content; afterwards the new. A failure before the switch
  // (damaged file, out of memory, lost connection, crash) leaves `dest` as it was and the
  // staging keys are removed (or expire); run the restore again.
  //
  // Lineage (LINEAGE.md L2, L3): the next id becomes max(dest's next id and highest id,
  // snapshot's), read inside the switch so ids allocated by concurrent writers are counted;
  // when `dest` held any key, the counter becomes max(dest's counter, snapshot's) + 1, else
  // the snapshot's. The feed starts empty: changes_since(v) is nullopt for every v below the
  // new counter, so every attached reader rebuilds; later writes are ordinary records.
  //
  // Throws StoreCorrupt when the file is not a valid snapshot, CheckpointError when it cannot
  // be read or another restore into the prefix switched in first, StoreUnavailable when Redis
  // cannot be reached or refuses writes (OOM): in every case `dest` is unchanged.
  static RedisStore restore_from(const std::filesystem::path& src, RedisOptions dest);

  // The embedder identity recorded under `options`' prefix (what open() compares), read
  // with one HMGET and without writing anything; nullopt when the prefix has never been
  // opened. Lets tools open a store whose embedder they do not know. Throws InvalidArgument
  // (invalid options), StoreUnavailable (unreachable), StoreCorrupt (unreadable dim).
  struct RecordedIdentity {
    std::string fingerprint;
    std::size_t dim = 0;
  };
  static std::optional<RecordedIdentity> recorded_identity(const RedisOptions& options);

 private:
  struct Impl;
  Impl& impl() const;  // throws CacheClosed unless open
  std::unique_ptr<Impl> impl_;
};

static_assert(Store<RedisStore>);
static_assert(BulkInsertStore<RedisStore>);
static_assert(TouchManyStore<RedisStore>);
static_assert(IndexRowStore<RedisStore>);

}  // namespace engram
