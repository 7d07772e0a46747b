#pragma once
// SqliteStore: the embedded default store. One SQLite file (WAL mode, STRICT tables) holds the
// entries, the change feed, quotas and meta; several processes on one host may share it.
//
// Thread safety: one SqliteStore handle is NOT thread-safe (it owns one SQLite connection and
// its cached prepared statements); SemanticCache serializes every call into it. Distinct
// handles, in one process or many, may use the same file concurrently: writers serialize on
// SQLite's write lock (BEGIN IMMEDIATE, waiting up to SqliteOptions::busy_timeout), readers
// see only committed transactions and are never blocked by writers (WAL).
//
// Durability: synchronous=NORMAL in WAL mode. A process crash (even SIGKILL) never loses or
// half-applies a committed write; a power loss may lose the last few commits, never corrupt.
//
// Every write, its version bump and its change-log rows commit in one transaction. The
// version counter is a one-row table. read_version_counter() and get_namespace_quota() answer
// from a per-handle cache while the WAL-index header in the -shm file is unchanged (nothing
// committed since, by anyone), without a system call; otherwise one prepared SELECT (see
// stores/sqlite/README.md).
//
// The file is created with mode 0600 (its -wal and -shm files inherit the mode). An existing
// file keeps its mode. ":memory:" gives a private in-memory database: every handle is its own
// database and close() discards it, so it cannot be "reopened". A Location starting with
// "file:" is a SQLite URI; "file:NAME?mode=memory&cache=shared" is an in-memory database
// shared by every handle of this process while at least one connection to it is open (the
// way to reopen in-memory data; shared-cache locking turns a conflicting access into an
// immediate StoreUnavailable instead of a wait).
//
// Errors: SQLITE_BUSY past the timeout -> StoreUnavailable; SQLITE_CORRUPT / SQLITE_NOTADB or
// a file that is not an engram database -> StoreCorrupt; a schema newer than this build ->
// SchemaError; snapshot/restore/maintenance failures -> CheckpointError; anything else ->
// StoreError carrying SQLite's message. Every message names the file and ends with
// "Remediation: ...".

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engram/store.hpp"
#include "engram/types.hpp"

namespace engram {

struct SqliteOptions {
  // How long a call waits for another connection's write lock before it throws
  // StoreUnavailable. Also applies to the schema setup in open().
  Millis busy_timeout{5000};

  // Number of change-log rows kept for changes_since(). Older rows are pruned in the writing
  // transaction; a reader that falls further behind gets nullopt and rebuilds. The newest
  // record is always kept (0 behaves as 1), so changes_since(counter - 1) returns it
  // (LINEAGE.md L1). Each process prunes with its own setting.
  std::size_t change_log_retention = 100000;

  // integrity_check() runs PRAGMA integrity_check (also verifies every index against its
  // table; O(N log N)) instead of the default PRAGMA quick_check (O(N)).
  bool full_integrity_check = false;

  // ---- performance (per connection; none changes durability) ----
  // Page cache in KiB (PRAGMA cache_size = -N). Big enough that an insert_many of ~10,000
  // entries does not spill pages to the WAL before it commits.
  std::size_t cache_size_kib = std::size_t{32} * 1024;
  // Bytes of the database file read through mmap instead of pread (PRAGMA mmap_size); 0 off.
  // Off by default: measured slower here (a lookup after another connection's commit took
  // ~2x longer with 256 MiB mapped), and a mapped file turns I/O errors into SIGBUS.
  std::size_t mmap_size = 0;
  // WAL pages after which a commit checkpoints (PRAGMA wal_autocheckpoint). Larger: fewer,
  // longer checkpoints (each costs two fdatasync) and a larger -wal file between them. The
  // -wal file is truncated back to twice this many pages when the WAL restarts after a burst.
  std::size_t wal_autocheckpoint_pages = 16000;
  // Run those checkpoints on a background thread with a connection of its own (PASSIVE: it
  // never takes the write lock nor waits for readers) instead of inside the commit that
  // crosses wal_autocheckpoint_pages: a put or touch write-back then never pays the tens to
  // hundreds of milliseconds of copying and fdatasync a checkpoint costs. The thread starts
  // on the first commit that crosses the threshold. false: SQLite's own autocheckpoint.
  bool background_checkpoint = true;
};

// Counters of the version/quota cache, for tests and diagnostics: how many calls were answered
// by a real SELECT and how many from the cache.
struct SqlitePollStats {
  std::uint64_t version_reads = 0;
  std::uint64_t version_cached = 0;
  std::uint64_t quota_reads = 0;
  std::uint64_t quota_cached = 0;
  std::uint64_t background_checkpoints = 0;  // run by SqliteOptions::background_checkpoint's thread
};

// The schema version this build writes and understands. Older files are migrated forward on
// open(); newer ones are refused with SchemaError.
inline constexpr int kSqliteSchemaVersion = 2;

class SqliteStore {
 public:
  using Location = std::filesystem::path;
  static constexpr const char* kBackendName = "sqlite";  // reported by SemanticCache::health()

