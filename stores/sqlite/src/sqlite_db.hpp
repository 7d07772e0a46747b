#pragma once
// Internal to engram::sqlite: a thin RAII layer over one sqlite3 connection: error mapping,
// a per-connection cache of prepared statements, and a statement guard that always leaves a
// cached statement reset with its bindings cleared. Not installed; not thread-safe.

#include <sqlite3.h>

#include <sys/types.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engram/stores/sqlite_store.hpp"
#include "engram/types.hpp"
#include "sqlite_vfs.hpp"

namespace engram::detail {

// 'Engr': PRAGMA application_id of every engram database, so a foreign SQLite file is
// recognised without reading any table.
inline constexpr std::int32_t kSqliteApplicationId = 0x456E6772;

// Throws the engram exception matching a SQLite result code: BUSY/LOCKED ->
// StoreUnavailable, CORRUPT/NOTADB -> StoreCorrupt, anything else -> StoreError. `what` says
// what was being done; `file` names the database. `busy_timeout_ms` goes into the busy
// message so the reader knows how long we waited.
[[noreturn]] void throw_sqlite(int rc, std::string_view sqlite_message, const std::string& file, std::string_view what,
                               std::int64_t busy_timeout_ms);

// Every cached statement, by purpose. The SQL lives in sqlite_store.cpp beside its users.
enum class Sql : std::size_t {
  kBegin,
  kBeginImmediate,
  kCommit,
  kRollback,
  kReadVersion,
  kReadState,
  kWriteState,
  kInsertChange,
  kInsertChanges,  // kChangeChunk change rows in one statement
  kPruneChanges,
  kChangesSince,
  kGetById,
  kGetByHash,
  kCountAll,
  kCountNs,
  kListNamespaces,
  kLruAll,
  kLruNs,
  kIterSince,
  kIndexRows,
  kUpsert,
  kIdByHash,
  kUpdateAccess,
  kTouch,
  kDeleteId,
  kDeleteExpiredAll,
  kDeleteExpiredNs,
  kClearNamespace,
  kSetQuota,
  kGetQuota,
  kReadMeta,
  kWriteMeta,
  kCount_,  // number of statements, not a statement
};

const char* sql_text(Sql id) noexcept;

// Rows per Sql::kInsertChanges statement.
inline constexpr std::size_t kChangeChunk = 50;

class Db;

// A prepared statement in use. For a cached statement the destructor resets it and clears
// its bindings (so blobs bound without copying are never referenced after the call); for a
// one-off statement it finalizes. Bound text/blob data must outlive the guard.
class Stmt {
 public:
  Stmt(const Db& db, sqlite3_stmt* stmt, bool owned) noexcept : db_(&db), stmt_(stmt), owned_(owned) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int index, std::int64_t value);
  Stmt& bind_null(int index);
  Stmt& bind_text(int index, std::string_view text);                // no copy
  Stmt& bind_blob(int index, const void* data, std::size_t bytes);  // no copy
  Stmt& bind_blob(int index, std::string_view bytes) { return bind_blob(index, bytes.data(), bytes.size()); }

  // True when a row is available, false when done; throws on error.
  bool step();
  // Steps until done (for statements whose rows are not needed).
  void run();

  std::int64_t column_int(int col) const noexcept { return sqlite3_column_int64(stmt_, col); }
  bool column_is_null(int col) const noexcept { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  // Raw bytes of a TEXT or BLOB column (embedded NULs preserved).
  std::string column_bytes(int col) const;
  std::string_view column_view(int col) const noexcept;  // valid until the next step/reset

 private:
  const Db* db_;
  sqlite3_stmt* stmt_;
  bool owned_;
};

// One connection. Owns the cached statements and finalizes them before closing.
class Db {
 public:
  Db(std::string file, std::int64_t busy_timeout_ms) : file_(std::move(file)), busy_timeout_ms_(busy_timeout_ms) {}
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens `path` with `flags` (SQLITE_OPEN_*), extended result codes and the busy timeout,
  // through the VFS named `vfs` (nullptr: the default one).
  void open(const std::string& path, int flags, const char* vfs = nullptr);
  void close() noexcept;
  sqlite3* handle() const noexcept { return db_; }
  const std::string& file() const noexcept { return file_; }
  std::int64_t busy_timeout_ms() const noexcept { return busy_timeout_ms_; }

  // The cached statement for `id`, prepared on first use. If it is already stepping (a
  // visitor re-entered the store), a one-off copy is prepared instead so neither is disturbed.
  Stmt use(Sql id) const;
  // A one-off statement.
  Stmt prepare(std::string_view sql) const;
  // Runs one or more statements without results (DDL, PRAGMA with no row).
  void exec(const char* sql, std::string_view what) const;
  // First column of the first row of `sql` as text ("" when no row).
  std::string query_text(const char* sql, std::string_view what) const;
  std::int64_t query_int(const char* sql, std::string_view what) const;

  [[noreturn]] void fail(int rc, std::string_view what) const;

