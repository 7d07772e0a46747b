#include "sqlite_schema.hpp"

#include <charconv>
#include <string>

#include "engram/errors.hpp"
#include "engram/stores/sqlite_store.hpp"

namespace engram::detail {
namespace {

// Version 1: entries, meta, quotas and the version counter. Namespaces are BLOBs because they
// are arbitrary byte strings compared exactly (embedded NULs included); query, response and
// metadata are TEXT bound with explicit lengths. AUTOINCREMENT so that an id is never reused
// after a delete: readers of the change feed may still hold the old id.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE engram_meta(
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE engram_entries(
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  ns               BLOB NOT NULL,
  hash             BLOB NOT NULL CHECK (length(hash) = 16),
  query            TEXT NOT NULL,
  response         TEXT NOT NULL,
  embedding        BLOB NOT NULL,
  metadata         TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  last_accessed_at INTEGER NOT NULL,
  ttl_ms           INTEGER,
  access_count     INTEGER NOT NULL DEFAULT 0,
  UNIQUE (ns, hash)
) STRICT;
CREATE INDEX engram_entries_lru ON engram_entries(last_accessed_at, id);
CREATE INDEX engram_entries_ns_lru ON engram_entries(ns, last_accessed_at, id);
CREATE TABLE engram_quotas(
  ns          BLOB PRIMARY KEY NOT NULL,
  max_entries INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE engram_state(
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  version   INTEGER NOT NULL
) STRICT;
INSERT INTO engram_state(singleton, version) VALUES (1, 0);
PRAGMA application_id = 1164863346;
)sql";

// Version 2: the change feed. The log holds every change with version > log_floor; a file
// migrated from version 1 starts with an empty log at its current version, so a reader that
// is behind rebuilds once. The partial expression index serves delete_expired.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE engram_state ADD COLUMN log_floor INTEGER NOT NULL DEFAULT 0;
UPDATE engram_state SET log_floor = version;
CREATE TABLE engram_changes(
  version  INTEGER PRIMARY KEY,
  entry_id INTEGER NOT NULL,
  kind     INTEGER NOT NULL CHECK (kind IN (0, 1))
) STRICT;
CREATE INDEX engram_entries_expiry ON engram_entries(created_at + ttl_ms) WHERE ttl_ms IS NOT NULL;
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSqliteSchemaVersion,
              "one migration step per schema version");

bool parse_int(std::string_view text, long long& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

[[noreturn]] void not_engram(const Db& db, const std::string& why) {
  throw StoreCorrupt("SQLite store '" + db.file() + "': the file is a SQLite database but not an engram store (" + why +
                     "). Remediation: point SqliteStore at a new file or at an engram "
                     "database; engram never writes into a foreign database.");
}

std::optional<std::string> meta_value(const Db& db, std::string_view key) {
  auto stmt = db.prepare("SELECT value FROM engram_meta WHERE key = ?1");
  stmt.bind_text(1, key);
  if (!stmt.step()) return std::nullopt;
  return stmt.column_bytes(0);
}

void set_meta(const Db& db, std::string_view key, std::string_view value) {
  auto stmt = db.prepare(
      "INSERT INTO engram_meta(key, value) VALUES (?1, ?2) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  stmt.bind_text(1, key).bind_text(2, value);
  stmt.run();
}

bool has_table(const Db& db, const char* name) {
  auto stmt = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
  stmt.bind_text(1, name);
  return stmt.step();
}

// 0 for an empty database; the recorded version for an engram one; throws otherwise.
int detect_version(const Db& db) {
  const auto app_id = db.query_int("PRAGMA application_id", "reading the application id");
  if (!has_table(db, "engram_meta")) {
    const auto objects = db.query_int("SELECT count(*) FROM sqlite_schema", "reading the schema");
    if (objects > 0) not_engram(db, "it has tables but no engram_meta");
    if (app_id != 0 && app_id != kSqliteApplicationId) not_engram(db, "its application_id belongs to another program");
    return 0;
  }
  if (app_id != kSqliteApplicationId) not_engram(db, "its application_id is not engram's");
  return read_schema_version(db);
}

}  // namespace

const Migration* sqlite_migrations(std::size_t& count) noexcept {
  count = sizeof(kMigrations) / sizeof(kMigrations[0]);
  return kMigrations;
}

int inspect_schema(const Db& db) { return detect_version(db); }

int read_schema_version(const Db& db) {
  auto text = meta_value(db, "schema_version");
  long long version = 0;
  if (!text || !parse_int(*text, version) || version < 1) {
    throw StoreCorrupt("SQLite store '" + db.file() +
                       "': engram_meta has no valid schema_version. Remediation: restore the "
                       "database from a snapshot or delete it.");
  }
  return static_cast<int>(version);
}

namespace {

// Inside the caller's write transaction: refuses a foreign or newer file, applies the missing
// migration steps in order and records the resulting schema version.
int apply_migrations(const Db& db) {
  int version = detect_version(db);
  if (version > kSqliteSchemaVersion) {
    throw SchemaError("SQLite store '" + db.file() + "' has schema version " + std::to_string(version) +
                      ", newer than this build of engram understands (" + std::to_string(kSqliteSchemaVersion) +
                      "). Remediation: upgrade engram in this program, or use another file.");
  }
  for (const auto& step : kMigrations) {
    if (step.to <= version) continue;
    try {
      db.exec(step.sql, "migrating the schema");
    } catch (const StoreCorrupt&) {
      throw;
    } catch (const StoreUnavailable&) {
      throw;
    } catch (const StoreError& e) {
      throw SchemaError("SQLite store '" + db.file() + "': migration from schema version " +
                        std::to_string(step.to - 1) + " to " + std::to_string(step.to) +
                        " failed, nothing was changed: " + e.what());
    }
    version = step.to;
  }
  set_meta(db, "schema_version", std::to_string(version));
  return version;
}

void rollback_if_open(const Db& db) {
  if (sqlite3_get_autocommit(db.handle()) == 0) sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace

int migrate_schema(const Db& db) {
  db.exec("BEGIN IMMEDIATE", "starting the migration transaction");
  try {
    const int version = apply_migrations(db);
    db.exec("COMMIT", "committing the migration");
    return version;
  } catch (...) {
    rollback_if_open(db);
    throw;
  }
}

int prepare_schema(const Db& db, std::string_view fingerprint, std::size_t dim) {
  db.exec("BEGIN IMMEDIATE", "starting the schema transaction");
  try {
    const int version = apply_migrations(db);

    // Dimension first: a different dimension makes every stored vector unusable, whatever
    // the embedder's name.
    if (auto stored = meta_value(db, "dim")) {
      long long stored_dim = 0;
      if (!parse_int(*stored, stored_dim)) {
        throw StoreCorrupt("SQLite store '" + db.file() + "': meta 'dim' is not a number ('" + *stored +
                           "'). Remediation: restore the database from a snapshot or delete it.");
      }
      if (static_cast<unsigned long long>(stored_dim) != dim) {
        throw DimensionMismatch("SQLite store '" + db.file() + "' holds embeddings of dimension " + *stored +
                                ", but the embedder produces " + std::to_string(dim) +
                                ". Remediation: use the embedder the cache was built with, or "
                                "point the cache at a new file.");
      }
    } else {
      set_meta(db, "dim", std::to_string(dim));
    }
    if (auto stored = meta_value(db, "fingerprint")) {
      if (*stored != fingerprint) {
        throw EmbedderMismatch("SQLite store '" + db.file() + "' was built by embedder '" + *stored + "', not '" +
                               std::string(fingerprint) +
                               "'. Remediation: use the same embedder (model and settings), or "
                               "point the cache at a new file.");
      }
    } else {
      set_meta(db, "fingerprint", fingerprint);
    }
    db.exec("COMMIT", "committing the schema transaction");
    return version;
  } catch (...) {
    rollback_if_open(db);
    throw;
  }
}

}  // namespace engram::detail
