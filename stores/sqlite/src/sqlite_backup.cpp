// SqliteStore: integrity check, snapshot/restore (SQLite online backup API) and maintenance.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "engram/errors.hpp"
#include "engram/stores/sqlite_store.hpp"
#include "sqlite_db.hpp"
#include "sqlite_digest.hpp"
#include "sqlite_schema.hpp"

namespace engram {
namespace {

std::string display(const std::filesystem::path& p) { return p.string(); }

[[noreturn]] void checkpoint_error(const std::string& what, const std::string& remediation) {
  throw CheckpointError(what + " Remediation: " + remediation);
}

// A unique temporary name beside `dest`, so the final rename stays on one file system.
std::filesystem::path temp_beside(const std::filesystem::path& dest) {
  static std::atomic<unsigned> counter{0};
  auto tmp = dest;
  tmp += ".engram-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  return tmp;
}

void remove_quietly(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::remove(p, ec);
}

void remove_database_files(const std::filesystem::path& p) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    auto f = p;
    f += suffix;
    remove_quietly(f);
  }
}

// Creates `path` exclusively with mode 0600.
void create_private_exclusive(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    checkpoint_error(
        "cannot create '" + display(path) + "': " + std::error_code(err, std::generic_category()).message() + ".",
        "check that the directory exists and is writable.");
  }
  ::close(fd);
}

void fsync_file(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    checkpoint_error("cannot flush '" + display(file) +
                         "' to disk: " + std::error_code(err, std::generic_category()).message() + ".",
                     "check the disk holding the destination and retry.");
  }
  ::close(fd);
}

void fsync_directory(const std::filesystem::path& file) {
  auto dir = file.parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);  // best effort: makes the rename durable
    ::close(fd);
  }
}

// Copies every page of `src` (schema "main") into `dest` in one step, holding a read
// transaction on src for the whole copy, so the copy is one consistent point in time while
// other connections keep writing. Returns SQLite's result code (SQLITE_DONE on success).
int copy_database(sqlite3* dest, sqlite3* src, std::string& message) {
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", src, "main");
  if (backup == nullptr) {
    message = sqlite3_errmsg(dest);
    return sqlite3_errcode(dest);
  }
  int rc = sqlite3_backup_step(backup, -1);
  int finish = sqlite3_backup_finish(backup);
  if (rc == SQLITE_DONE && finish != SQLITE_OK) rc = finish;
  if (rc != SQLITE_DONE) message = sqlite3_errmsg(dest);
  return rc;
}

// Records the content digest in a finished snapshot copy (defined with restore, below).
void seal_snapshot(const detail::Db& out);

}  // namespace

bool SqliteStore::integrity_check() const noexcept {
  try {
    if (!impl_) return false;
    auto& d = *impl_;
    auto stmt = d.db.prepare(d.options.full_integrity_check ? "PRAGMA integrity_check(1)" : "PRAGMA quick_check(1)");
    if (!stmt.step()) return false;
    if (stmt.column_view(0) != "ok") return false;
    // The engram tables must still be there and readable.
    d.db.query_int("SELECT count(*) FROM engram_state", "checking the state table");
    return detail::read_schema_version(d.db) == d.schema_version;
  } catch (...) {
    return false;
  }
}

