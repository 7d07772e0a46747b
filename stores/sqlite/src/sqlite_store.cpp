#include "engram/stores/sqlite_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <span>
#include <system_error>
#include <utility>

#include "engram/errors.hpp"
#include "sqlite_db.hpp"
#include "sqlite_schema.hpp"

namespace engram {
namespace detail {

#define ENGRAM_ENTRY_COLUMNS \
  "id, ns, hash, query, response, embedding, metadata, created_at, last_accessed_at, ttl_ms, access_count"

const char* sql_text(Sql id) noexcept {
  switch (id) {
    case Sql::kBegin:
      return "BEGIN";
    case Sql::kBeginImmediate:
      return "BEGIN IMMEDIATE";
    case Sql::kCommit:
      return "COMMIT";
    case Sql::kRollback:
      return "ROLLBACK";
    case Sql::kReadVersion:
      return "SELECT version FROM engram_state WHERE singleton = 1";
    case Sql::kReadState:
      return "SELECT version, log_floor FROM engram_state WHERE singleton = 1";
    case Sql::kWriteState:
      return "UPDATE engram_state SET version = ?1, log_floor = ?2 WHERE singleton = 1";
    case Sql::kInsertChange:
      return "INSERT INTO engram_changes(version, entry_id, kind) VALUES (?1, ?2, ?3)";
    case Sql::kInsertChanges: {
      // kChangeChunk rows: versions ?1, ?1 + 1, ...; kind ?2; entry ids ?3, ?4, ...
      static const std::string text = [] {
        std::string sql = "INSERT INTO engram_changes(version, entry_id, kind) VALUES ";
        for (std::size_t i = 0; i < kChangeChunk; ++i) {
          if (i > 0) sql += ", ";
          sql += "(?1 + " + std::to_string(i) + ", ?" + std::to_string(i + 3) + ", ?2)";
        }
        return sql;
      }();
      return text.c_str();
    }
    case Sql::kPruneChanges:
      return "DELETE FROM engram_changes WHERE version <= ?1";
    case Sql::kChangesSince:
      return "SELECT version, entry_id, kind FROM engram_changes WHERE version > ?1 ORDER BY version LIMIT ?2";
    case Sql::kGetById:
      return "SELECT " ENGRAM_ENTRY_COLUMNS " FROM engram_entries WHERE id = ?1";
    case Sql::kGetByHash:
      return "SELECT " ENGRAM_ENTRY_COLUMNS " FROM engram_entries WHERE ns = ?1 AND hash = ?2";
    case Sql::kCountAll:
      return "SELECT count(*) FROM engram_entries";
    case Sql::kCountNs:
      return "SELECT count(*) FROM engram_entries WHERE ns = ?1";
    case Sql::kListNamespaces:
      return "SELECT DISTINCT ns FROM engram_entries ORDER BY ns";
    case Sql::kLruAll:
      return "SELECT id FROM engram_entries ORDER BY last_accessed_at, id LIMIT ?1";
    case Sql::kLruNs:
      return "SELECT id FROM engram_entries WHERE ns = ?1 ORDER BY last_accessed_at, id LIMIT ?2";
    case Sql::kIterSince:
      return "SELECT " ENGRAM_ENTRY_COLUMNS " FROM engram_entries WHERE id > ?1 ORDER BY id";
    case Sql::kIndexRows:
      return "SELECT id, ns, hash, created_at, ttl_ms, embedding FROM engram_entries ORDER BY id";
    case Sql::kUpsert:
      return "INSERT INTO engram_entries(ns, hash, query, response, embedding, metadata, created_at, "
             "last_accessed_at, ttl_ms, access_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
             "ON CONFLICT(ns, hash) DO UPDATE SET query = excluded.query, response = excluded.response, "
             "embedding = excluded.embedding, metadata = excluded.metadata, created_at = excluded.created_at, "
             "last_accessed_at = excluded.last_accessed_at, ttl_ms = excluded.ttl_ms, "
             "access_count = excluded.access_count";
    case Sql::kIdByHash:
      return "SELECT id FROM engram_entries WHERE ns = ?1 AND hash = ?2";
    case Sql::kUpdateAccess:
      return "UPDATE engram_entries SET last_accessed_at = ?2, access_count = access_count + 1 WHERE id = ?1";
    case Sql::kTouch:
      return "UPDATE engram_entries SET last_accessed_at = max(last_accessed_at, ?2), "
             "access_count = access_count + ?3 WHERE id = ?1";
    case Sql::kDeleteId:
      return "DELETE FROM engram_entries WHERE id = ?1";
    case Sql::kDeleteExpiredAll:
      return "DELETE FROM engram_entries WHERE ttl_ms IS NOT NULL AND created_at + ttl_ms <= ?1 RETURNING id";
    case Sql::kDeleteExpiredNs:
      return "DELETE FROM engram_entries WHERE ttl_ms IS NOT NULL AND created_at + ttl_ms <= ?1 AND ns = ?2 "
             "RETURNING id";
    case Sql::kClearNamespace:
      return "DELETE FROM engram_entries WHERE ns = ?1 RETURNING id";
    case Sql::kSetQuota:
      return "INSERT INTO engram_quotas(ns, max_entries) VALUES (?1, ?2) "
             "ON CONFLICT(ns) DO UPDATE SET max_entries = excluded.max_entries";
    case Sql::kGetQuota:
      return "SELECT max_entries FROM engram_quotas WHERE ns = ?1";
    case Sql::kReadMeta:
      return "SELECT value FROM engram_meta WHERE key = ?1";
    case Sql::kWriteMeta:
      return "INSERT INTO engram_meta(key, value) VALUES (?1, ?2) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value";
    case Sql::kCount_:
      break;
  }
  return "";
}

#undef ENGRAM_ENTRY_COLUMNS

namespace {

bool is_uri(const std::string& path) { return path.rfind("file:", 0) == 0; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The file a "file:" URI names, as SQLite reads it: an optional "//" or "//localhost"
// authority, then the percent-decoded path up to '?' or '#'; nullopt for an in-memory URI
// (mode=memory or the name ":memory:").
std::optional<std::string> uri_file(const std::string& uri) {
  std::string rest = uri.substr(5);
  const auto end = rest.find_first_of("?#");
  const std::string query = end == std::string::npos ? std::string() : rest.substr(end);
  rest = rest.substr(0, end);
  if (rest.rfind("//", 0) == 0) {
    const auto slash = rest.find('/', 2);
    rest = slash == std::string::npos ? std::string() : rest.substr(slash);
  }
  std::string path;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() && hex_digit(rest[i + 1]) >= 0 && hex_digit(rest[i + 2]) >= 0) {
      path += static_cast<char>(hex_digit(rest[i + 1]) * 16 + hex_digit(rest[i + 2]));
      i += 2;
    } else {
      path += rest[i];
    }
  }
  const bool memory_mode = query.find("mode=memory") != std::string::npos;
  if (memory_mode || path.empty() || path == ":memory:") return std::nullopt;
  return path;
}

std::int64_t to_ms(Timestamp t) { return t.time_since_epoch().count(); }
Timestamp from_ms(std::int64_t ms) { return Timestamp(Millis(ms)); }

std::int64_t clamp_to_i64(std::size_t n) {
  return n > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())
             ? std::numeric_limits<std::int64_t>::max()
             : static_cast<std::int64_t>(n);
}

// Creates `path` with mode 0600 when it does not exist, before SQLite sees it, so the file is
// never world-readable for an instant whatever the umask. An existing file is left as is.
void create_private_file(const std::filesystem::path& path, const std::string& display) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    throw StoreError("SQLite store '" + display +
                     "': cannot create or open the file: " + std::error_code(err, std::generic_category()).message() +
                     ". Remediation: check that the directory exists and that this process may "
                     "write to it.");
  }
  ::close(fd);
}