 private:
  std::string file_;
  std::int64_t busy_timeout_ms_;
  sqlite3* db_ = nullptr;
  mutable std::array<sqlite3_stmt*, static_cast<std::size_t>(Sql::kCount_)> cache_{};
};

// Embeddings are stored as raw float32 little-endian, whatever the host byte order. Returns
// the bytes to bind: a view of the vector itself on little-endian hosts (no copy), else of
// `scratch`, which must outlive the binding.
std::string_view embedding_bytes(const std::vector<float>& embedding, std::string& scratch);
// Throws StoreCorrupt when the byte count is not a multiple of 4.
std::vector<float> decode_embedding(std::string_view bytes, const std::string& file);

// Values read from the database, valid while the WAL-index header still equals `header`: the
// header changes with every commit by any connection (iChange, mxFrame, checksums, salts), so
// an unchanged header means nothing was committed since, exactly the test SQLite itself uses
// to keep its page cache across transactions. See stores/sqlite/README.md.
struct PollCache {
  bool valid = false;  // `header` is set and the known values below were read at it
  WalHeader header{};
  bool version_known = false;
  std::uint64_t version = 0;
  bool floor_known = false;  // log_floor known too (from this handle's own writes)
  std::uint64_t log_floor = 0;
  // Quotas read (or written) at `header`; nullopt = no quota row. Bounded: cleared when full.
  std::map<std::string, std::optional<std::size_t>, std::less<>> quotas;

  void reset(const WalHeader& h) {
    valid = true;
    header = h;
    version_known = floor_known = false;
    quotas.clear();
  }
  void invalidate() {
    valid = false;
    version_known = floor_known = false;
    quotas.clear();
  }
};

// Checkpoints the WAL from a thread of its own, on a connection of its own, so that no commit
// of the store's connection pays for one (SqliteOptions::background_checkpoint). The store's
// connection runs with wal_autocheckpoint = 0 and a WAL hook (install()) that wakes the thread
// when a commit leaves `pages` or more frames in the WAL; the thread then runs a PASSIVE
// checkpoint: it copies what it can without taking the write lock or waiting for readers, so
// writers and readers — in this process and others — go on meanwhile. The thread and its
// connection start on the first wake-up (a process that forks before writing much has none).
// Errors are ignored: a failed or partial checkpoint leaves the WAL longer, never wrong, and
// the next commit past the threshold wakes the thread again (at most every 50 ms).
class Checkpointer {
 public:
  Checkpointer(std::string location, int flags, std::string vfs, std::size_t pages, std::int64_t busy_timeout_ms)
      : location_(std::move(location)),
        flags_(flags),
        vfs_(std::move(vfs)),
        pages_(pages),
        busy_timeout_ms_(busy_timeout_ms) {}
  ~Checkpointer();  // stops and joins the thread (detaches it in a forked child)
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Makes `db` (the store's connection) wake this checkpointer instead of checkpointing itself.
  void install(sqlite3* db);
  // Checkpoints completed by the thread (for tests and diagnostics).
  std::uint64_t runs() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int frames);
  void wake();
  void loop();

  std::string location_;
  int flags_;
  std::string vfs_;
  std::size_t pages_;
  std::int64_t busy_timeout_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stop_ = false;
  std::uint64_t runs_ = 0;
  pid_t owner_ = 0;  // the process that started thread_
  std::thread thread_;
};

// Everything an open SqliteStore owns (SqliteStore::Impl derives from it, so helpers in the
// implementation files can take it without naming the private Impl).
struct SqliteState {
  SqliteState(std::string file, const SqliteOptions& opts)
      : db(std::move(file), opts.busy_timeout.count()), options(opts) {}
  // The tap's hook points at `published`, which is destroyed before `db` closes.
  ~SqliteState() {
    if (tap != nullptr) tap->before_write_unlock = nullptr;
  }
  SqliteState(const SqliteState&) = delete;
  SqliteState& operator=(const SqliteState&) = delete;

  Db db;
  SqliteOptions options;
  bool memory = false;      // in-memory database (":memory:" or a mode=memory URI)
  std::string db_filename;  // absolute path of the database file; empty in memory
  int schema_version = 0;
  std::size_t dim = 0;         // the dimension open() was given (and the file records)
  WalIndexTap* tap = nullptr;  // null in memory or without the engram VFS
  PollCache poll;
  SqlitePollStats stats;
  // The version counter and the WAL-index header it was read at, for peek_version_counter(),
  // which runs without the caller's lock: its own mutex, held for a copy only.
  struct Published {
    mutable std::mutex mu;
    bool valid = false;
    WalHeader header{};
    std::uint64_t version = 0;
    // This connection holds the WAL write lock, taken while the header was `header`: nobody
    // else can commit until it is released, so `version` stays the committed counter whatever
    // the header does meanwhile (a WAL restart rewrites it before the commit's frames are
    // written, and those writes can wait on the disk for tens of milliseconds).
    bool writing = false;
  } published;

  const std::string& file() const { return db.file(); }

  // The current WAL-index header, when it can vouch for what a read would see: the tap is
  // mapped and no transaction is open on this connection (inside one, a read returns the
  // transaction's snapshot, which may be older than the header).
  bool header_now(WalHeader& h) const {
    return tap != nullptr && tap->shm0 != nullptr && sqlite3_txn_state(db.handle(), nullptr) == SQLITE_TXN_NONE &&
           read_wal_header(tap->shm0, h);
  }
};

}  // namespace engram::detail

namespace engram {
struct SqliteStore::Impl : detail::SqliteState {
  using SqliteState::SqliteState;
  // Declared after the connection (in the base), so it stops before the connection closes.
  std::unique_ptr<detail::Checkpointer> checkpointer;
};
}  // namespace engram