void SqliteStore::snapshot_to(const std::filesystem::path& dest) const {
  auto& d = live();
  if (dest.empty() || dest.native() == ":memory:") {
    throw InvalidArgument("snapshot_to needs a file path. Remediation: pass the path of the snapshot file to write.");
  }
  std::error_code ec;
  if (!d.memory && std::filesystem::exists(dest, ec) && std::filesystem::equivalent(dest, d.db_filename, ec)) {
    throw InvalidArgument("snapshot_to('" + display(dest) +
                          "') names the store's own database file. "
                          "Remediation: write the snapshot to another path.");
  }
  const auto tmp = temp_beside(dest);
  create_private_exclusive(tmp);
  detail::Db out(display(tmp), d.options.busy_timeout.count());
  try {
    try {
      out.open(tmp.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    } catch (const StoreError& e) {
      checkpoint_error("snapshot of '" + d.file() + "': cannot open '" + display(tmp) + "': " + e.what(),
                       "check that the snapshot directory is writable.");
    }
    std::string message;
    int rc = copy_database(out.handle(), d.db.handle(), message);
    if (rc != SQLITE_DONE) {
      int primary = rc & 0xff;
      if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
        detail::throw_sqlite(rc, message, d.file(), "taking a snapshot", d.db.busy_timeout_ms());
      }
      checkpoint_error("snapshot of '" + d.file() + "' to '" + display(dest) + "' failed: " + message + " (" +
                           sqlite3_errstr(rc) + ").",
                       primary == SQLITE_FULL ? "free disk space and retry." : "check the destination path and retry.");
    }
    try {
      // A snapshot is a single self-contained file: switch it from WAL (inherited from the
      // source's header) to a rollback journal, so reading it needs no -wal/-shm beside it.
      out.exec("PRAGMA journal_mode = DELETE", "finishing the snapshot");
      seal_snapshot(out);
    } catch (const StoreError& e) {
      checkpoint_error("snapshot of '" + d.file() + "': finishing '" + display(tmp) + "' failed: " + e.what(),
                       "check the destination path and free disk space, and retry.");
    }
    out.close();
    std::filesystem::rename(tmp, dest, ec);
    if (ec) {
      checkpoint_error(
          "snapshot of '" + d.file() + "': cannot move the copy to '" + display(dest) + "': " + ec.message() + ".",
          "check that the destination is writable and not a directory.");
    }
    fsync_directory(dest);
  } catch (...) {
    out.close();
    remove_database_files(tmp);
    throw;
  }
}