  // Does not touch the file; open() does. `path` may be ":memory:" or a "file:" URI.
  explicit SqliteStore(std::filesystem::path path, SqliteOptions options = {});
  ~SqliteStore();
  SqliteStore(SqliteStore&&) noexcept;
  SqliteStore& operator=(SqliteStore&&) noexcept;  // closes the handle being replaced
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  const std::filesystem::path& path() const noexcept;
  const SqliteOptions& options() const noexcept;
  bool is_open() const noexcept;

  // ---- 1, 2: lifecycle ------------------------------------------------------------------

  // Creates the file (mode 0600) if missing, sets WAL / synchronous=NORMAL / busy timeout,
  // creates or migrates the schema, records fingerprint and dim on first open.
  // A file that is not an engram database (another program's SQLite database, a text file) is
  // recognised by reads alone and refused before anything is written to it: its bytes, its
  // modification time and its journal mode stay as they were.
  // Throws InvalidArgument (empty path), DimensionMismatch (dim differs; checked first),
  // EmbedderMismatch (fingerprint differs), SchemaError (file newer than this build, or a
  // migration failed), StoreCorrupt (garbage, truncated, or not an engram database),
  // StoreUnavailable (busy past the timeout), StoreError (cannot create/open the file),
  // CacheClosed (the handle was closed: a closed handle stays closed, make a new one).
  // A failed open leaves the handle as it was (unopened, or open on its previous
  // connection). Opening an open handle re-runs the checks on a fresh connection.
  void open(std::string_view fingerprint, std::size_t dim);

  // Idempotent; releases the connection (the last connection to close checkpoints the WAL
  // into the file). Afterwards every method except close() and integrity_check() throws
  // CacheClosed, open() included. Never throws.
  void close() noexcept;

  // ---- 3-6: lookup (throw CacheClosed when not open, StoreError subclasses) -------------

  // The entry with (ns, hash), or nullopt.
  std::optional<StoredEntry> get_by_hash(std::string_view ns, const QueryHash& hash) const;
  // The entry with this id, or nullopt.
  std::optional<StoredEntry> get_by_id(EntryId id) const;
  // Exact number of entries in `ns`, or in total.
  std::size_t count(std::optional<std::string_view> ns = {}) const;
  // Distinct namespaces that hold at least one entry, sorted bytewise.
  std::vector<std::string> list_namespaces() const;

  // ---- 7-9: iteration -------------------------------------------------------------------

  // Up to n ids, oldest last_accessed_at first, ties by lower id.
  std::vector<EntryId> iter_lru_ids(std::size_t n, std::optional<std::string_view> ns = {}) const;
  // Every entry in ascending id order (one consistent snapshot); stops when visit returns
  // false. The visitor may call other methods of this store.
  void iter_all(const EntryVisitor& visit) const;
  // Entries with id > last_id, ascending.
  void iter_since(EntryId last_id, const EntryVisitor& visit) const;

  // ---- 10-14, 24: mutation --------------------------------------------------------------