[[noreturn]] void throw_corrupt_row(const std::string& file, const std::string& what) {
  throw StoreCorrupt("SQLite store '" + file + "': " + what +
                     ". Remediation: restore the database from a snapshot or delete it.");
}

QueryHash read_hash(const detail::Stmt& stmt, int col, const std::string& file) {
  auto bytes = stmt.column_view(col);
  QueryHash hash;
  if (bytes.size() != hash.bytes.size()) throw_corrupt_row(file, "a stored query hash is not 16 bytes");
  std::memcpy(hash.bytes.data(), bytes.data(), hash.bytes.size());
  return hash;
}

// Column order: ENGRAM_ENTRY_COLUMNS.
StoredEntry read_entry(const detail::Stmt& stmt, const std::string& file) {
  StoredEntry e;
  e.id = stmt.column_int(0);
  e.ns = stmt.column_bytes(1);
  e.query_hash = read_hash(stmt, 2, file);
  e.query = stmt.column_bytes(3);
  e.response = stmt.column_bytes(4);
  e.embedding = detail::decode_embedding(stmt.column_view(5), file);
  e.metadata = stmt.column_bytes(6);
  e.created_at = from_ms(stmt.column_int(7));
  e.last_accessed_at = from_ms(stmt.column_int(8));
  if (!stmt.column_is_null(9)) e.ttl = Millis(stmt.column_int(9));
  e.access_count = stmt.column_int(10);
  return e;
}

}  // namespace
}  // namespace detail

using detail::Sql;

