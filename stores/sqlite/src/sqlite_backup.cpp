// SqliteStore: integrity check, snapshot/restore (SQLite online backup API) and maintenance.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "engram/errors.hpp"
#include "engram/stores/sqlite_store.hpp"
#include "sqlite_db.hpp"
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
    checkpoint_error("cannot create '" + display(path) + "': " + std::strerror(err) + ".",
                     "check that the directory exists and is writable.");
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
  sqlite3* out = nullptr;
  try {
    int rc = sqlite3_open_v2(tmp.c_str(), &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      checkpoint_error("snapshot of '" + d.file() + "': cannot open '" + display(tmp) +
                           "': " + (out ? sqlite3_errmsg(out) : sqlite3_errstr(rc)) + ".",
                       "check that the snapshot directory is writable.");
    }
    std::string message;
    rc = copy_database(out, d.db.handle(), message);
    if (rc != SQLITE_DONE) {
      int primary = rc & 0xff;
      if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
        detail::throw_sqlite(rc, message, d.file(), "taking a snapshot", d.db.busy_timeout_ms());
      }
      checkpoint_error("snapshot of '" + d.file() + "' to '" + display(dest) + "' failed: " + message + " (" +
                           sqlite3_errstr(rc) + ").",
                       primary == SQLITE_FULL ? "free disk space and retry." : "check the destination path and retry.");
    }
    // A snapshot is a single self-contained file: switch it from WAL (inherited from the
    // source's header) to a rollback journal, so reading it needs no -wal/-shm beside it.
    char* err = nullptr;
    if (sqlite3_exec(out, "PRAGMA journal_mode = DELETE", nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown error";
      sqlite3_free(err);
      checkpoint_error("snapshot of '" + d.file() + "': finishing '" + display(tmp) + "' failed: " + m + ".",
                       "check the destination path and retry.");
    }
    if (sqlite3_close(out) != SQLITE_OK) {
      out = nullptr;
      checkpoint_error("snapshot of '" + d.file() + "': closing '" + display(tmp) + "' failed.",
                       "check the destination path and retry.");
    }
    out = nullptr;
    std::filesystem::rename(tmp, dest, ec);
    if (ec) {
      checkpoint_error(
          "snapshot of '" + d.file() + "': cannot move the copy to '" + display(dest) + "': " + ec.message() + ".",
          "check that the destination is writable and not a directory.");
    }
    fsync_directory(dest);
  } catch (...) {
    if (out != nullptr) sqlite3_close_v2(out);
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

SqliteStore SqliteStore::restore_from(const std::filesystem::path& src, Location dest, SqliteOptions options) {
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

  // Validate the source: an intact engram database this build can read.
  detail::Db source(display(src), options.busy_timeout.count());
  {
    std::string check;
    try {
      source.open(src.string(), SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
      const auto app_id = source.query_int("PRAGMA application_id", "reading the snapshot header");
      if (app_id != detail::kSqliteApplicationId) {
        throw StoreCorrupt("restore: '" + display(src) +
                           "' is not an engram snapshot (wrong application id). Remediation: pass a "
                           "file written by SqliteStore::snapshot_to().");
      }
      const int version = detail::read_schema_version(source);
      if (version > kSqliteSchemaVersion) {
        throw SchemaError("restore: snapshot '" + display(src) + "' has schema version " + std::to_string(version) +
                          ", newer than this build (" + std::to_string(kSqliteSchemaVersion) +
                          "). Remediation: restore it with a newer engram.");
      }
      check = source.query_text("PRAGMA quick_check(1)", "checking the snapshot");
    } catch (const SchemaError&) {
      throw;
    } catch (const StoreCorrupt&) {
      throw;
    } catch (const StoreError& e) {
      // Not a database at all, unreadable, ...: say it is the snapshot that is bad.
      throw StoreCorrupt(std::string("restore: cannot read snapshot '") + display(src) + "': " + e.what());
    }
    if (check != "ok") {
      throw StoreCorrupt("restore: snapshot '" + display(src) + "' fails SQLite's integrity check (" + check +
                         "). Remediation: use an older snapshot.");
    }
  }

  // Copy into dest through SQLite, which takes dest's write lock: handles open on dest see
  // the old or the new content, never a mix. A dest that is not a database is replaced.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!std::filesystem::exists(dest, ec)) {
      int fd = ::open(dest.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) {
        int err = errno;
        checkpoint_error("restore: cannot create '" + display(dest) + "': " + std::strerror(err) + ".",
                         "check that the directory exists and is writable.");
      }
      ::close(fd);
    }
    detail::Db target(display(dest), options.busy_timeout.count());
    try {
      target.open(dest.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    } catch (const StoreError& e) {
      checkpoint_error(std::string("restore: cannot open destination: ") + e.what(),
                       "check the destination path and its permissions.");
    }
    std::string message;
    int rc = copy_database(target.handle(), source.handle(), message);
    if (rc == SQLITE_DONE) {
      target.close();
      return SqliteStore(std::move(dest), options);
    }
    const int primary = rc & 0xff;
    target.close();
    if ((primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) && attempt == 0) {
      // The destination is garbage (the usual reason to restore): nobody can be using it.
      remove_database_files(dest);
      continue;
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      throw StoreUnavailable("restore into '" + display(dest) + "' failed: " + message +
                             ": another connection holds its lock. Remediation: retry when the "
                             "writers on the destination are idle, or raise SqliteOptions::busy_timeout.");
    }
    checkpoint_error("restore of '" + display(src) + "' into '" + display(dest) + "' failed: " + message + " (" +
                         sqlite3_errstr(rc) + ").",
                     "check the destination path, its permissions and free disk space.");
  }
  checkpoint_error("restore into '" + display(dest) + "' failed.", "delete the destination and retry.");
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