  // Upsert on (ns, query_hash); entry.id is ignored. An existing row keeps its id and takes
  // every other field from `entry`. Returns the id. Row, version bump and change-log row
  // commit in one transaction. Throws InvalidArgument, writing nothing, when
  // entry.embedding.size() differs from the dim given to open().
  EntryId insert(const StoredEntry& entry);
  // last_accessed_at = now, access_count += 1; unknown id is a no-op; no version bump.
  void update_access(EntryId id, Timestamp now);
  // True if the row existed and was removed (one change, version bumped).
  bool delete_by_id(EntryId id);
  // Removes entries with created_at + ttl <= now (in `ns` if given); returns how many.
  std::size_t delete_expired(Timestamp now, std::optional<std::string_view> ns = {});
  // Removes every entry of `ns`; returns how many.
  std::size_t clear_namespace(std::string_view ns);
  // Removes the given ids in one transaction; returns rows removed (unknown ids skipped).
  std::size_t delete_many(std::span<const EntryId> ids);

  // ---- 15, 16: quotas (persisted, no version bump) --------------------------------------

  void set_namespace_quota(std::string_view ns, std::size_t max_entries);
  // Cached like read_version_counter().
  std::optional<std::size_t> get_namespace_quota(std::string_view ns) const;

  // ---- 17-19: coordination --------------------------------------------------------------

  // Version of the latest change; 0 on a fresh store. Served from a cache while nothing has
  // been committed to the file since it was read (checked on the -shm WAL-index header, no
  // system call); otherwise one prepared SELECT of a one-row table.
  std::uint64_t read_version_counter() const;
  // The value the last read_version_counter() returned, if nothing has been committed to the
  // file since (the WAL-index header is unchanged) or this handle's own write transaction took
  // the write lock at that header and still holds it (nobody else can commit meanwhile, and
  // the transaction's own changes are not yet the store's); nullopt otherwise, in memory, or
  // before the first read. Unlike every other method it may run while another thread uses
  // this store (it reads the mapped header and a small mutex-protected copy, nothing else);
  // the handle must stay open meanwhile. PeekVersionStore.
  std::optional<std::uint64_t> peek_version_counter() const noexcept;
  std::optional<std::string> read_meta(std::string_view key) const;
  // Stores key -> value (no version bump). Throws InvalidArgument for "schema_version",
  // which only migrations may change.
  void write_meta(std::string_view key, std::string_view value);

  // ---- 20-22: integrity and backup ------------------------------------------------------

  // The embedder identity an existing engram database records (what open() compares), read
  // without opening the store and without writing anything; nullopt when `path` does not
  // exist or has never been opened by an embedder. Lets tools open a file whose embedder they
  // do not know. Throws StoreCorrupt when the file is not an engram database.
  struct RecordedIdentity {
    std::string fingerprint;
    std::size_t dim = 0;
  };
  static std::optional<RecordedIdentity> recorded_identity(const std::filesystem::path& path);

  // PRAGMA quick_check (or integrity_check, see SqliteOptions) returned "ok". False when
  // closed or on any error; never throws.
  bool integrity_check() const noexcept;
  // Writes a consistent point-in-time copy of the database to `dest` using SQLite's online
  // backup API; other handles may keep writing meanwhile. The copy is written to a temporary
  // file beside `dest` and renamed into place, so `dest` is never half-written. The snapshot
  // carries an XXH3-128 digest of its whole logical content (every row of every table, the
  // schema, quotas, meta, counter, change log and id sequence) in a table of its own,
  // engram_snapshot, which restore_from() checks.
  // Throws InvalidArgument (dest is this store's own file), CheckpointError.
  void snapshot_to(const std::filesystem::path& dest) const;

  struct RestoreOptions {
    // Replace a destination that exists but is not an engram database (another program's
    // SQLite database, a text file, garbage). Without it such a destination is refused with
    // StoreCorrupt and left exactly as it was.
    bool force = false;
    // Accept a snapshot without a checksum (written by an engram older than snapshot
    // checksums, or a database file that snapshot_to() did not write). Such a file is refused
    // by default: PRAGMA quick_check does not read record contents, so a flipped bit inside a
    // row would be restored silently. Set it only for a file you trust.
    bool accept_unverified = false;
  };