namespace {

// Makes (header, version) what peek_version_counter() vouches for.
void publish_version(detail::SqliteState& d, const detail::WalHeader& h, std::uint64_t version) {
  std::lock_guard lock(d.published.mu);
  d.published.valid = true;
  d.published.header = h;
  d.published.version = version;
}

// Called with the WAL write lock just taken and `h` the header then: if the published counter
// is the one for `h`, it holds until the lock is released (Published::writing). The tap ends
// the vouch just before the release (end_write_vouch), so a peek never relies on it once
// another connection could commit.
void vouch_while_writing(detail::SqliteState& d, const detail::WalHeader& h) {
  std::lock_guard lock(d.published.mu);
  d.published.writing = d.published.valid && h == d.published.header;
}

void end_write_vouch(void* state) {
  auto& d = *static_cast<detail::SqliteState*>(state);
  std::lock_guard lock(d.published.mu);
  d.published.writing = false;
}

// One write transaction: BEGIN IMMEDIATE (waits up to the busy timeout for other writers),
// then the caller's statements, change-log rows and the counter update, then COMMIT. Rolls
// back in the destructor unless committed, so an exception never leaves half a write.
//
// It also keeps the poll cache (PollCache) warm across this handle's own writes: if the
// WAL-index header at BEGIN still equals the cached one, nothing else was committed in
// between, so after COMMIT the cache is valid at the header our commit published (captured
// by the VFS when the write lock was released) with our own counter, floor and quota writes
// applied. Otherwise the cache restarts from what this transaction knows.
class WriteTxn {
 public:
  explicit WriteTxn(detail::SqliteState& impl) : impl_(impl) {
    impl_.db.use(Sql::kBeginImmediate).run();
    // We hold the write lock and BEGIN read the latest header: it cannot change under us.
    detail::WalHeader h;
    const bool header_ok = impl_.tap != nullptr && detail::read_wal_header(impl_.tap->shm0, h);
    carried_ = header_ok && impl_.poll.valid && h == impl_.poll.header;
    if (header_ok) vouch_while_writing(impl_, h);
    if (carried_ && impl_.poll.version_known && impl_.poll.floor_known) {
      // The state row is exactly what this handle last wrote or read: skip reading it.
      version_ = impl_.poll.version;
      floor_ = impl_.poll.log_floor;
      state_read_ = true;
    }
  }
  ~WriteTxn() {
    if (!done_ && sqlite3_get_autocommit(impl_.db.handle()) == 0) {
      sqlite3_exec(impl_.db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;

  // Records one change with its own version.
  void change(EntryId id, ChangeKind kind) {
    read_state();
    ++version_;
    impl_.db.use(Sql::kInsertChange)
        .bind(1, static_cast<std::int64_t>(version_))
        .bind(2, id)
        .bind(3, kind == ChangeKind::kUpsert ? 0 : 1)
        .run();
    changed_ = true;
  }

  // Records one change per id, in order, with consecutive versions: kChangeChunk rows per
  // statement (a multi-row INSERT), the rest one by one. Same rows as change() per id.
  void changes(std::span<const EntryId> ids, ChangeKind kind) {
    if (ids.empty()) return;
    read_state();
    const std::int64_t k = kind == ChangeKind::kUpsert ? 0 : 1;
    std::size_t i = 0;
    for (; ids.size() - i >= detail::kChangeChunk; i += detail::kChangeChunk) {
      auto stmt = impl_.db.use(Sql::kInsertChanges);
      stmt.bind(1, static_cast<std::int64_t>(version_ + 1)).bind(2, k);
      for (std::size_t j = 0; j < detail::kChangeChunk; ++j) stmt.bind(static_cast<int>(j + 3), ids[i + j]);
      stmt.run();
      version_ += detail::kChangeChunk;
    }
    for (; i < ids.size(); ++i) change(ids[i], kind);
    changed_ = true;
  }

  // A quota this transaction wrote, for the cache.
  void quota_written(std::string_view ns, std::size_t max_entries) {
    quota_ns_ = std::string(ns);
    quota_value_ = max_entries;
  }

  void commit() {
    if (changed_) {
      // Keep at least the newest `retention` changes; the log then covers (floor, version].
      // Pruning waits until retention/16 rows are due and removes them in one statement, so
      // most writes touch no extra page for it (the log holds up to retention * 17/16 rows).
      // At least one row is kept whatever the option says: the newest record must stay readable
      // (LINEAGE.md L1), because a reader confirms its position by reading the record at its
      // own version again; with an empty log every reader would rebuild on every change.
      const std::uint64_t retention = std::max<std::uint64_t>(impl_.options.change_log_retention, 1);
      if (version_ > retention) {
        const std::uint64_t new_floor = version_ - retention;
        if (new_floor > floor_ + retention / 16) {
          impl_.db.use(Sql::kPruneChanges).bind(1, static_cast<std::int64_t>(new_floor)).run();
          floor_ = new_floor;
        }
      }
      impl_.db.use(Sql::kWriteState)
          .bind(1, static_cast<std::int64_t>(version_))
          .bind(2, static_cast<std::int64_t>(floor_))
          .run();
    }
    const std::uint64_t unlocks = impl_.tap != nullptr ? impl_.tap->unlock_count : 0;
    try {
      impl_.db.use(Sql::kCommit).run();
    } catch (...) {
      impl_.poll.invalidate();
      throw;
    }
    done_ = true;
    remember(unlocks);
  }

 private:
  void read_state() {
    if (state_read_) return;
    auto st = impl_.db.use(Sql::kReadState);
    if (!st.step()) detail::throw_corrupt_row(impl_.file(), "the engram_state row is missing");
    version_ = static_cast<std::uint64_t>(st.column_int(0));
    floor_ = static_cast<std::uint64_t>(st.column_int(1));
    state_read_ = true;
  }

  void remember(std::uint64_t unlocks_before) {
    auto& poll = impl_.poll;
    auto* tap = impl_.tap;
    // Exactly one release of the write lock (our COMMIT's) and a consistent header: that
    // header is the state our commit produced. Anything else: no cache.
    if (tap == nullptr || tap->unlock_count != unlocks_before + 1 || !tap->unlock_header_ok) {
      poll.invalidate();
      return;
    }
    if (carried_) {
      poll.header = tap->unlock_header;
    } else {
      poll.reset(tap->unlock_header);
    }
    if (state_read_) {
      poll.version = version_;
      poll.log_floor = floor_;
      poll.version_known = poll.floor_known = true;
    }
    // Published now, by the committing thread: a get that peeks while this thread still holds
    // the caller's store lock then finds our own commit vouched for, instead of waiting for the
    // lock only to learn the counter it already knows (a touch write-back leaves it unchanged).
    if (poll.version_known) publish_version(impl_, poll.header, poll.version);
    if (quota_ns_) {
      if (poll.quotas.size() >= kMaxCachedQuotas) poll.quotas.clear();
      poll.quotas.insert_or_assign(*quota_ns_, quota_value_);
    }
  }

  static constexpr std::size_t kMaxCachedQuotas = 1024;

  detail::SqliteState& impl_;
  bool done_ = false;
  bool carried_ = false;
  bool state_read_ = false;
  bool changed_ = false;
  std::uint64_t version_ = 0;
  std::uint64_t floor_ = 0;
  std::optional<std::string> quota_ns_;
  std::size_t quota_value_ = 0;
};

// A read transaction so that several statements see one snapshot.
class ReadTxn {
 public:
  explicit ReadTxn(const detail::SqliteState& impl) : impl_(impl) {
    // Already inside a transaction (a visitor re-entered the store): share it.
    if (sqlite3_get_autocommit(impl_.db.handle()) == 0) return;
    impl_.db.use(Sql::kBegin).run();
    owned_ = true;
  }
  ~ReadTxn() {
    if (owned_ && sqlite3_get_autocommit(impl_.db.handle()) == 0) {
      sqlite3_exec(impl_.db.handle(), "COMMIT", nullptr, nullptr, nullptr);
    }
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;

 private:
  const detail::SqliteState& impl_;
  bool owned_ = false;
};

// Every stored vector must have the dimension the file records: a vector of another length
// would be compared against the query's and give a meaningless similarity (or be skipped by
// the index), so it is refused before any write.
void check_dimension(const detail::SqliteState& impl, const StoredEntry& e) {
  if (e.embedding.size() != impl.dim) {
    throw InvalidArgument("SQLite store '" + impl.file() + "': an entry's embedding has " +
                          std::to_string(e.embedding.size()) + " floats, but the store was opened with dimension " +
                          std::to_string(impl.dim) +
                          ". Remediation: embed with the embedder the store was opened for (its dim()), and "
                          "insert nothing else.");
  }
}

// Inserts or updates one entry and returns its id. No RETURNING clause: SQLite runs RETURNING
// through an ephemeral table and a trigger-like subprogram on every call, which costs more
// than the rare extra lookup below. A fresh row's id comes from last_insert_rowid, which the
// DO UPDATE branch leaves alone, so it is first set to 0 (never an entry id: AUTOINCREMENT
// starts at 1 and ids are never assigned by callers) to tell the two branches apart.
EntryId upsert(detail::SqliteState& impl, const StoredEntry& e, std::string& scratch) {
  sqlite3* db = impl.db.handle();
  {
    auto stmt = impl.db.use(Sql::kUpsert);
    stmt.bind_blob(1, e.ns)
        .bind_blob(2, e.query_hash.bytes.data(), e.query_hash.bytes.size())
        .bind_text(3, e.query)
        .bind_text(4, e.response)
        .bind_blob(5, detail::embedding_bytes(e.embedding, scratch))
        .bind_text(6, e.metadata)
        .bind(7, detail::to_ms(e.created_at))
        .bind(8, detail::to_ms(e.last_accessed_at));
    if (e.ttl) {
      stmt.bind(9, e.ttl->count());
    } else {
      stmt.bind_null(9);
    }
    stmt.bind(10, e.access_count);
    sqlite3_set_last_insert_rowid(db, 0);
    stmt.run();
  }
  if (EntryId id = sqlite3_last_insert_rowid(db); id != 0) return id;
  // The DO UPDATE branch ran: the row exists, under its old id.
  auto stmt = impl.db.use(Sql::kIdByHash);
  stmt.bind_blob(1, e.ns).bind_blob(2, e.query_hash.bytes.data(), e.query_hash.bytes.size());
  if (!stmt.step()) detail::throw_corrupt_row(impl.file(), "an upserted entry is missing");
  return stmt.column_int(0);
}

// Runs a DELETE ... RETURNING id and returns the ids, ascending.
std::vector<EntryId> collect_ids(detail::Stmt& stmt) {
  std::vector<EntryId> ids;
  while (stmt.step()) ids.push_back(stmt.column_int(0));
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

// ---- lifecycle ---------------------------------------------------------------------------

SqliteStore::SqliteStore(std::filesystem::path path, SqliteOptions options)
    : path_(std::move(path)), options_(options) {}

SqliteStore::~SqliteStore() { close(); }

SqliteStore::SqliteStore(SqliteStore&& other) noexcept
    : impl_(std::move(other.impl_)),
      path_(std::move(other.path_)),
      options_(other.options_),
      closed_(std::exchange(other.closed_, true)) {}

SqliteStore& SqliteStore::operator=(SqliteStore&& other) noexcept {
  if (this != &other) {
    impl_ = std::move(other.impl_);  // the replaced connection closes here
    path_ = std::move(other.path_);
    options_ = other.options_;
    closed_ = std::exchange(other.closed_, true);
  }
  return *this;
}

const std::filesystem::path& SqliteStore::path() const noexcept { return path_; }
const SqliteOptions& SqliteStore::options() const noexcept { return options_; }
bool SqliteStore::is_open() const noexcept { return impl_ != nullptr; }

SqliteStore::Impl& SqliteStore::live() const {
  if (!impl_) {
    throw CacheClosed("SQLite store '" + path_.string() +
                      "' is not open. Remediation: call open() before using the store, and do "
                      "not use it after close().");
  }
  return *impl_;
}

void SqliteStore::open(std::string_view fingerprint, std::size_t dim) {
  if (closed_) {
    throw CacheClosed("SQLite store '" + path_.string() +
                      "' was closed; a closed handle stays closed. Remediation: construct a new "
                      "SqliteStore on the same path to reopen it.");
  }
  if (path_.empty()) {
    throw InvalidArgument(
        "SqliteStore needs a file path (or \":memory:\"), got an empty path. "
        "Remediation: pass the database file's path to the constructor.");
  }
  auto impl = std::make_unique<Impl>(path_.string(), options_);
  const std::string location = path_.string();
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  // The file is created here, mode 0600, so SQLITE_OPEN_CREATE is only for in-memory
  // databases: SQLite would create a file with 0644 & ~umask.
  std::optional<std::string> file = location;
  if (location == ":memory:") {
    file.reset();
  } else if (detail::is_uri(location)) {
    flags |= SQLITE_OPEN_URI;
    file = detail::uri_file(location);
  }
  if (file) {
    detail::create_private_file(*file, impl->file());
  } else {
    flags |= SQLITE_OPEN_CREATE;
  }
  // File-backed databases go through the engram VFS shim (WAL append coalescing and the
  // wal-index tap, see sqlite_vfs.hpp); in-memory ones have neither WAL nor -shm.
  impl->db.open(location, flags, file ? detail::engram_vfs_name() : nullptr);
  const char* main_file = sqlite3_db_filename(impl->db.handle(), "main");
  impl->memory = main_file == nullptr || *main_file == '\0';
  if (!impl->memory) impl->db_filename = main_file;
  // Decide whether the file is ours before anything can write to it: switching to WAL
  // rewrites the header of a rollback-journal database and the schema step creates tables,
  // so a foreign database must be refused by these reads alone. They also read page 1, so
  // garbage and truncated files fail here with StoreCorrupt.
  detail::inspect_schema(impl->db);
  // WAL: readers never block writers and never see uncommitted data; synchronous=NORMAL is
  // crash-safe in WAL mode (a power loss may drop the last commits, never corrupt).
  impl->db.exec("PRAGMA foreign_keys = ON", "configuring the connection");
  if (!impl->memory) {
    auto mode = impl->db.query_text("PRAGMA journal_mode = WAL", "enabling WAL mode");
    if (mode != "wal") {
      throw StoreError("SQLite store '" + impl->file() + "': could not enable WAL mode (journal_mode is '" + mode +
                       "'). Remediation: put the database on a local file system that "
                       "supports shared memory (not a network share).");
    }
  }
  impl->db.exec("PRAGMA synchronous = NORMAL", "configuring the connection");
  {
    // Speed only: none of these changes what a commit guarantees.
    const auto kib = std::min<std::size_t>(options_.cache_size_kib, std::size_t{1} << 30);
    const auto mmap = std::min<std::size_t>(options_.mmap_size, std::size_t{1} << 40);
    const auto pages = std::min<std::size_t>(options_.wal_autocheckpoint_pages, std::size_t{1} << 30);
    const std::string pragmas = "PRAGMA cache_size = -" + std::to_string(std::max<std::size_t>(kib, 1)) +
                                "; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = " + std::to_string(mmap) +
                                "; PRAGMA wal_autocheckpoint = " + std::to_string(pages) + ";";
    impl->db.exec(pragmas.c_str(), "configuring the connection");
  }
  impl->schema_version = detail::prepare_schema(impl->db, fingerprint, dim);
  if (!impl->memory && options_.wal_autocheckpoint_pages > 0) {
    // A writer that never pauses keeps the WAL from restarting (a restart needs every frame
    // checkpointed at the moment a transaction begins), so a burst of puts or a bulk load can
    // grow the -wal file to hundreds of MB. SQLite reuses it from the start after the next
    // pause; this limit makes that restart also shrink the file back to twice the checkpoint
    // threshold instead of leaving the burst's size on disk.
    const auto page = static_cast<std::size_t>(impl->db.query_int("PRAGMA page_size", "reading the page size"));
    const auto pages = std::min<std::size_t>(options_.wal_autocheckpoint_pages, std::size_t{1} << 30);
    const std::string limit = "PRAGMA journal_size_limit = " + std::to_string(2 * pages * page);
    (void)impl->db.query_int(limit.c_str(), "limiting the WAL size");
  }
  impl->dim = dim;
  // After the schema step SQLite has read through the WAL, so region 0 of the -shm is mapped.
  if (!impl->memory) impl->tap = detail::wal_index_tap(impl->db.handle());
  if (impl->tap != nullptr) {
    impl->tap->before_write_unlock = end_write_vouch;
    impl->tap->before_write_unlock_context = static_cast<detail::SqliteState*>(impl.get());
  }
  if (!impl->memory && options_.background_checkpoint && options_.wal_autocheckpoint_pages > 0) {
    impl->checkpointer = std::make_unique<detail::Checkpointer>(
        location, flags & ~SQLITE_OPEN_CREATE, file ? detail::engram_vfs_name() : "", options_.wal_autocheckpoint_pages,
        options_.busy_timeout.count());
    impl->checkpointer->install(impl->db.handle());
  }
  impl_ = std::move(impl);
}

void SqliteStore::close() noexcept {
  impl_.reset();
  closed_ = true;
}

// ---- lookup ------------------------------------------------------------------------------

std::optional<StoredEntry> SqliteStore::get_by_hash(std::string_view ns, const QueryHash& hash) const {
  auto& d = live();
  auto stmt = d.db.use(Sql::kGetByHash);
  stmt.bind_blob(1, ns).bind_blob(2, hash.bytes.data(), hash.bytes.size());
  if (!stmt.step()) return std::nullopt;
  return detail::read_entry(stmt, d.file());
}

std::optional<StoredEntry> SqliteStore::get_by_id(EntryId id) const {
  auto& d = live();
  auto stmt = d.db.use(Sql::kGetById);
  stmt.bind(1, id);
  if (!stmt.step()) return std::nullopt;
  return detail::read_entry(stmt, d.file());
}

std::size_t SqliteStore::count(std::optional<std::string_view> ns) const {
  auto& d = live();
  auto stmt = d.db.use(ns ? Sql::kCountNs : Sql::kCountAll);
  if (ns) stmt.bind_blob(1, *ns);
  stmt.step();
  return static_cast<std::size_t>(stmt.column_int(0));
}

std::vector<std::string> SqliteStore::list_namespaces() const {
  auto& d = live();
  auto stmt = d.db.use(Sql::kListNamespaces);
  std::vector<std::string> out;
  while (stmt.step()) out.push_back(stmt.column_bytes(0));
  return out;
}

// ---- iteration ---------------------------------------------------------------------------

std::vector<EntryId> SqliteStore::iter_lru_ids(std::size_t n, std::optional<std::string_view> ns) const {
  auto& d = live();
  std::vector<EntryId> out;
  if (n == 0) return out;
  auto stmt = d.db.use(ns ? Sql::kLruNs : Sql::kLruAll);
  if (ns) {
    stmt.bind_blob(1, *ns).bind(2, detail::clamp_to_i64(n));
  } else {
    stmt.bind(1, detail::clamp_to_i64(n));
  }
  while (stmt.step()) out.push_back(stmt.column_int(0));
  return out;
}

void SqliteStore::iter_all(const EntryVisitor& visit) const { iter_since(0, visit); }

void SqliteStore::iter_since(EntryId last_id, const EntryVisitor& visit) const {
  auto& d = live();
  // One statement is one snapshot: entries committed meanwhile by others are not half-seen.
  auto stmt = d.db.use(Sql::kIterSince);
  stmt.bind(1, last_id);
  while (stmt.step()) {
    if (!visit(detail::read_entry(stmt, d.file()))) break;
  }
}

void SqliteStore::iter_index_rows(const IndexRowVisitor& visit) const {
  auto& d = live();
  auto stmt = d.db.use(Sql::kIndexRows);
  while (stmt.step()) {
    IndexRow row;
    row.id = stmt.column_int(0);
    row.ns = stmt.column_bytes(1);
    row.query_hash = detail::read_hash(stmt, 2, d.file());
    row.created_at = detail::from_ms(stmt.column_int(3));
    if (!stmt.column_is_null(4)) row.ttl = Millis(stmt.column_int(4));
    row.embedding = detail::decode_embedding(stmt.column_view(5), d.file());
    if (!visit(row)) break;
  }
}

// ---- mutation ----------------------------------------------------------------------------

EntryId SqliteStore::insert(const StoredEntry& entry) {
  auto& d = live();
  check_dimension(d, entry);
  std::string scratch;
  WriteTxn txn(d);
  EntryId id = upsert(d, entry, scratch);
  txn.change(id, ChangeKind::kUpsert);
  txn.commit();
  return id;
}

std::vector<EntryId> SqliteStore::insert_many(std::span<const StoredEntry> entries) {
  auto& d = live();
  std::vector<EntryId> ids;
  if (entries.empty()) return ids;
  // All or nothing: one bad entry refuses the whole batch before the transaction starts.
  for (const auto& entry : entries) check_dimension(d, entry);
  ids.reserve(entries.size());
  std::string scratch;
  WriteTxn txn(d);
  for (const auto& entry : entries) ids.push_back(upsert(d, entry, scratch));
  // The log rows after the entries, in the same order as before (one version per entry, in
  // the caller's order), with multi-row statements.
  txn.changes(ids, ChangeKind::kUpsert);
  txn.commit();
  return ids;
}

void SqliteStore::update_access(EntryId id, Timestamp now) {
  auto& d = live();
  // A single statement in autocommit mode is its own transaction; no counter involved.
  d.db.use(Sql::kUpdateAccess).bind(1, id).bind(2, detail::to_ms(now)).run();
}

void SqliteStore::touch_many(std::span<const Touch> touches) {
  auto& d = live();
  if (touches.empty()) return;
  // In id order: neighbouring rows share B-tree pages, so fewer distinct pages are dirtied
  // (and written to the WAL) than in the order the hits happened.
  std::vector<Touch> sorted(touches.begin(), touches.end());
  std::sort(sorted.begin(), sorted.end(), [](const Touch& a, const Touch& b) { return a.id < b.id; });
  WriteTxn txn(d);
  for (const auto& t : sorted) {
    d.db.use(Sql::kTouch).bind(1, t.id).bind(2, detail::to_ms(t.at)).bind(3, t.hits).run();
  }
  txn.commit();
}

bool SqliteStore::delete_by_id(EntryId id) {
  auto& d = live();
  WriteTxn txn(d);
  d.db.use(Sql::kDeleteId).bind(1, id).run();
  const bool removed = sqlite3_changes64(d.db.handle()) > 0;
  if (removed) txn.change(id, ChangeKind::kDelete);
  txn.commit();
  return removed;
}

std::size_t SqliteStore::delete_many(std::span<const EntryId> ids) {
  auto& d = live();
  if (ids.empty()) return 0;
  std::size_t removed = 0;
  WriteTxn txn(d);
  for (EntryId id : ids) {
    d.db.use(Sql::kDeleteId).bind(1, id).run();
    if (sqlite3_changes64(d.db.handle()) > 0) {
      txn.change(id, ChangeKind::kDelete);
      ++removed;
    }
  }
  txn.commit();
  return removed;
}

std::size_t SqliteStore::delete_expired(Timestamp now, std::optional<std::string_view> ns) {
  auto& d = live();
  WriteTxn txn(d);
  std::vector<EntryId> ids;
  {
    auto stmt = d.db.use(ns ? Sql::kDeleteExpiredNs : Sql::kDeleteExpiredAll);
    stmt.bind(1, detail::to_ms(now));
    if (ns) stmt.bind_blob(2, *ns);
    ids = collect_ids(stmt);
  }
  for (EntryId id : ids) txn.change(id, ChangeKind::kDelete);
  txn.commit();
  return ids.size();
}

std::size_t SqliteStore::clear_namespace(std::string_view ns) {
  auto& d = live();
  WriteTxn txn(d);
  std::vector<EntryId> ids;
  {
    auto stmt = d.db.use(Sql::kClearNamespace);
    stmt.bind_blob(1, ns);
    ids = collect_ids(stmt);
  }
  for (EntryId id : ids) txn.change(id, ChangeKind::kDelete);
  txn.commit();
  return ids.size();
}

// ---- quotas ------------------------------------------------------------------------------

void SqliteStore::set_namespace_quota(std::string_view ns, std::size_t max_entries) {
  auto& d = live();
  // An explicit transaction (not an autocommit statement) so the quota cache stays warm.
  // Stored as the two's-complement int64 of the value, so every size_t round-trips exactly
  // (SIZE_MAX included) in an INTEGER column.
  WriteTxn txn(d);
  d.db.use(Sql::kSetQuota)
      .bind_blob(1, ns)
      .bind(2, static_cast<std::int64_t>(static_cast<std::uint64_t>(max_entries)))
      .run();
  txn.quota_written(ns, max_entries);
  txn.commit();
}

std::optional<std::size_t> SqliteStore::get_namespace_quota(std::string_view ns) const {
  auto& d = live();
  // Header first, then the SELECT: a commit landing between them changes the header, so the
  // value is then filed under a header that no longer matches and is read again next time.
  detail::WalHeader h;
  const bool tapped = d.header_now(h);
  if (tapped && d.poll.valid && h == d.poll.header) {
    if (auto it = d.poll.quotas.find(ns); it != d.poll.quotas.end()) {
      ++d.stats.quota_cached;
      return it->second;
    }
  }
  std::optional<std::size_t> out;
  {
    auto stmt = d.db.use(Sql::kGetQuota);
    stmt.bind_blob(1, ns);
    if (stmt.step()) out = static_cast<std::size_t>(static_cast<std::uint64_t>(stmt.column_int(0)));
  }
  ++d.stats.quota_reads;
  if (tapped) {
    if (!d.poll.valid || h != d.poll.header) d.poll.reset(h);
    if (d.poll.quotas.size() >= 1024) d.poll.quotas.clear();
    d.poll.quotas.insert_or_assign(std::string(ns), out);
  }
  return out;
}

// ---- coordination ------------------------------------------------------------------------

std::uint64_t SqliteStore::read_version_counter() const {
  auto& d = live();
  // A real read costs a WAL read transaction: two fcntl calls on the -shm file (~5 us here).
  // If the WAL-index header is unchanged since the cached value was read, nothing has been
  // committed since, so the value still holds: a compare of 96 mapped bytes. The header is
  // read BEFORE the SELECT, so a commit that lands in between is seen as a change next time.
  detail::WalHeader h;
  const bool tapped = d.header_now(h);
  if (tapped && d.poll.valid && d.poll.version_known && h == d.poll.header) {
    ++d.stats.version_cached;
    publish_version(d, h, d.poll.version);
    return d.poll.version;
  }
  std::uint64_t version = 0;
  {
    auto stmt = d.db.use(Sql::kReadVersion);
    if (!stmt.step()) detail::throw_corrupt_row(d.file(), "the engram_state row is missing");
    version = static_cast<std::uint64_t>(stmt.column_int(0));
  }
  ++d.stats.version_reads;
  if (tapped) {
    if (!d.poll.valid || h != d.poll.header) d.poll.reset(h);
    d.poll.version = version;
    d.poll.version_known = true;
    publish_version(d, h, version);
  }
  return version;
}

std::optional<std::uint64_t> SqliteStore::peek_version_counter() const noexcept {
  const Impl* d = impl_.get();
  if (d == nullptr || d->tap == nullptr || d->tap->shm0 == nullptr) return std::nullopt;
  detail::WalHeader h;
  const bool header_ok = detail::read_wal_header(d->tap->shm0, h);
  std::lock_guard lock(d->published.mu);
  if (!d->published.valid) return std::nullopt;
  if (d->published.writing) return d->published.version;  // our own write is in flight
  if (!header_ok || h != d->published.header) return std::nullopt;
  return d->published.version;
}

SqlitePollStats SqliteStore::poll_stats() const noexcept {
  if (!impl_) return {};
  SqlitePollStats out = impl_->stats;
  if (impl_->checkpointer) out.background_checkpoints = impl_->checkpointer->runs();
  return out;
}

std::optional<std::string> SqliteStore::read_meta(std::string_view key) const {
  auto& d = live();
  auto stmt = d.db.use(Sql::kReadMeta);
  stmt.bind_text(1, key);
  if (!stmt.step()) return std::nullopt;
  return stmt.column_bytes(0);
}

void SqliteStore::write_meta(std::string_view key, std::string_view value) {
  auto& d = live();
  if (key == "schema_version") {
    throw InvalidArgument(
        "meta key 'schema_version' belongs to the SQLite store's migrations. "
        "Remediation: use another key.");
  }
  d.db.use(Sql::kWriteMeta).bind_text(1, key).bind_text(2, value).run();
}

// ---- change feed -------------------------------------------------------------------------

std::optional<std::vector<Change>> SqliteStore::changes_since(std::uint64_t version, std::size_t limit) const {
  auto& d = live();
  // State and log rows must come from one snapshot: a concurrent writer may prune the log.
  ReadTxn txn(d);
  std::uint64_t counter = 0, floor = 0;
  {
    auto st = d.db.use(Sql::kReadState);
    if (!st.step()) detail::throw_corrupt_row(d.file(), "the engram_state row is missing");
    counter = static_cast<std::uint64_t>(st.column_int(0));
    floor = static_cast<std::uint64_t>(st.column_int(1));
  }
  if (version > counter || version < floor) return std::nullopt;
  std::vector<Change> out;
  if (limit == 0 || version == counter) return out;
  if (version > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  auto stmt = d.db.use(Sql::kChangesSince);
  stmt.bind(1, static_cast<std::int64_t>(version)).bind(2, detail::clamp_to_i64(limit));
  while (stmt.step()) {
    out.push_back(Change{static_cast<std::uint64_t>(stmt.column_int(0)), stmt.column_int(1),
                         stmt.column_int(2) == 0 ? ChangeKind::kUpsert : ChangeKind::kDelete});
  }
  return out;
}

}  // namespace engram