std::optional<SqliteStore::RecordedIdentity> SqliteStore::recorded_identity(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  detail::Db db(display(path), SqliteOptions{}.busy_timeout.count());
  try {
    db.open(path.string(), SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    if (db.query_int("PRAGMA application_id", "reading the header") != detail::kSqliteApplicationId) {
      throw StoreCorrupt("'" + display(path) +
                         "' is not an engram database (wrong application id). "
                         "Remediation: pass a file created by SqliteStore.");
    }
    auto meta = [&](std::string_view key) -> std::optional<std::string> {
      auto stmt = db.prepare("SELECT value FROM engram_meta WHERE key = ?1");
      stmt.bind_text(1, key);
      if (!stmt.step()) return std::nullopt;
      return stmt.column_bytes(0);
    };
    const auto fingerprint = meta("fingerprint");
    const auto dim = meta("dim");
    if (!fingerprint || !dim) return std::nullopt;
    return RecordedIdentity{*fingerprint, static_cast<std::size_t>(std::stoull(*dim))};
  } catch (const StoreCorrupt&) {
    throw;
  } catch (const std::exception& e) {
    throw StoreCorrupt("cannot read the identity of '" + display(path) + "': " + e.what() +
                       ". Remediation: check that the file is an engram database.");
  }
}

namespace {

// ---- snapshot checksum -------------------------------------------------------------------

// Inside one transaction on the finished snapshot copy: digest its content, then record the
// digest in engram_snapshot (a table only snapshots have; the digest leaves it out).
void seal_snapshot(const detail::Db& out) {
  out.exec("BEGIN IMMEDIATE", "sealing the snapshot");
  try {
    const std::string digest = detail::content_digest(out);
    out.exec("CREATE TABLE engram_snapshot(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT, WITHOUT ROWID",
             "sealing the snapshot");
    const auto now = std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch()).count();
    const std::pair<const char*, std::string> rows[] = {
        {"format", detail::kSnapshotFormat},
        {"digest", digest},
        {"entries", std::to_string(out.query_int("SELECT count(*) FROM engram_entries", "sealing the snapshot"))},
        {"written_at_ms", std::to_string(now)},
    };
    for (const auto& [key, value] : rows) {
      auto st = out.prepare("INSERT INTO engram_snapshot(key, value) VALUES (?1, ?2)");
      st.bind_text(1, key).bind_text(2, value);
      st.run();
    }
    out.exec("COMMIT", "sealing the snapshot");
  } catch (...) {
    if (sqlite3_get_autocommit(out.handle()) == 0) sqlite3_exec(out.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

// ---- restore -----------------------------------------------------------------------------

// What restore_from finds at its destination, decided by reads alone.
enum class DestKind {
  kMissing,        // no file
  kEmpty,          // an empty file or an empty SQLite database: nothing to lose
  kEngram,         // a readable engram database: a store that readers may be attached to
  kDamagedEngram,  // SQLite cannot read it, but its header carries engram's application id
  kForeign,        // a SQLite database of another program
  kNotADatabase,   // anything else: a text file, garbage, a header SQLite does not recognise
};

bool has_table(const detail::Db& db, const char* schema, const char* name) {
  auto st = db.prepare(std::string("SELECT 1 FROM ") + schema + ".sqlite_schema WHERE type = 'table' AND name = ?1");
  st.bind_text(1, name);
  return st.step();
}

// The raw 100-byte header: SQLite's magic string and engram's application id at offset 68
// (big-endian). Tells a damaged engram database from someone else's file.
bool header_says_engram(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char header[100] = {};
  if (!in.read(header, sizeof header)) return false;
  if (std::memcmp(header, "SQLite format 3", 16) != 0) return false;
  std::uint32_t id = 0;
  for (int i = 68; i < 72; ++i) id = (id << 8) | static_cast<unsigned char>(header[i]);
  return id == static_cast<std::uint32_t>(detail::kSqliteApplicationId);
}

DestKind classify_destination(const std::filesystem::path& dest, const SqliteOptions& options) {
  std::error_code ec;
  const auto status = std::filesystem::status(dest, ec);
  if (!std::filesystem::exists(status)) return DestKind::kMissing;
  if (!std::filesystem::is_regular_file(status)) {
    throw InvalidArgument("restore_from: destination '" + display(dest) +
                          "' exists and is not a regular file. Remediation: pass the path of a database file.");
  }
  detail::Db probe(display(dest), options.busy_timeout.count());
  try {
    probe.open(dest.string(), SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    const auto app_id = probe.query_int("PRAGMA application_id", "reading the destination header");
    const auto objects = probe.query_int("SELECT count(*) FROM sqlite_schema", "reading the destination schema");
    if (objects == 0 && (app_id == 0 || app_id == detail::kSqliteApplicationId)) return DestKind::kEmpty;
    if (app_id == detail::kSqliteApplicationId && has_table(probe, "main", "engram_meta")) return DestKind::kEngram;
    return DestKind::kForeign;
  } catch (const StoreCorrupt&) {
    return header_says_engram(dest) ? DestKind::kDamagedEngram : DestKind::kNotADatabase;
  } catch (const StoreUnavailable&) {
    throw;
  } catch (const StoreError& e) {
    checkpoint_error(std::string("restore: cannot read the destination: ") + e.what(),
                     "check the destination path and its permissions.");
  }
}

// How far the destination's history went, so that the restored store continues past it
// (LINEAGE.md L2, L3). `held_store`: the destination was an engram store, so readers may be
// attached to it. `known`: its counter and id sequence could be read.
struct Lineage {
  bool held_store = false;
  bool known = false;
  std::uint64_t counter = 0;
  std::int64_t max_id = 0;  // max(sqlite_sequence, max(id)): every id ever allocated there
};

// Reads the lineage of the engram database in `schema` of `db` (best effort: a damaged file
// leaves it unknown).
Lineage read_lineage(const detail::Db& db, const char* schema) {
  Lineage l;
  l.held_store = true;
  try {
    const std::string s = schema;
    l.counter = static_cast<std::uint64_t>(
        db.query_int(("SELECT version FROM " + s + ".engram_state WHERE singleton = 1").c_str(), "reading lineage"));
    const auto seq = db.query_int(
        ("SELECT coalesce(max(seq), 0) FROM " + s + ".sqlite_sequence WHERE name = 'engram_entries'").c_str(),
        "reading lineage");
    const auto max_id =
        db.query_int(("SELECT coalesce(max(id), 0) FROM " + s + ".engram_entries").c_str(), "reading lineage");
    l.max_id = std::max(seq, max_id);
    l.known = true;
  } catch (const StoreError&) {
    l.known = false;
  }
  return l;
}

// When a damaged destination's counter and ids cannot be read, the restored store moves both
// this far past the snapshot's: a store would need 2^40 (about 10^12) writes after the
// snapshot to have reached it, so attached readers still see a counter they never saw.
constexpr std::uint64_t kUnknownLineageMargin = std::uint64_t{1} << 40;

// On `t` (a connection with the verified snapshot attached as "snap", inside its write
// transaction, after copy_content): the id sequence continues past every id allocated in the
// snapshot and at the destination; if the destination held a store, the counter moves to
// N = max(old counter, snapshot counter) + 1 and history before N is made unreplayable
// (log_floor = N, empty log), which is how the reset is recorded: every attached reader gets
// nullopt from changes_since(v < N) and rebuilds.
void apply_lineage(const detail::Db& t, const Lineage& old) {
  const auto snap_counter = static_cast<std::uint64_t>(
      t.query_int("SELECT version FROM main.engram_state WHERE singleton = 1", "reading the restored counter"));
  std::int64_t ids =
      std::max(t.query_int("SELECT coalesce(max(seq), 0) FROM snap.sqlite_sequence WHERE name = 'engram_entries'",
                           "reading the snapshot's id sequence"),
               t.query_int("SELECT coalesce(max(id), 0) FROM main.engram_entries", "reading the restored ids"));
  if (old.held_store) {
    ids = old.known ? std::max(ids, old.max_id) : ids + static_cast<std::int64_t>(kUnknownLineageMargin);
  }
  {
    auto up = t.prepare("UPDATE main.sqlite_sequence SET seq = ?1 WHERE name = 'engram_entries'");
    up.bind(1, ids);
    up.run();
    if (sqlite3_changes64(t.handle()) == 0) {
      auto ins = t.prepare("INSERT INTO main.sqlite_sequence(name, seq) VALUES ('engram_entries', ?1)");
      ins.bind(1, ids);
      ins.run();
    }
  }
  if (!old.held_store) return;  // a new location keeps the snapshot's counter and feed
  const std::uint64_t n =
      old.known ? std::max(old.counter, snap_counter) + 1 : snap_counter + kUnknownLineageMargin + 1;
  auto st = t.prepare("UPDATE main.engram_state SET version = ?1, log_floor = ?1 WHERE singleton = 1");
  st.bind(1, static_cast<std::int64_t>(n));
  st.run();
  t.exec("DELETE FROM main.engram_changes", "resetting the change log");
}

// On `t`, inside its write transaction: drops every object of main (triggers and views, then
// tables with their indexes) and rebuilds engram's tables from the attached snapshot "snap":
// definitions as the snapshot has them, rows copied, indexes created afterwards from the
// copied rows (so an index page of the snapshot is never trusted).
void copy_content(const detail::Db& t) {
  std::vector<std::pair<std::string, std::string>> drops;
  {
    auto st = t.prepare(
        "SELECT type, name FROM main.sqlite_schema WHERE type IN ('trigger', 'view', 'table') AND "
        "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY CASE type WHEN 'trigger' THEN 0 WHEN 'view' THEN 1 ELSE 2 END");
    while (st.step()) drops.emplace_back(st.column_bytes(0), st.column_bytes(1));
  }
  for (const auto& [type, name] : drops) {
    const std::string sql = "DROP " +
                            std::string(type == "trigger" ? "TRIGGER"
                                        : type == "view"  ? "VIEW"
                                                          : "TABLE") +
                            " IF EXISTS main." + detail::quote_ident(name);
    t.exec(sql.c_str(), "clearing the destination");
  }
  if (has_table(t, "main", "sqlite_stat1")) t.exec("DELETE FROM main.sqlite_stat1", "clearing the destination");

  struct Object {
    std::string type, name, sql;
  };
  std::vector<Object> objects;
  {
    // Only engram's own objects: a snapshot never needs anything else, and executing foreign
    // definitions (triggers, say) from a file is not restore's business.
    auto st = t.prepare(
        "SELECT type, name, sql FROM snap.sqlite_schema WHERE sql IS NOT NULL AND "
        "tbl_name LIKE 'engram\\_%' ESCAPE '\\' AND tbl_name <> 'engram_snapshot' "
        "AND type IN ('table', 'index') ORDER BY rowid");
    while (st.step()) objects.push_back({st.column_bytes(0), st.column_bytes(1), st.column_bytes(2)});
  }
  for (const auto& o : objects) {
    if (o.type != "table") continue;
    t.exec(o.sql.c_str(), "creating the restored tables");
    const std::string copy =
        "INSERT INTO main." + detail::quote_ident(o.name) + " SELECT * FROM snap." + detail::quote_ident(o.name);
    t.exec(copy.c_str(), "copying the snapshot");
  }
  for (const auto& o : objects) {
    if (o.type == "index") t.exec(o.sql.c_str(), "creating the restored indexes");
  }
  const std::string app_id = "PRAGMA main.application_id = " + std::to_string(detail::kSqliteApplicationId);
  t.exec(app_id.c_str(), "marking the restored database");
}

// Thrown (and caught) inside restore_from: the destination is an engram database SQLite
// cannot fully read, so it is rebuilt beside and renamed into place instead of rewritten.
struct DamagedDestination {};

// Copies the snapshot into the database open on `t`, in one write transaction: attaches the
// staged copy, takes the destination's write lock, reads the destination's lineage under that
// lock (`lineage_from_target`) or uses `given`, replaces the content and commits. Other
// connections to the destination see the old or the new content, never a mix.
void fill_target(const detail::Db& t, const std::filesystem::path& staged, bool lineage_from_target,
                 const Lineage& given, bool force) {
  {
    const std::string name = staged.string();  // bound without a copy: must outlive the statement
    auto attach = t.prepare("ATTACH DATABASE ?1 AS snap");
    attach.bind_text(1, name);
    attach.run();
  }
  try {
    t.exec("BEGIN IMMEDIATE", "locking the destination");
    Lineage old = given;
    if (lineage_from_target) {
      const auto app_id = t.query_int("PRAGMA main.application_id", "reading the destination header");
      const auto objects = t.query_int("SELECT count(*) FROM main.sqlite_schema", "reading the destination schema");
      if (app_id == detail::kSqliteApplicationId && has_table(t, "main", "engram_meta")) {
        old = read_lineage(t, "main");
        if (!old.known) throw DamagedDestination{};
      } else if (objects != 0 && !force) {
        throw StoreCorrupt("restore: the destination '" + t.file() +
                           "' became another program's database while restoring; nothing was written. "
                           "Remediation: restore into another path.");
      }
    }
    try {
      copy_content(t);
      apply_lineage(t, old);
    } catch (const StoreCorrupt&) {
      // The snapshot was verified, so a damaged page here is the destination's.
      if (lineage_from_target) throw DamagedDestination{};
      throw;
    }
    t.exec("COMMIT", "committing the restore");
  } catch (...) {
    if (sqlite3_get_autocommit(t.handle()) == 0) sqlite3_exec(t.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_exec(t.handle(), "DETACH DATABASE snap", nullptr, nullptr, nullptr);
    throw;
  }
  t.exec("DETACH DATABASE snap", "detaching the snapshot");
}

// Copies `src` page by page into the private file `staged` and checks the copy: an engram
// database this build can read, structurally sound, and matching its recorded digest (or,
// without one, accepted only on request). An older schema is migrated in the copy. `src`
// and the destination are only read.
void stage_snapshot(const std::filesystem::path& src, const std::filesystem::path& staged, const SqliteOptions& options,
                    bool accept_unverified) {
  const std::string where = "restore: snapshot '" + display(src) + "'";
  try {
    detail::Db source(display(src), options.busy_timeout.count());
    source.open(src.string(), SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    if (source.query_int("PRAGMA application_id", "reading the snapshot header") != detail::kSqliteApplicationId) {
      throw StoreCorrupt(where +
                         " is not an engram snapshot (wrong application id). Remediation: pass a "
                         "file written by SqliteStore::snapshot_to().");
    }
    detail::Db copy(display(staged), options.busy_timeout.count());
    copy.open(staged.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    // A scratch file, deleted whatever happens: no journal and no fsync for it.
    copy.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", "preparing the staged copy");
    std::string message;
    const int rc = copy_database(copy.handle(), source.handle(), message);
    if (rc != SQLITE_DONE) {
      const int primary = rc & 0xff;
      if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
        throw StoreCorrupt(where + " cannot be read: " + message + ". Remediation: use an older snapshot.");
      }
      checkpoint_error(
          where + " could not be copied beside the destination: " + message + " (" + sqlite3_errstr(rc) + ").",
          primary == SQLITE_FULL ? "free disk space and retry." : "check that the destination directory is writable.");
    }
    source.close();

    const int version = detail::read_schema_version(copy);
    if (version > kSqliteSchemaVersion) {
      throw SchemaError(where + " has schema version " + std::to_string(version) + ", newer than this build (" +
                        std::to_string(kSqliteSchemaVersion) + "). Remediation: restore it with a newer engram.");
    }
    const std::string check = copy.query_text("PRAGMA quick_check(1)", "checking the snapshot");
    if (check != "ok") {
      throw StoreCorrupt(where + " fails SQLite's integrity check (" + check +
                         "); nothing was restored. Remediation: use an older snapshot.");
    }
    if (has_table(copy, "main", detail::kSnapshotTable)) {
      auto value = [&](const char* key) -> std::optional<std::string> {
        auto st = copy.prepare("SELECT value FROM main.engram_snapshot WHERE key = ?1");
        st.bind_text(1, key);
        if (!st.step()) return std::nullopt;
        return st.column_bytes(0);
      };
      const auto format = value("format");
      const auto recorded = value("digest");
      if (format != std::optional<std::string>(detail::kSnapshotFormat)) {
        throw SchemaError(where + " has snapshot format '" + format.value_or("(none)") +
                          "', which this build cannot verify (expected '" + detail::kSnapshotFormat +
                          "'). Remediation: restore it with the engram that wrote it, or a newer one.");
      }
      const std::string actual = detail::content_digest(copy);
      if (!recorded || *recorded != actual) {
        throw StoreCorrupt(where + " does not match its checksum (recorded " + recorded.value_or("(none)") +
                           ", content hashes to " + actual +
                           "): its rows were changed after it was written (bit rot, a partial copy or an "
                           "edit). Nothing was restored and the destination is unchanged. Remediation: restore "
                           "an older snapshot, or take a new one from a healthy store.");
      }
    } else if (!accept_unverified) {
      checkpoint_error(where +
                           " carries no checksum (it was written by an engram older than snapshot "
                           "checksums, or it is a live database file, not a snapshot), so a silently changed "
                           "row could not be detected. Nothing was restored.",
                       "take a new snapshot with snapshot_to(); or, if you trust this file, restore it with "
                       "SqliteStore::RestoreOptions{.accept_unverified = true}.");
    }
    if (version < kSqliteSchemaVersion) detail::migrate_schema(copy);
  } catch (const SchemaError&) {
    throw;
  } catch (const StoreCorrupt&) {
    throw;
  } catch (const CheckpointError&) {
    throw;
  } catch (const StoreError& e) {
    // Not a database at all, unreadable, ...: say it is the snapshot that is bad.
    throw StoreCorrupt(where + " cannot be read: " + e.what());
  }
}

// Builds the restored database in a new private file beside `dest`, then renames it over
// `dest` (after removing dest's -wal/-shm/-journal, which would otherwise be replayed onto
// the new file). For destinations no connection can be using: missing, damaged, or replaced
// by force.
void replace_file(const std::filesystem::path& staged, const std::filesystem::path& dest, const Lineage& old,
                  const SqliteOptions& options) {
  const auto built = temp_beside(dest);
  create_private_exclusive(built);
  try {
    {
      detail::Db t(display(dest), options.busy_timeout.count());
      t.open(built.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
      // Nobody else sees this file before the rename and a failure deletes it, so it needs no
      // journal and no fsync per commit: one fsync of the finished file below makes it durable
      // before the rename publishes it.
      t.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", "preparing the restored copy");
      fill_target(t, staged, false, old, true);
    }
    fsync_file(built);
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      auto f = dest;
      f += suffix;
      remove_quietly(f);
    }
    std::error_code ec;
    std::filesystem::rename(built, dest, ec);
    if (ec) {
      checkpoint_error("restore: cannot move the restored copy to '" + display(dest) + "': " + ec.message() + ".",
                       "check that the destination directory is writable.");
    }
    fsync_directory(dest);
  } catch (...) {
    remove_database_files(built);
    throw;
  }
}

}  // namespace

SqliteStore SqliteStore::restore_from(const std::filesystem::path& src, Location dest, SqliteOptions options) {
  return restore_from(src, std::move(dest), options, RestoreOptions{});
}

SqliteStore SqliteStore::restore_from(const std::filesystem::path& src, Location dest, SqliteOptions options,
                                      RestoreOptions how) {
  if (dest.empty() || dest.native() == ":memory:" || dest.native().rfind("file:", 0) == 0) {
    throw InvalidArgument("restore_from needs a plain destination file path, not '" + display(dest) +
                          "' (an in-memory database would vanish on close). Remediation: pass a file path.");
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(src, ec)) {
    checkpoint_error("restore: snapshot '" + display(src) + "' does not exist or is not a file.",
                     "pass the path of a file written by snapshot_to().");
  }
  if (std::filesystem::exists(dest, ec) && std::filesystem::equivalent(src, dest, ec)) {
    throw InvalidArgument("restore_from: source and destination are the same file ('" + display(src) +
                          "'). Remediation: restore into another path.");
  }

  // 1. Never destroy what is not ours: decided by reads alone, before anything is written.
  const DestKind kind = classify_destination(dest, options);
  if ((kind == DestKind::kForeign || kind == DestKind::kNotADatabase) && !how.force) {
    throw StoreCorrupt("restore: the destination '" + display(dest) + "' exists and is not an engram database (" +
                       (kind == DestKind::kForeign ? "another program's SQLite database" : "not a SQLite database") +
                       "); restoring would destroy it, so nothing was written. Remediation: restore into another "
                       "path, or pass SqliteStore::RestoreOptions{.force = true} to replace the file.");
  }

  // 2. A private, verified copy of the snapshot beside the destination.
  const auto staged = temp_beside(dest);
  create_private_exclusive(staged);
  try {
    stage_snapshot(src, staged, options, how.accept_unverified);

    // 3. Into place. A live engram store or an empty database is rewritten in one transaction
    //    under its write lock, so connections that have it open see the old or the new content
    //    (and, through the counter, rebuild). Anything else is built beside and renamed over.
    bool in_place = kind == DestKind::kEngram || kind == DestKind::kEmpty;
    if (in_place) {
      try {
        detail::Db t(display(dest), options.busy_timeout.count());
        try {
          t.open(dest.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
        } catch (const StoreError& e) {
          checkpoint_error(std::string("restore: cannot open the destination: ") + e.what(),
                           "check the destination path and its permissions.");
        }
        fill_target(t, staged, true, Lineage{}, how.force);
      } catch (const DamagedDestination&) {
        in_place = false;  // rebuilt beside below, moving the counter past what it cannot read
      }
    }
    if (!in_place) {
      Lineage old;
      if (kind == DestKind::kEngram || kind == DestKind::kDamagedEngram) {
        // Readers may have been attached: carry the counter and ids past whatever can still be
        // read of it (or past the margin when nothing can).
        detail::Db probe(display(dest), options.busy_timeout.count());
        try {
          probe.open(dest.string(), SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
          old = read_lineage(probe, "main");
        } catch (const StoreError&) {
          old.held_store = true;
          old.known = false;
        }
      }
      replace_file(staged, dest, old, options);
    }
  } catch (...) {
    remove_database_files(staged);
    throw;
  }
  remove_database_files(staged);
  return SqliteStore(std::move(dest), options);
}

// ---- maintenance -------------------------------------------------------------------------

std::vector<std::string> SqliteStore::maintenance_kinds() const {
  live();
  return {"analyze", "checkpoint", "compact"};
}

std::map<std::string, std::string> SqliteStore::maintenance_state() const {
  auto& d = live();
  std::map<std::string, std::string> state;
  state["backend"] = "sqlite";
  state["path"] = d.file();
  state["sqlite_version"] = sqlite3_libversion();
  state["schema_version"] = std::to_string(d.schema_version);
  state["page_size"] = std::to_string(d.db.query_int("PRAGMA page_size", "reading page_size"));
  state["page_count"] = std::to_string(d.db.query_int("PRAGMA page_count", "reading page_count"));
  state["freelist_count"] = std::to_string(d.db.query_int("PRAGMA freelist_count", "reading freelist_count"));
  state["journal_mode"] = d.db.query_text("PRAGMA journal_mode", "reading journal_mode");
  state["change_log_rows"] =
      std::to_string(d.db.query_int("SELECT count(*) FROM engram_changes", "counting the change log"));
  std::uintmax_t file_bytes = 0, wal_bytes = 0;
  if (!d.memory) {
    std::error_code ec;
    const std::filesystem::path db_file = d.db_filename;
    auto size = std::filesystem::file_size(db_file, ec);
    if (!ec) file_bytes = size;
    auto wal = db_file;
    wal += "-wal";
    size = std::filesystem::file_size(wal, ec);
    if (!ec) wal_bytes = size;
  }
  state["file_bytes"] = std::to_string(file_bytes);
  state["wal_bytes"] = std::to_string(wal_bytes);
  for (const char* kind : {"analyze", "checkpoint", "compact"}) {
    auto stmt = d.db.use(detail::Sql::kReadMeta);
    std::string key = std::string("maintenance.last_") + kind;
    stmt.bind_text(1, key);
    state[std::string("last_") + kind] = stmt.step() ? stmt.column_bytes(0) : std::string("never");
  }
  return state;
}

void SqliteStore::run_maintenance(std::string_view kind) {
  auto& d = live();
  if (kind != "analyze" && kind != "compact" && kind != "checkpoint") {
    throw InvalidArgument("unknown maintenance kind '" + std::string(kind) +
                          "'. Remediation: use one of maintenance_kinds(): analyze, checkpoint, compact.");
  }
  // The run time is persisted in meta so that every process (and the engram tool) sees when
  // maintenance last ran. It is written before the work, so that a checkpoint leaves the
  // WAL truly empty, and put back if the work fails.
  const std::string key = "maintenance.last_" + std::string(kind);
  const auto now = std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto previous = read_meta(key);
  d.db.use(detail::Sql::kWriteMeta).bind_text(1, key).bind_text(2, std::to_string(now)).run();
  try {
    try {
      if (kind == "analyze") {
        d.db.exec("ANALYZE", "ANALYZE");
      } else if (kind == "compact") {
        d.db.exec("VACUUM", "VACUUM");
      } else {
        auto stmt = d.db.prepare("PRAGMA wal_checkpoint(TRUNCATE)");
        if (stmt.step() && stmt.column_int(0) != 0) {
          throw StoreUnavailable("SQLite store '" + d.file() +
                                 "': the WAL checkpoint could not complete because other connections "
                                 "are reading or writing. Remediation: retry when they are idle.");
        }
      }
    } catch (const StoreUnavailable&) {
      throw;
    } catch (const StoreCorrupt&) {
      throw;
    } catch (const StoreError& e) {
      throw CheckpointError("maintenance '" + std::string(kind) + "' failed: " + e.what());
    }
  } catch (...) {
    try {
      if (previous) {
        d.db.use(detail::Sql::kWriteMeta).bind_text(1, key).bind_text(2, *previous).run();
      } else {
        auto del = d.db.prepare("DELETE FROM engram_meta WHERE key = ?1");
        del.bind_text(1, key);
        del.run();
      }
    } catch (...) {
      // The original failure is the one to report.
    }
    throw;
  }
}

}  // namespace engram