  // Restores the snapshot `src` into `dest` and returns an unopened SqliteStore at `dest`
  // with `options`. Order of work:
  //  1. `dest` is inspected by reads alone. An existing file that is not an engram database
  //     is refused (StoreCorrupt, nothing written) unless `how.force`.
  //  2. `src` is copied to a private temporary file beside `dest` and verified there: engram's
  //     application id, a schema this build can read (newer: SchemaError), PRAGMA quick_check,
  //     and the recorded digest against the content (mismatch: StoreCorrupt). A snapshot
  //     without a digest is refused (CheckpointError) unless `how.accept_unverified`. Until
  //     here nothing at `dest` is touched; any failure leaves it exactly as it was.
  //  3. A live engram database (or an empty one) at `dest` is rewritten in ONE transaction
  //     under its write lock, so handles in any process that have it open see the old or the
  //     new content, never a mix. A missing, damaged or forcibly replaced `dest` is built in a
  //     new file beside it and renamed over it (its -wal/-shm/-journal are removed first).
  // Lineage (LINEAGE.md L2, L3): ids continue above every id ever allocated in the snapshot or
  // at `dest`. When `dest` held an engram store, the counter becomes
  // N = max(dest's counter, snapshot's counter) + 1 and the change log starts empty at N, so
  // changes_since(v) is nullopt for every v < N and every attached reader rebuilds; a damaged
  // dest whose counter cannot be read moves counter and ids 2^40 past the snapshot's. A new
  // or empty location keeps the snapshot's counter and change feed.
  // Throws InvalidArgument (dest is empty, ":memory:", a URI, not a regular file, or src
  // itself), CheckpointError (src missing or unverifiable, copy failed), StoreCorrupt (src
  // damaged, not an engram snapshot or not matching its digest; dest not an engram database),
  // SchemaError (src newer than this build), StoreUnavailable (dest's write lock busy past
  // the timeout).
  static SqliteStore restore_from(const std::filesystem::path& src, Location dest, SqliteOptions options = {});
  static SqliteStore restore_from(const std::filesystem::path& src, Location dest, SqliteOptions options,
                                  RestoreOptions how);

  // ---- 23: change feed ------------------------------------------------------------------

  // Changes with version > `version`, ascending, at most `limit`; nullopt when the retained
  // log no longer reaches back to version + 1 or when `version` is ahead of the counter.
  std::optional<std::vector<Change>> changes_since(std::uint64_t version, std::size_t limit) const;

  // ---- refinements ----------------------------------------------------------------------

  // insert() for each entry in one transaction (one change each); ids in input order. One
  // embedding of the wrong size refuses the whole batch (InvalidArgument, nothing written).
  std::vector<EntryId> insert_many(std::span<const StoredEntry> entries);
  // One transaction: last_accessed_at = max(stored, at), access_count += hits; unknown ids
  // are skipped; no version bump.
  void touch_many(std::span<const Touch> touches);
  // id, ns, hash, created_at, ttl, embedding of every entry, ascending id.
  void iter_index_rows(const IndexRowVisitor& visit) const;
  // {"analyze", "checkpoint", "compact"}.
  std::vector<std::string> maintenance_kinds() const;
  // backend, path, sqlite_version, schema_version, page_size, page_count, freelist_count,
  // journal_mode, change_log_rows, file_bytes, wal_bytes (0 in memory), and last_<kind>
  // for each maintenance kind (ms since the epoch of the last successful start, or "never").
  std::map<std::string, std::string> maintenance_state() const;
  // "analyze" -> ANALYZE; "checkpoint" -> PRAGMA wal_checkpoint(TRUNCATE); "compact" ->
  // VACUUM. Records the run time in meta ("maintenance.last_<kind>"; restored if the run
  // fails). No version bump. Throws InvalidArgument (unknown kind), StoreUnavailable (busy,
  // or a checkpoint that readers kept from finishing), StoreCorrupt, CheckpointError.
  void run_maintenance(std::string_view kind);

  // How often the version counter and quotas were read for real vs. served from the cache
  // (this handle, since open). Zeroes when closed.
  SqlitePollStats poll_stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::filesystem::path path_;
  SqliteOptions options_;
  bool closed_ = false;  // close() was called (or this handle was moved from)

  Impl& live() const;  // the open connection, or throws CacheClosed
};

static_assert(Store<SqliteStore>);
static_assert(BulkInsertStore<SqliteStore>);
static_assert(TouchManyStore<SqliteStore>);
static_assert(IndexRowStore<SqliteStore>);
static_assert(MaintainableStore<SqliteStore>);

}  // namespace engram
