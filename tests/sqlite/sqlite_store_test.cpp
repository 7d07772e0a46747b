// SqliteStore in one process: file mode, schema, migrations, damaged and foreign files,
// version counter caching, change-log retention, snapshot/restore, maintenance, ":memory:".

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "engram/errors.hpp"
#include "sqlite_test_util.hpp"
#include "temp_dir.hpp"

namespace engram {
namespace {

using sqlite_test::at;
using sqlite_test::kDim;
using sqlite_test::kFingerprint;
using sqlite_test::make_entry;
using sqlite_test::open_store;
using sqlite_test::RawDb;
using testing::TempDir;

unsigned file_mode(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0xffff;
  return st.st_mode & 0777;
}

std::size_t count_rows(const SqliteStore& s) {
  std::size_t n = 0;
  s.iter_all([&](const StoredEntry&) {
    ++n;
    return true;
  });
  return n;
}

// ---- background checkpoints ----------------------------------------------------------------

std::uintmax_t wal_size(const std::filesystem::path& db) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(db.string() + "-wal", ec);
  return ec ? 0 : n;
}

// Commits past wal_autocheckpoint_pages wake the store's checkpoint thread, which copies the WAL
// into the database file on a connection of its own: the writer's commits never checkpoint
// (its connection has no autocheckpoint), yet the database file fills up while it is open.
TEST(SqliteCheckpoint, BackgroundThreadCopiesTheWalIntoTheDatabase) {
  TempDir dir;
  const auto path = dir / "cache.db";
  SqliteOptions o;
  o.wal_autocheckpoint_pages = 50;
  SqliteStore s(path, o);
  s.open(kFingerprint, kDim);
  const auto initial = std::filesystem::file_size(path);
  for (int i = 0; i < 1000; ++i) s.insert(make_entry("ns", "k" + std::to_string(i)));
  // 1000 entries with their index and change-log rows: well over 64 KiB once in the file.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::size_t pokes = 0;
  while (std::filesystem::file_size(path) < initial + (std::uintmax_t{64} << 10) &&
         std::chrono::steady_clock::now() < deadline) {
    s.insert(make_entry("ns", "poke" + std::to_string(pokes++)));  // wakes the thread again
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(std::filesystem::file_size(path), initial + (std::uintmax_t{64} << 10));
  EXPECT_GT(s.poll_stats().background_checkpoints, 0u);
  EXPECT_LT(wal_size(path), std::uintmax_t{64} << 20);
  EXPECT_EQ(count_rows(s), 1000 + pokes);
  s.close();
  SqliteStore again(path);
  again.open(kFingerprint, kDim);
  EXPECT_EQ(count_rows(again), 1000 + pokes);
}

// A burst (one 3,000-row transaction here) grows the -wal file far past the checkpoint
// threshold; once the background checkpoint has copied it, the next commit restarts the WAL
// and shrinks the file back to twice the threshold (PRAGMA journal_size_limit).
TEST(SqliteCheckpoint, WalShrinksAfterABurst) {
  TempDir dir;
  const auto path = dir / "cache.db";
  SqliteOptions o;
  o.wal_autocheckpoint_pages = 10;
  SqliteStore s(path, o);
  s.open(kFingerprint, kDim);
  std::vector<StoredEntry> burst;
  burst.reserve(3000);
  for (int i = 0; i < 3000; ++i) burst.push_back(make_entry("ns", "burst" + std::to_string(i)));
  s.insert_many(burst);
  const std::uintmax_t limit = std::uintmax_t{2} * 10 * 4096;
  ASSERT_GT(wal_size(path), 4 * limit);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::size_t pokes = 0;
  while (wal_size(path) > limit && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));   // the checkpointer copies the burst
    s.insert(make_entry("ns", "poke" + std::to_string(pokes++)));  // restarts the WAL once it has
  }
  EXPECT_LE(wal_size(path), limit);
  EXPECT_EQ(count_rows(s), 3000 + pokes);
}

TEST(SqliteCheckpoint, OffMeansSqlitesOwnAutocheckpoint) {
  TempDir dir;
  SqliteOptions o;
  o.wal_autocheckpoint_pages = 50;
  o.background_checkpoint = false;
  SqliteStore s(dir / "cache.db", o);
  s.open(kFingerprint, kDim);
  for (int i = 0; i < 300; ++i) s.insert(make_entry("ns", "k" + std::to_string(i)));
  EXPECT_EQ(s.poll_stats().background_checkpoints, 0u);
  EXPECT_EQ(count_rows(s), 300u);
}

// ---- file and schema ---------------------------------------------------------------------

TEST(SqliteFile, CreatedWithMode0600EvenWithPermissiveUmask) {
  TempDir dir;
  const auto path = dir / "cache.db";
  const mode_t old = ::umask(0);  // the store must not rely on the umask
  SqliteStore s(path);
  s.open(kFingerprint, kDim);
  ::umask(old);
  s.insert(make_entry("ns", "k"));  // makes SQLite create -wal and -shm
  EXPECT_EQ(file_mode(path), 0600u);
  auto wal = path;
  wal += "-wal";
  auto shm = path;
  shm += "-shm";
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_EQ(file_mode(wal), 0600u);
  EXPECT_EQ(file_mode(shm), 0600u);
}

TEST(SqliteFile, RecordedIdentityReadsTheEmbedderWithoutOpening) {
  TempDir dir;
  const auto path = dir / "id.db";
  EXPECT_FALSE(SqliteStore::recorded_identity(path));  // no file yet
  {
    SqliteStore store(path);
    store.open(kFingerprint, kDim);
  }
  const auto identity = SqliteStore::recorded_identity(path);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->fingerprint, kFingerprint);
  EXPECT_EQ(identity->dim, kDim);

  const auto garbage = dir / "garbage.db";
  std::ofstream(garbage) << std::string(5000, 'x');
  EXPECT_THROW(SqliteStore::recorded_identity(garbage), StoreCorrupt);
}

TEST(SqliteFile, ConstructingDoesNotCreateTheFile) {
  TempDir dir;
  SqliteStore s(dir / "lazy.db");
  EXPECT_FALSE(std::filesystem::exists(dir / "lazy.db"));
  EXPECT_FALSE(s.is_open());
  EXPECT_THROW((void)s.count(), CacheClosed);
}

TEST(SqliteFile, MissingDirectoryThrowsStoreErrorWithRemediation) {
  TempDir dir;
  SqliteStore s(dir / "no" / "such" / "cache.db");
  try {
    s.open(kFingerprint, kDim);
    FAIL() << "open() in a missing directory succeeded";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("Remediation:"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(s.is_open());
}

TEST(SqliteSchema, TablesAreStrictAndPragmasSet) {
  TempDir dir;
  const auto path = dir / "cache.db";
  auto s = open_store(path);
  s.insert(make_entry("ns", "k"));
  RawDb raw(path);
  for (const char* table : {"engram_entries", "engram_meta", "engram_quotas", "engram_state", "engram_changes"}) {
    const auto sql = raw.text(std::string("SELECT sql FROM sqlite_schema WHERE name = '") + table + "'");
    EXPECT_NE(sql.find("STRICT"), std::string::npos) << table << ": " << sql;
  }
  // STRICT enforces the column types: a text hash or a real timestamp is refused.
  EXPECT_NE(raw.try_exec("INSERT INTO engram_entries(ns, hash, query, response, embedding, metadata, created_at, "
                         "last_accessed_at) VALUES (x'', 'not a blob', '', '', x'', '{}', 1, 1)"),
            SQLITE_OK);
  EXPECT_NE(raw.try_exec("INSERT INTO engram_entries(ns, hash, query, response, embedding, metadata, created_at, "
                         "last_accessed_at) VALUES (x'', x'00112233445566778899aabbccddeeff', '', '', x'', '{}', "
                         "1.5, 1)"),
            SQLITE_OK);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.integer("PRAGMA application_id"), 0x456E6772);
  EXPECT_EQ(raw.text("SELECT value FROM engram_meta WHERE key = 'schema_version'"),
            std::to_string(kSqliteSchemaVersion));
  EXPECT_EQ(raw.text("SELECT value FROM engram_meta WHERE key = 'fingerprint'"), std::string(kFingerprint));
  EXPECT_EQ(raw.text("SELECT value FROM engram_meta WHERE key = 'dim'"), "8");
  // Hash and embedding are BLOBs of 16 and 4 * dim bytes; timestamps integers.
  EXPECT_EQ(raw.text("SELECT typeof(hash) || length(hash) || typeof(embedding) || length(embedding) || "
                     "typeof(created_at) || typeof(ttl_ms) FROM engram_entries"),
            "blob16blob32integernull");
  const auto indexes = raw.text(
      "SELECT group_concat(name) FROM sqlite_schema WHERE type = 'index' AND "
      "tbl_name = 'engram_entries' AND sql IS NOT NULL");
  EXPECT_NE(indexes.find("engram_entries_lru"), std::string::npos) << indexes;
  EXPECT_NE(indexes.find("engram_entries_ns_lru"), std::string::npos) << indexes;
}

TEST(SqliteSchema, EmbeddingIsLittleEndianFloat32) {
  TempDir dir;
  const auto path = dir / "cache.db";
  auto s = open_store(path);
  auto e = make_entry("ns", "k");
  e.embedding = {1.0f, -2.0f, 0.0f, -0.0f, std::numeric_limits<float>::denorm_min(), 3.5f, 0.25f, 1e-30f};
  const EntryId id = s.insert(e);
  std::string expected;
  for (float f : e.embedding) {
    const auto bits = std::bit_cast<std::uint32_t>(f);
    for (int b = 0; b < 4; ++b) {  // least significant byte first, whatever the host
      char hex[3];
      std::snprintf(hex, sizeof hex, "%02X", static_cast<unsigned>((bits >> (8 * b)) & 0xff));
      expected += hex;
    }
  }
  RawDb raw(path);
  EXPECT_EQ(raw.text("SELECT hex(embedding) FROM engram_entries WHERE id = " + std::to_string(id)), expected);
  EXPECT_EQ(expected.substr(0, 16), "0000803F000000C0");  // 1.0f, -2.0f
}

TEST(SqliteSchema, NewerSchemaThrowsSchemaError) {
  TempDir dir;
  const auto path = dir / "cache.db";
  open_store(path).close();
  {
    RawDb raw(path);
    raw.exec("UPDATE engram_meta SET value = '" + std::to_string(kSqliteSchemaVersion + 1) +
             "' WHERE key = 'schema_version'");
  }
  SqliteStore s(path);
  try {
    s.open(kFingerprint, kDim);
    FAIL() << "a newer schema was accepted";
  } catch (const SchemaError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("newer"), std::string::npos) << m;
    EXPECT_NE(m.find("Remediation:"), std::string::npos) << m;
  }
  EXPECT_FALSE(s.is_open());
  RawDb raw(path);
  EXPECT_EQ(raw.text("SELECT value FROM engram_meta WHERE key = 'schema_version'"),
            std::to_string(kSqliteSchemaVersion + 1))
      << "a refused open must not touch the file";
}

// The version-1 schema exactly as the first release wrote it (no change log).
void write_version1_file(const std::filesystem::path& path) {
  RawDb raw(path);
  raw.exec(R"sql(
BEGIN;
CREATE TABLE engram_meta(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE engram_entries(
  id INTEGER PRIMARY KEY AUTOINCREMENT, ns BLOB NOT NULL,
  hash BLOB NOT NULL CHECK (length(hash) = 16), query TEXT NOT NULL, response TEXT NOT NULL,
  embedding BLOB NOT NULL, metadata TEXT NOT NULL, created_at INTEGER NOT NULL,
  last_accessed_at INTEGER NOT NULL, ttl_ms INTEGER, access_count INTEGER NOT NULL DEFAULT 0,
  UNIQUE (ns, hash)) STRICT;
CREATE INDEX engram_entries_lru ON engram_entries(last_accessed_at, id);
CREATE INDEX engram_entries_ns_lru ON engram_entries(ns, last_accessed_at, id);
CREATE TABLE engram_quotas(ns BLOB PRIMARY KEY NOT NULL, max_entries INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE engram_state(singleton INTEGER PRIMARY KEY CHECK (singleton = 1), version INTEGER NOT NULL) STRICT;
INSERT INTO engram_state VALUES (1, 3);
PRAGMA application_id = 1164863346;
INSERT INTO engram_meta VALUES ('schema_version', '1'), ('fingerprint', 'engram:test:sqlite:d8'), ('dim', '8');
INSERT INTO engram_quotas VALUES (CAST('old' AS BLOB), 5);
INSERT INTO engram_entries(ns, hash, query, response, embedding, metadata, created_at, last_accessed_at, ttl_ms)
  VALUES (CAST('old' AS BLOB), x'000102030405060708090a0b0c0d0e0f', 'q1', 'r1',
          x'0000803f00000000000000000000000000000000000000000000000000000000', '{}', 1000, 1000, NULL);
INSERT INTO engram_entries(ns, hash, query, response, embedding, metadata, created_at, last_accessed_at, ttl_ms)
  VALUES (CAST('old' AS BLOB), x'100102030405060708090a0b0c0d0e0f', 'q2', 'r2',
          x'000000000000803f000000000000000000000000000000000000000000000000', '{"a":1}', 2000, 2500, 60000);
COMMIT;
)sql");
}

TEST(SqliteSchema, MigratesVersion1FileForward) {
  TempDir dir;
  const auto path = dir / "old.db";
  write_version1_file(path);
  auto s = open_store(path);
  EXPECT_EQ(s.read_meta("schema_version"), std::optional<std::string>(std::to_string(kSqliteSchemaVersion)));
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(s.count("old"), 2u);
  EXPECT_EQ(s.get_namespace_quota("old"), std::optional<std::size_t>(5));
  QueryHash h;
  for (std::size_t i = 0; i < 16; ++i) h.bytes[i] = static_cast<std::uint8_t>(i == 0 ? 0x10 : i);
  auto e = s.get_by_hash("old", h);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->query, "q2");
  EXPECT_EQ(e->metadata, "{\"a\":1}");
  EXPECT_EQ(e->ttl, std::optional<Millis>(Millis(60000)));
  EXPECT_EQ(e->last_accessed_at, Timestamp(Millis(2500)));
  ASSERT_EQ(e->embedding.size(), 8u);
  EXPECT_EQ(e->embedding[1], 1.0f);
  // The counter survives; the log starts empty at it, so older readers must rebuild.
  EXPECT_EQ(s.read_version_counter(), 3u);
  EXPECT_FALSE(s.changes_since(0, 100).has_value());
  ASSERT_TRUE(s.changes_since(3, 100).has_value());
  EXPECT_TRUE(s.changes_since(3, 100)->empty());
  const EntryId id = s.insert(make_entry("new", "k"));
  EXPECT_GT(id, 2);
  auto changes = s.changes_since(3, 100);
  ASSERT_TRUE(changes.has_value());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0], (Change{4, id, ChangeKind::kUpsert}));
  EXPECT_TRUE(s.integrity_check());
  s.close();
  // Reopening a migrated file is a no-op migration.
  auto again = open_store(path);
  EXPECT_EQ(again.count(), 3u);
  EXPECT_EQ(again.read_version_counter(), 4u);
}

TEST(SqliteSchema, FailedMigrationChangesNothing) {
  TempDir dir;
  const auto path = dir / "old.db";
  write_version1_file(path);
  {
    // An object in the way of the version-2 step makes it fail half way.
    RawDb raw(path);
    raw.exec("CREATE TABLE engram_changes(x INTEGER) STRICT");
  }
  SqliteStore s(path);
  EXPECT_THROW(s.open(kFingerprint, kDim), SchemaError);
  RawDb raw(path);
  EXPECT_EQ(raw.text("SELECT value FROM engram_meta WHERE key = 'schema_version'"), "1");
  EXPECT_EQ(raw.integer("SELECT count(*) FROM pragma_table_info('engram_state') WHERE name = 'log_floor'"), 0)
      << "the first statements of the failed step were rolled back";
}

// ---- damaged and foreign files -----------------------------------------------------------

void expect_corrupt_on_open(const std::filesystem::path& path, const char* what) {
  SqliteStore s(path);
  try {
    s.open(kFingerprint, kDim);
    ADD_FAILURE() << what << ": open() succeeded";
  } catch (const StoreCorrupt& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path.string()), std::string::npos) << m;
    EXPECT_NE(m.find("Remediation:"), std::string::npos) << m;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": expected StoreCorrupt, got " << e.what();
  }
  EXPECT_FALSE(s.is_open());
  EXPECT_FALSE(s.integrity_check());
}

TEST(SqliteDamage, GarbageFileThrowsStoreCorrupt) {
  TempDir dir;
  const auto path = dir / "garbage.db";
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 64 * 1024; ++i) out.put(static_cast<char>((i * 7919 + 13) & 0xff));
  }
  expect_corrupt_on_open(path, "garbage");
  EXPECT_EQ(std::filesystem::file_size(path), 64u * 1024u) << "the store must not overwrite a file it refuses";
}

TEST(SqliteDamage, TextFileThrowsStoreCorrupt) {
  TempDir dir;
  const auto path = dir / "notes.txt";
  {
    std::ofstream out(path);
    out << "these are not the bytes you are looking for\n";
  }
  expect_corrupt_on_open(path, "text file");
}

TEST(SqliteDamage, TruncatedFileThrowsStoreCorrupt) {
  TempDir dir;
  const auto path = dir / "cache.db";
  {
    auto s = open_store(path);
    for (int i = 0; i < 300; ++i) s.insert(make_entry("ns", sqlite_test::numbered("k", i)));
    s.close();  // the last connection checkpoints the WAL into the file
  }
  auto wal = path;
  wal += "-wal";
  ASSERT_FALSE(std::filesystem::exists(wal));
  const auto size = std::filesystem::file_size(path);
  ASSERT_GT(size, 8u * 4096u);
  for (auto keep : {size / 2, std::uintmax_t{4096}, std::uintmax_t{1000}}) {
    auto copy = dir / ("truncated-" + std::to_string(keep) + ".db");
    std::filesystem::copy_file(path, copy);
    std::filesystem::resize_file(copy, keep);
    expect_corrupt_on_open(copy, "truncated");
  }
}

TEST(SqliteDamage, ForeignSqliteDatabaseIsRefused) {
  TempDir dir;
  const auto path = dir / "app.db";
  {
    RawDb raw(path);
    raw.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'x')");
  }
  expect_corrupt_on_open(path, "foreign database");
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'engram%'"), 0);
}

TEST(SqliteDamage, RefusedForeignDatabaseIsLeftByteIdentical) {
  TempDir dir;
  const auto path = dir / "app.db";
  sqlite_test::make_foreign_database(path);
  const auto before = sqlite_test::file_state(path);
  ASSERT_FALSE(before.bytes.empty());
  expect_corrupt_on_open(path, "foreign database");
  EXPECT_TRUE(sqlite_test::file_state(path) == before) << "a refused open must not write to the file";
  for (const char* side : {"-wal", "-shm", "-journal"}) {
    auto f = path;
    f += side;
    EXPECT_FALSE(std::filesystem::exists(f)) << f;
  }
  RawDb raw(path, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete") << "the foreign database was switched to WAL";
  EXPECT_EQ(raw.integer("SELECT count(*) FROM customers"), 3);
}

TEST(SqliteDamage, EmptyFileIsAFreshStore) {
  TempDir dir;
  const auto path = dir / "empty.db";
  { std::ofstream touch(path); }
  auto s = open_store(path);
  EXPECT_EQ(s.count(), 0u);
  EXPECT_TRUE(s.integrity_check());
}

TEST(SqliteDamage, DamagedPagesAreReportedNotCrashed) {
  TempDir dir;
  const auto path = dir / "cache.db";
  {
    auto s = open_store(path);
    for (int i = 0; i < 400; ++i)
      s.insert(make_entry(sqlite_test::numbered("ns", i % 4), sqlite_test::numbered("k", i)));
    s.close();
  }
  const auto size = std::filesystem::file_size(path);
  {
    // Scribble over every page but the first (the schema), like a bad disk would.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    for (std::uintmax_t off = 4096 + 100; off < size; off += 4096) {
      f.seekp(static_cast<std::streamoff>(off));
      for (int i = 0; i < 200; ++i) f.put(static_cast<char>(0xA5 ^ i));
    }
  }
  SqliteStore s(path);
  bool reported = false;
  try {
    s.open(kFingerprint, kDim);
    EXPECT_FALSE(s.integrity_check());
    reported = !s.integrity_check();
    try {
      (void)count_rows(s);
    } catch (const StoreCorrupt&) {
    }
  } catch (const StoreCorrupt&) {
    reported = true;
  }
  EXPECT_TRUE(reported);
}

// ---- identity ----------------------------------------------------------------------------

TEST(SqliteIdentity, DimensionIsCheckedBeforeFingerprint) {
  TempDir dir;
  const auto path = dir / "cache.db";
  open_store(path).close();
  SqliteStore a(path);
  EXPECT_THROW(a.open("other", kDim + 1), DimensionMismatch);
  SqliteStore b(path);
  EXPECT_THROW(b.open("other", kDim), EmbedderMismatch);
  EXPECT_FALSE(b.is_open());
  SqliteStore c(path);
  EXPECT_NO_THROW(c.open(kFingerprint, kDim)) << "a failed open leaves the file as it was";
}

// ---- lifecycle ---------------------------------------------------------------------------

TEST(SqliteLifecycle, CloseIsIdempotentAndFinal) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  s.insert(make_entry("ns", "k"));
  s.close();
  s.close();
  EXPECT_THROW((void)s.count(), CacheClosed);
  EXPECT_THROW(s.open(kFingerprint, kDim), CacheClosed);
  EXPECT_FALSE(s.integrity_check());
}

TEST(SqliteLifecycle, MovedStoreKeepsTheConnection) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  const EntryId id = s.insert(make_entry("ns", "k"));
  SqliteStore moved(std::move(s));
  EXPECT_TRUE(moved.get_by_id(id).has_value());
  EXPECT_THROW((void)s.count(), CacheClosed);  // NOLINT(bugprone-use-after-move): the contract
  SqliteStore target(dir / "other.db");
  target = std::move(moved);
  EXPECT_EQ(target.count(), 1u);
  EXPECT_EQ(target.path(), dir / "cache.db");
}

TEST(SqliteLifecycle, FailedOpenCanBeRetried) {
  TempDir dir;
  const auto path = dir / "cache.db";
  open_store(path).close();
  SqliteStore s(path);
  EXPECT_THROW(s.open(kFingerprint, kDim + 1), DimensionMismatch);
  EXPECT_NO_THROW(s.open(kFingerprint, kDim));
  EXPECT_TRUE(s.is_open());
}

TEST(SqliteLifecycle, VisitorMayReenterTheStore) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  for (int i = 0; i < 10; ++i) s.insert(make_entry("ns", sqlite_test::numbered("k", i)));
  std::size_t outer = 0, inner = 0;
  s.iter_all([&](const StoredEntry& e) {
    ++outer;
    EXPECT_TRUE(s.get_by_id(e.id).has_value());
    s.iter_since(e.id, [&](const StoredEntry&) {
      ++inner;
      return true;
    });
    return true;
  });
  EXPECT_EQ(outer, 10u);
  EXPECT_EQ(inner, 45u);
}

// ---- version counter and change feed -----------------------------------------------------

TEST(SqliteVersion, CounterSeesOwnAndOtherHandlesWrites) {
  TempDir dir;
  const auto path = dir / "cache.db";
  auto a = open_store(path);
  auto b = open_store(path);
  EXPECT_EQ(a.read_version_counter(), 0u);
  EXPECT_EQ(a.read_version_counter(), 0u);
  b.insert(make_entry("ns", "1"));
  EXPECT_EQ(a.read_version_counter(), 1u) << "another connection's commit";
  a.insert(make_entry("ns", "2"));
  EXPECT_EQ(a.read_version_counter(), 2u) << "this handle's own commit";
  EXPECT_EQ(b.read_version_counter(), 2u);
  const EntryId id = b.insert(make_entry("ns", "3"));
  b.update_access(id, at(99));
  b.write_meta("k", "v");
  b.set_namespace_quota("ns", 3);
  EXPECT_EQ(a.read_version_counter(), 3u) << "access, meta and quota writes do not bump";
  EXPECT_TRUE(a.delete_by_id(id));
  EXPECT_EQ(a.read_version_counter(), 4u);
  EXPECT_EQ(b.read_version_counter(), 4u);
  EXPECT_FALSE(a.delete_by_id(id));
  EXPECT_EQ(b.read_version_counter(), 4u) << "a delete that removes nothing does not bump";
  RawDb raw(path);
  raw.exec("UPDATE engram_state SET version = 77");
  EXPECT_EQ(a.read_version_counter(), 77u) << "any external commit invalidates the cached value";
}

// The poll cache: read_version_counter() and get_namespace_quota() answer from memory while
// the WAL-index header is unchanged. poll_stats() counts real SELECTs, so these tests check
// "served from cache" without timing.

TEST(SqlitePoll, RepeatedPollsWithoutWritesAreServedFromTheCache) {
  TempDir dir;
  auto a = open_store(dir / "cache.db");
  a.insert(make_entry("ns", "1"));
  const auto before = a.poll_stats();
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.read_version_counter(), 1u);
  const auto after = a.poll_stats();
  EXPECT_LE(after.version_reads - before.version_reads, 1u);
  EXPECT_GE(after.version_cached - before.version_cached, 999u);
}

TEST(SqlitePoll, OwnWritesRefreshTheCacheWithoutARead) {
  TempDir dir;
  auto a = open_store(dir / "cache.db");
  a.set_namespace_quota("ns", 7);
  (void)a.read_version_counter();
  (void)a.get_namespace_quota("ns");
  const auto before = a.poll_stats();
  for (int i = 0; i < 20; ++i) {
    a.insert(make_entry("ns", sqlite_test::numbered("k", i)));
    ASSERT_EQ(a.read_version_counter(), static_cast<std::uint64_t>(i + 1));
    ASSERT_EQ(a.get_namespace_quota("ns"), std::optional<std::size_t>(7));
  }
  const std::vector<EntryId> none = {999999};
  EXPECT_EQ(a.delete_many(none), 0u);
  EXPECT_EQ(a.read_version_counter(), 20u);
  a.set_namespace_quota("ns", 8);
  EXPECT_EQ(a.get_namespace_quota("ns"), std::optional<std::size_t>(8));
  EXPECT_TRUE(a.delete_by_id(1));
  EXPECT_EQ(a.read_version_counter(), 21u);
  const auto after = a.poll_stats();
  EXPECT_EQ(after.version_reads, before.version_reads) << "own commits carry the counter";
  EXPECT_EQ(after.quota_reads, before.quota_reads) << "own commits carry the quotas";
}

// peek_version_counter() vouches for this handle's own commits as soon as they return (a
// cache's get peeks while its own write-back still holds the store lock), and never for a
// commit it did not make or read.
TEST(SqlitePoll, PeekVouchesForOwnCommitsAtOnce) {
  TempDir dir;
  const auto path = dir / "cache.db";
  auto a = open_store(path);
  auto b = open_store(path);
  EXPECT_EQ(a.read_version_counter(), 0u);
  EXPECT_EQ(a.peek_version_counter(), std::optional<std::uint64_t>(0));
  for (int i = 1; i <= 5; ++i) {
    a.insert(make_entry("ns", sqlite_test::numbered("k", i)));
    ASSERT_EQ(a.peek_version_counter(), std::optional<std::uint64_t>(i));
  }
  const std::vector<Touch> touches = {{.id = 1, .at = at(5), .hits = 2}};
  a.touch_many(touches);  // a cache's access write-back: a commit without a bump
  EXPECT_EQ(a.peek_version_counter(), std::optional<std::uint64_t>(5));
  b.insert(make_entry("ns", "other"));
  EXPECT_EQ(a.peek_version_counter(), std::nullopt) << "another handle's commit needs a read";
  EXPECT_EQ(a.read_version_counter(), 6u);
  EXPECT_EQ(a.peek_version_counter(), std::optional<std::uint64_t>(6));
}

// The first 48 bytes of the -shm file (copy 1 of the WAL-index header), read through a
// mapping of our own, as another process would see them.
class ShmHeaderWatch {
 public:
  explicit ShmHeaderWatch(const std::filesystem::path& shm) {
    const int fd = ::open(shm.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + shm.string());
    map_ = ::mmap(nullptr, kBytes, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map_ == MAP_FAILED) throw std::runtime_error("cannot map " + shm.string());
  }
  ~ShmHeaderWatch() { ::munmap(map_, kBytes); }
  ShmHeaderWatch(const ShmHeaderWatch&) = delete;
  ShmHeaderWatch& operator=(const ShmHeaderWatch&) = delete;

  std::array<unsigned char, 48> header() const {
    std::array<unsigned char, 48> out{};
    const auto* p = static_cast<const volatile unsigned char*>(map_);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = p[i];
    return out;
  }

 private:
  static constexpr std::size_t kBytes = 4096;
  void* map_ = nullptr;
};

// A write of this handle's own that is still in flight has not committed, so the peek vouches
// for the counter before it even while the WAL-index header moves under the write: a WAL
// restart rewrites the header at the transaction's first frame write, long before its commit,
// and those frame writes can wait on the disk for tens of milliseconds. Without this, every
// get of the process would wait for its own write-back to reach the disk.
TEST(SqlitePoll, PeekVouchesWhileOwnWriteIsInFlight) {
  TempDir dir;
  const auto path = dir / "cache.db";
  SqliteOptions options;
  options.cache_size_kib = 64;  // the transaction spills frames to the WAL long before COMMIT
  options.background_checkpoint = false;
  auto a = open_store(path, options);
  a.insert(make_entry("ns", "first"));
  ASSERT_EQ(a.read_version_counter(), 1u);
  RawDb raw(path);
  raw.exec("PRAGMA wal_checkpoint(RESTART)");  // all backfilled: the next write restarts the WAL
  ASSERT_EQ(a.peek_version_counter(), std::optional<std::uint64_t>(1)) << "a RESTART keeps the header";
  const ShmHeaderWatch shm(path.string() + "-shm");
  const auto before = shm.header();

  std::vector<StoredEntry> batch;
  for (int i = 0; i < 3000; ++i) {
    batch.push_back(make_entry("ns", sqlite_test::numbered("bulk", i)));
    batch.back().response.assign(4096, 'r');
  }
  std::atomic<bool> done{false};
  std::thread writer([&] {
    (void)a.insert_many(batch);
    done = true;
  });
  std::size_t vouched_while_moved = 0, out_of_range = 0;
  while (!done.load()) {
    const bool moved = shm.header() != before;
    const auto v = a.peek_version_counter();
    if (v && (*v < 1 || *v > 3001)) ++out_of_range;
    if (moved && v == std::optional<std::uint64_t>(1)) ++vouched_while_moved;
  }
  writer.join();
  EXPECT_EQ(out_of_range, 0u);
  EXPECT_GT(vouched_while_moved, 0u) << "the header moved under the in-flight write and the peek gave up";
  EXPECT_EQ(a.peek_version_counter(), std::optional<std::uint64_t>(3001)) << "the commit is vouched for at once";
  raw.exec("INSERT INTO engram_meta(key, value) VALUES ('unrelated', 'row')");
  EXPECT_EQ(a.peek_version_counter(), std::nullopt) << "another connection's commit still needs a read";
}

TEST(SqlitePoll, AnotherHandlesCommitIsSeenByTheNextPoll) {
  TempDir dir;
  const auto path = dir / "cache.db";
  auto a = open_store(path);
  auto b = open_store(path);
  EXPECT_EQ(a.read_version_counter(), 0u);
  EXPECT_EQ(a.get_namespace_quota("ns"), std::nullopt);
  for (int i = 1; i <= 50; ++i) {
    b.insert(make_entry("ns", sqlite_test::numbered("k", i)));
    ASSERT_EQ(a.read_version_counter(), static_cast<std::uint64_t>(i));
    ASSERT_EQ(a.read_version_counter(), static_cast<std::uint64_t>(i));
  }
  b.set_namespace_quota("ns", 3);
  EXPECT_EQ(a.get_namespace_quota("ns"), std::optional<std::size_t>(3));
  b.update_access(1, at(5));  // an autocommit write without a bump: still a commit
  EXPECT_EQ(a.read_version_counter(), 50u);
  EXPECT_EQ(a.get_namespace_quota("ns"), std::optional<std::size_t>(3));
}

TEST(SqlitePoll, PlainSqliteConnectionWritesInvalidate) {
  TempDir dir;
  const auto path = dir / "cache.db";
  auto a = open_store(path);
  a.insert(make_entry("ns", "1"));
  a.set_namespace_quota("ns", 5);
  EXPECT_EQ(a.read_version_counter(), 1u);
  EXPECT_EQ(a.get_namespace_quota("ns"), std::optional<std::size_t>(5));
  RawDb raw(path);  // not engram, default VFS
  raw.exec("INSERT INTO engram_meta(key, value) VALUES ('unrelated', 'row')");
  const auto mid = a.poll_stats();
  EXPECT_EQ(a.read_version_counter(), 1u);
  EXPECT_EQ(a.poll_stats().version_reads, mid.version_reads + 1) << "an unrelated commit still forces a read";
  raw.exec("UPDATE engram_state SET version = 41");
  EXPECT_EQ(a.read_version_counter(), 41u);
  raw.exec("UPDATE engram_quotas SET max_entries = 9");
  EXPECT_EQ(a.get_namespace_quota("ns"), std::optional<std::size_t>(9));
  raw.exec("DELETE FROM engram_quotas");
  EXPECT_EQ(a.get_namespace_quota("ns"), std::nullopt);
  // A checkpoint that restarts the WAL changes the header too; values stay right.
  raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  EXPECT_EQ(a.read_version_counter(), 41u);
  raw.exec("UPDATE engram_state SET version = 42");
  EXPECT_EQ(a.read_version_counter(), 42u);
}

TEST(SqlitePoll, PollInsideAVisitorDoesNotPoisonTheCache) {
  TempDir dir;
  const auto path = dir / "cache.db";
  auto a = open_store(path);
  auto b = open_store(path);
  for (int i = 0; i < 3; ++i) a.insert(make_entry("ns", sqlite_test::numbered("k", i)));
  EXPECT_EQ(a.read_version_counter(), 3u);
  bool first = true;
  a.iter_all([&](const StoredEntry&) {
    if (first) {
      first = false;
      b.insert(make_entry("ns", "late"));
      // Inside the iteration's read transaction a read sees that snapshot (3), and must not
      // be remembered as the value for the newer header.
      (void)a.read_version_counter();
    }
    return true;
  });
  EXPECT_EQ(a.read_version_counter(), 4u);
}

TEST(SqlitePoll, InMemoryStoresAlwaysReadForReal) {
  SqliteStore s(":memory:");
  s.open(kFingerprint, kDim);
  s.insert(make_entry("ns", "1"));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.read_version_counter(), 1u);
  EXPECT_EQ(s.poll_stats().version_cached, 0u);
  EXPECT_GE(s.poll_stats().version_reads, 10u);
}

TEST(SqlitePoll, ClosedStoreReportsZeroStats) {
  TempDir dir;
  auto a = open_store(dir / "cache.db");
  (void)a.read_version_counter();
  a.close();
  EXPECT_EQ(a.poll_stats().version_reads, 0u);
  EXPECT_THROW((void)a.read_version_counter(), CacheClosed);
}

// ---- WAL append coalescing ---------------------------------------------------------------

TEST(SqliteWal, LargeAndSpillingTransactionsStayIntact) {
  TempDir dir;
  const auto path = dir / "cache.db";
  SqliteOptions tiny;
  tiny.cache_size_kib = 64;  // forces SQLite to spill frames before the commit frame
  auto s = open_store(path, tiny);
  auto other = open_store(path);
  std::vector<StoredEntry> batch;
  for (int i = 0; i < 2000; ++i) {
    auto e = make_entry(sqlite_test::numbered("ns", i % 3), sqlite_test::numbered("k", i));
    e.response = std::string(static_cast<std::size_t>(100 + i % 3000), 'r');  // overflow pages too
    batch.push_back(std::move(e));
  }
  const auto ids = s.insert_many(batch);
  ASSERT_EQ(ids.size(), batch.size());
  for (int i = 0; i < 50; ++i) s.insert(make_entry("single", sqlite_test::numbered("k", i)));
  EXPECT_EQ(other.read_version_counter(), 2050u);
  EXPECT_EQ(other.count(), 2050u);
  RawDb raw(path);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.integer("SELECT count(*) FROM engram_entries"), 2050);
  EXPECT_EQ(raw.integer("SELECT sum(length(response)) FROM engram_entries WHERE ns != CAST('single' AS BLOB)"), [&] {
    std::int64_t n = 0;
    for (const auto& e : batch) n += static_cast<std::int64_t>(e.response.size());
    return n;
  }());
  s.run_maintenance("checkpoint");
  s.close();
  other.close();
  auto reopened = open_store(path);
  EXPECT_EQ(reopened.count(), 2050u);
  EXPECT_TRUE(reopened.integrity_check());
}

TEST(SqliteVersion, OneChangePerRowInEveryWrite) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  std::vector<StoredEntry> batch;
  for (int i = 0; i < 5; ++i) {
    auto e = make_entry(i < 3 ? "a" : "b", std::to_string(i));
    if (i % 2 == 0) e.ttl = Millis(10);
    batch.push_back(e);
  }
  const auto ids = s.insert_many(batch);
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(s.read_version_counter(), 5u);
  EXPECT_EQ(s.delete_expired(at(10), std::string_view("a")), 2u);  // ids 0 and 2
  EXPECT_EQ(s.read_version_counter(), 7u);
  EXPECT_EQ(s.clear_namespace("b"), 2u);
  EXPECT_EQ(s.read_version_counter(), 9u);
  const EntryId many[] = {ids[1], ids[1], 12345};
  EXPECT_EQ(s.delete_many(many), 1u);
  EXPECT_EQ(s.read_version_counter(), 10u);
  auto feed = s.changes_since(0, 100);
  ASSERT_TRUE(feed.has_value());
  ASSERT_EQ(feed->size(), 10u);
  for (std::size_t i = 0; i < feed->size(); ++i) EXPECT_EQ((*feed)[i].version, i + 1);
  EXPECT_EQ((*feed)[5], (Change{6, ids[0], ChangeKind::kDelete}));
  EXPECT_EQ((*feed)[6], (Change{7, ids[2], ChangeKind::kDelete}));
  EXPECT_EQ((*feed)[7], (Change{8, ids[3], ChangeKind::kDelete}));
  EXPECT_EQ((*feed)[9], (Change{10, ids[1], ChangeKind::kDelete}));
  EXPECT_EQ(s.changes_since(3, 2)->size(), 2u);
  EXPECT_FALSE(s.changes_since(11, 100).has_value()) << "a version ahead of the counter";
}

// A batch longer than one multi-row change statement (and not a multiple of it): ids come back
// in the caller's order, each row's change record carries its own version in that order, and
// a (ns, hash) repeated inside the batch upserts the first row (same id, the last one wins)
// with a change record per occurrence, exactly as single inserts would.
TEST(SqliteInsert, LongBatchKeepsCallerOrderIdsAndOneChangePerRow) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  const auto first = s.insert(make_entry("a", "before"));
  std::vector<StoredEntry> batch;
  batch.reserve(123);
  for (int i = 0; i < 123; ++i) batch.push_back(make_entry(i % 2 == 0 ? "a" : "b", std::to_string(i)));
  batch[7] = make_entry("a", "before", "{\"again\":1}");  // already stored
  batch[100] = make_entry("b", "9", "{\"dup\":1}");       // same key as batch[9]
  const auto ids = s.insert_many(batch);
  ASSERT_EQ(ids.size(), batch.size());
  EXPECT_EQ(ids[7], first);
  EXPECT_EQ(ids[100], ids[9]);
  std::set<EntryId> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), batch.size() - 1);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto got = s.get_by_id(ids[i]);
    ASSERT_TRUE(got.has_value()) << i;
    EXPECT_EQ(got->ns, batch[i == 9 ? 100 : i].ns) << i;
    EXPECT_EQ(got->query_hash, batch[i == 9 ? 100 : i].query_hash) << i;
    EXPECT_EQ(got->metadata, batch[i == 9 ? 100 : i].metadata) << i;
  }
  EXPECT_EQ(s.get_by_id(first)->metadata, "{\"again\":1}");
  EXPECT_EQ(s.count(), batch.size() - 1);  // 121 new keys plus "before"
  EXPECT_EQ(s.read_version_counter(), 1 + batch.size());
  auto feed = s.changes_since(1, 1000);
  ASSERT_TRUE(feed.has_value());
  ASSERT_EQ(feed->size(), batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ((*feed)[i], (Change{i + 2, ids[i], ChangeKind::kUpsert})) << i;
  }
  // Single inserts: a new key gets a new id, an existing key keeps its id.
  const auto fresh = s.insert(make_entry("c", "new"));
  EXPECT_GT(fresh, *std::max_element(ids.begin(), ids.end()));
  EXPECT_EQ(s.insert(make_entry("b", "9")), ids[9]);
  EXPECT_EQ(s.read_version_counter(), 3 + batch.size());
}

TEST(SqliteVersion, RetentionPrunesTheLog) {
  TempDir dir;
  const auto path = dir / "cache.db";
  SqliteOptions options;
  options.change_log_retention = 10;
  auto s = open_store(path, options);
  for (int i = 0; i < 25; ++i) s.insert(make_entry("ns", std::to_string(i)));
  EXPECT_EQ(s.read_version_counter(), 25u);
  EXPECT_FALSE(s.changes_since(0, 100).has_value());
  EXPECT_FALSE(s.changes_since(14, 100).has_value()) << "version 15 was pruned";
  auto tail = s.changes_since(15, 100);
  ASSERT_TRUE(tail.has_value());
  ASSERT_EQ(tail->size(), 10u);
  EXPECT_EQ(tail->front().version, 16u);
  EXPECT_EQ(tail->back().version, 25u);
  EXPECT_TRUE(s.changes_since(25, 100)->empty());
  EXPECT_EQ(s.maintenance_state().at("change_log_rows"), "10");
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT min(version) FROM engram_changes"), 16);

  // Retention 0 still keeps the newest record (LINEAGE.md L1): a reader confirms its position
  // by reading the record at its own version again.
  SqliteOptions none;
  none.change_log_retention = 0;
  auto z = open_store(dir / "zero.db", none);
  z.insert(make_entry("ns", "x"));
  const EntryId y = z.insert(make_entry("ns", "y"));
  EXPECT_FALSE(z.changes_since(0, 10).has_value());
  auto last = z.changes_since(1, 10);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, (std::vector<Change>{{2, y, ChangeKind::kUpsert}}));
  EXPECT_TRUE(z.changes_since(2, 10)->empty());
}

TEST(SqliteVersion, LatestRecordSurvivesEveryPruning) {
  TempDir dir;
  for (std::size_t retention : {0u, 1u, 2u, 17u, 40u}) {
    SqliteOptions options;
    options.change_log_retention = retention;
    auto s = open_store(dir / ("r" + std::to_string(retention) + ".db"), options);
    std::vector<EntryId> ids;
    for (int i = 0; i < 120; ++i) {
      if (i % 7 == 6) {
        ASSERT_TRUE(s.delete_by_id(ids[static_cast<std::size_t>(i) / 2]));
      } else {
        ids.push_back(s.insert(make_entry("ns", sqlite_test::numbered("k", i))));
      }
      const auto counter = s.read_version_counter();
      auto feed = s.changes_since(counter - 1, 5);
      ASSERT_TRUE(feed.has_value()) << "retention " << retention << ", counter " << counter;
      ASSERT_EQ(feed->size(), 1u);
      EXPECT_EQ(feed->front().version, counter);
      // Whatever is answered is the whole truth after v: contiguous versions up to the counter.
      for (std::uint64_t v = 0; v < counter; ++v) {
        auto tail = s.changes_since(v, 1000);
        if (!tail) continue;
        ASSERT_EQ(tail->size(), counter - v) << "retention " << retention << ": a feed skipped records";
        for (std::size_t k = 0; k < tail->size(); ++k) EXPECT_EQ((*tail)[k].version, v + 1 + k);
      }
    }
  }
}

// ---- insert and delete details -----------------------------------------------------------

TEST(SqliteInsert, EmbeddingOfAnotherDimensionIsRefused) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  for (std::size_t dim : {std::size_t{0}, kDim - 1, kDim + 1, std::size_t{1536}}) {
    auto e = make_entry("ns", "k");
    e.embedding.assign(dim, 0.5f);
    try {
      s.insert(e);
      ADD_FAILURE() << "an embedding of " << dim << " floats was stored in a store of dim " << kDim;
    } catch (const InvalidArgument& err) {
      EXPECT_NE(std::string(err.what()).find("Remediation:"), std::string::npos) << err.what();
    }
    const StoredEntry batch[] = {make_entry("ns", "good"), e};
    EXPECT_THROW(s.insert_many(batch), InvalidArgument) << dim;
  }
  EXPECT_EQ(s.count(), 0u) << "a refused insert writes nothing, not even the good half of a batch";
  EXPECT_EQ(s.read_version_counter(), 0u);
  EXPECT_NO_THROW(s.insert(make_entry("ns", "k")));
}

TEST(SqliteDelete, DeletedRowsStayGoneAfterReopen) {
  TempDir dir;
  const auto path = dir / "cache.db";
  std::vector<EntryId> ids;
  {
    auto s = open_store(path);
    for (int i = 0; i < 30; ++i) ids.push_back(s.insert(make_entry(i % 2 ? "odd" : "even", std::to_string(i))));
    EXPECT_TRUE(s.delete_by_id(ids[0]));
    const EntryId some[] = {ids[1], ids[2]};
    EXPECT_EQ(s.delete_many(some), 2u);
    EXPECT_EQ(s.clear_namespace("odd"), 14u);
    auto other = open_store(path);  // a second connection keeps the WAL from being checkpointed
    s.close();
    other.close();
  }
  auto s = open_store(path);
  EXPECT_EQ(s.count(), 13u);
  EXPECT_EQ(s.count("odd"), 0u);
  for (int i : {0, 1, 2, 3}) EXPECT_FALSE(s.get_by_id(ids[static_cast<std::size_t>(i)]).has_value()) << i;
  EXPECT_FALSE(s.get_by_hash("even", make_entry("even", "0").query_hash).has_value());
  EXPECT_EQ(s.list_namespaces(), std::vector<std::string>{"even"});
  EXPECT_EQ(s.read_version_counter(), 47u);
  const EntryId fresh = s.insert(make_entry("even", "0"));
  EXPECT_GT(fresh, ids.back()) << "a deleted row's id is never handed out again";
}

// ---- round trip details ------------------------------------------------------------------

TEST(SqliteRoundTrip, BytesSurviveExactly) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  auto e = make_entry(std::string("n\0s\xff", 4), "k");
  e.query = std::string("q\0\x01\xfe", 4);
  e.response = std::string(1 << 20, '\0') + "tail";
  e.metadata = "{\"unicode\":\"\xe2\x82\xac\"}";
  e.ttl = Millis(0);
  e.access_count = 7;
  e.embedding = {-0.0f, std::numeric_limits<float>::denorm_min(), 1.0f, -1.0f, 0.5f, 0.25f, 0.0f, 1e-38f};
  const EntryId id = s.insert(e);
  auto got = s.get_by_hash(e.ns, e.query_hash);
  ASSERT_TRUE(got.has_value());
  e.id = id;
  EXPECT_EQ(std::memcmp(got->embedding.data(), e.embedding.data(), e.embedding.size() * 4), 0);
  EXPECT_EQ(*got, e);
  EXPECT_FALSE(s.get_by_hash(std::string("n\0s", 3), e.query_hash).has_value());
  EXPECT_EQ(s.list_namespaces(), std::vector<std::string>{e.ns});
  auto empty = make_entry("", "empty");
  empty.query.clear();
  empty.response.clear();
  const EntryId id2 = s.insert(empty);
  empty.id = id2;
  EXPECT_EQ(s.get_by_id(id2), std::optional<StoredEntry>(empty));
  EXPECT_EQ(s.list_namespaces(), (std::vector<std::string>{"", e.ns}));
}

TEST(SqliteRoundTrip, QuotaKeepsEveryValue) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  s.set_namespace_quota("a", 0);
  s.set_namespace_quota("b", std::numeric_limits<std::size_t>::max());
  EXPECT_EQ(s.get_namespace_quota("a"), std::optional<std::size_t>(0));
  EXPECT_EQ(s.get_namespace_quota("b"), std::optional<std::size_t>(std::numeric_limits<std::size_t>::max()));
  EXPECT_FALSE(s.get_namespace_quota("c").has_value());
  EXPECT_THROW(s.write_meta("schema_version", "1"), InvalidArgument);
}

TEST(SqliteRoundTrip, TouchManyAndIndexRows) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  auto e1 = make_entry("ns", "1", "{}", 100);
  e1.ttl = Millis(5);
  const EntryId a = s.insert(e1);
  const EntryId b = s.insert(make_entry("ns", "2", "{}", 200));
  const Touch touches[] = {{a, at(50), 3}, {b, at(300), 1}, {999, at(1), 1}, {b, at(250), 2}};
  s.touch_many(touches);
  EXPECT_EQ(s.get_by_id(a)->last_accessed_at, at(100)) << "max(stored, at)";
  EXPECT_EQ(s.get_by_id(a)->access_count, 3);
  EXPECT_EQ(s.get_by_id(b)->last_accessed_at, at(300));
  EXPECT_EQ(s.get_by_id(b)->access_count, 3);
  EXPECT_EQ(s.read_version_counter(), 2u);
  std::vector<IndexRow> rows;
  s.iter_index_rows([&](const IndexRow& r) {
    rows.push_back(r);
    return true;
  });
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, a);
  EXPECT_EQ(rows[0].ttl, std::optional<Millis>(Millis(5)));
  EXPECT_EQ(rows[0].created_at, at(100));
  EXPECT_EQ(rows[0].embedding, e1.embedding);
  EXPECT_EQ(rows[0].query_hash, e1.query_hash);
  EXPECT_EQ(rows[1].id, b);
  EXPECT_EQ(s.iter_lru_ids(10), (std::vector<EntryId>{a, b}));
}

// ---- snapshot, restore, maintenance ------------------------------------------------------

TEST(SqliteBackup, SnapshotIsOneSelfContainedPrivateFile) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  for (int i = 0; i < 50; ++i) s.insert(make_entry("ns", std::to_string(i)));
  s.snapshot_to(dir / "snap.db");
  EXPECT_EQ(file_mode(dir / "snap.db"), 0600u);
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(f.path().filename().string().find("engram-tmp"), std::string::npos) << f.path();
  }
  {
    RawDb raw(dir / "snap.db", SQLITE_OPEN_READONLY);
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete");
    EXPECT_EQ(raw.integer("SELECT count(*) FROM engram_entries"), 50);
  }
  EXPECT_THROW(s.snapshot_to(dir / "cache.db"), InvalidArgument);
  EXPECT_EQ(s.count(), 50u);
  auto restored = SqliteStore::restore_from(dir / "snap.db", dir / "restored.db");
  EXPECT_FALSE(restored.is_open());
  restored.open(kFingerprint, kDim);
  EXPECT_EQ(restored.count(), 50u);
  EXPECT_EQ(restored.read_version_counter(), 50u);
  EXPECT_EQ(file_mode(dir / "restored.db"), 0600u);
}

// Scribbles over the start of every page but the first of a closed database file (its schema
// and header stay readable), as a failing disk would.
void damage_pages(const std::filesystem::path& path) {
  const auto size = std::filesystem::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  for (std::uintmax_t off = 4096; off < size; off += 4096) {
    f.seekp(static_cast<std::streamoff>(off));
    for (int i = 0; i < 512; ++i) f.put(static_cast<char>(0x5A ^ (i * 37)));
  }
}

std::vector<StoredEntry> all_entries(const SqliteStore& s) {
  std::vector<StoredEntry> out;
  s.iter_all([&](const StoredEntry& e) {
    out.push_back(e);
    return true;
  });
  return out;
}

TEST(SqliteBackup, RestoreReplacesADamagedDestination) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  s.insert(make_entry("ns", "k"));
  s.snapshot_to(dir / "snap.db");
  {
    auto broken = open_store(dir / "broken.db");
    for (int i = 0; i < 200; ++i) broken.insert(make_entry("old", std::to_string(i)));
  }
  damage_pages(dir / "broken.db");
  auto restored = SqliteStore::restore_from(dir / "snap.db", dir / "broken.db");
  restored.open(kFingerprint, kDim);
  EXPECT_EQ(restored.count(), 1u);
  EXPECT_TRUE(restored.integrity_check());
  // Its counter and ids could not be read: both move far past anything it can have reported.
  EXPECT_GT(restored.read_version_counter(), std::uint64_t{1} << 40);
  EXPECT_FALSE(restored.changes_since(200, 10).has_value());
  EXPECT_GT(restored.insert(make_entry("new", "x")), EntryId{200});
}

// LINEAGE.md L2/L3: restoring into a file that other handles have open. The attached handle
// must see a counter above every one it saw before, get nullopt for any history before the
// restore (so it rebuilds), and never be handed an id that was allocated there before.
TEST(SqliteLineage, RestoreIntoALiveFileNeverReusesIdsOrVersions) {
  TempDir dir;
  {
    auto src = open_store(dir / "src.db");
    for (int i = 0; i < 3; ++i) src.insert(make_entry("snap", std::to_string(i)));
    src.snapshot_to(dir / "snap.db");
  }
  auto live = open_store(dir / "live.db");
  std::vector<EntryId> old_ids;
  old_ids.reserve(10);
  for (int i = 0; i < 10; ++i) old_ids.push_back(live.insert(make_entry("old", std::to_string(i))));
  ASSERT_TRUE(live.delete_by_id(old_ids[9]));  // the highest id ever allocated is no longer a row
  ASSERT_TRUE(live.delete_by_id(old_ids[8]));
  auto attached = open_store(dir / "live.db");  // a second handle (its own connection)
  const std::uint64_t old_v = attached.read_version_counter();
  ASSERT_EQ(old_v, 12u);
  ASSERT_TRUE(attached.changes_since(old_v - 1, 10).has_value());

  auto restored = SqliteStore::restore_from(dir / "snap.db", dir / "live.db");
  EXPECT_FALSE(restored.is_open());

  const std::uint64_t n = attached.read_version_counter();
  EXPECT_GT(n, old_v) << "the counter must move past every value the destination reported";
  EXPECT_EQ(n, old_v + 1) << "N = max(destination's 12, snapshot's 3) + 1";
  EXPECT_EQ(live.read_version_counter(), n);
  EXPECT_FALSE(attached.changes_since(old_v - 1, 10).has_value()) << "an attached reader must rebuild";
  for (std::uint64_t v = 0; v < n; ++v) EXPECT_FALSE(attached.changes_since(v, 10).has_value()) << v;
  EXPECT_TRUE(attached.changes_since(n, 10)->empty());
  EXPECT_EQ(attached.count(), 3u);
  EXPECT_EQ(attached.count("old"), 0u);

  // New writes, through both the old handles and a new one: fresh ids, ordinary records.
  const EntryId a = attached.insert(make_entry("new", "a"));
  const EntryId b = live.insert(make_entry("new", "b"));
  restored.open(kFingerprint, kDim);
  const EntryId c = restored.insert(make_entry("new", "c"));
  for (EntryId id : {a, b, c}) EXPECT_GT(id, old_ids.back()) << "id " << id << " was allocated here before";
  EXPECT_EQ(restored.read_version_counter(), n + 3);
  auto feed = attached.changes_since(n, 10);
  ASSERT_TRUE(feed.has_value());
  EXPECT_EQ(*feed,
            (std::vector<Change>{
                {n + 1, a, ChangeKind::kUpsert}, {n + 2, b, ChangeKind::kUpsert}, {n + 3, c, ChangeKind::kUpsert}}));
  auto last = attached.changes_since(n + 2, 1);  // L1: the newest record is there
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->front().version, n + 3);
  EXPECT_FALSE(attached.changes_since(old_v - 1, 10).has_value());
  EXPECT_TRUE(attached.integrity_check());
  EXPECT_FALSE(restored.read_meta("digest").has_value());
  RawDb raw(dir / "live.db", SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'engram_snapshot'"), 0)
      << "the snapshot's checksum table is not part of a live store";
}

TEST(SqliteLineage, RestoreIntoANewLocationKeepsTheSnapshotsFeed) {
  TempDir dir;
  auto src = open_store(dir / "src.db");
  const EntryId a = src.insert(make_entry("ns", "a"));
  const EntryId b = src.insert(make_entry("ns", "b"));
  ASSERT_TRUE(src.delete_by_id(b));
  src.snapshot_to(dir / "snap.db");
  auto restored = SqliteStore::restore_from(dir / "snap.db", dir / "new.db");
  restored.open(kFingerprint, kDim);
  EXPECT_EQ(restored.read_version_counter(), 3u);
  EXPECT_EQ(restored.changes_since(0, 10), src.changes_since(0, 10));
  EXPECT_EQ(restored.get_by_id(a), src.get_by_id(a));
  EXPECT_GT(restored.insert(make_entry("ns", "c")), b) << "the deleted tail id stays allocated";
}

// ---- foreign destinations ----------------------------------------------------------------

TEST(SqliteForeign, RefusedRestoreLeavesAForeignDatabaseByteIdentical) {
  TempDir dir;
  {
    auto src = open_store(dir / "src.db");
    src.insert(make_entry("ns", "k"));
    src.snapshot_to(dir / "snap.db");
  }
  const auto app = dir / "app.db";
  sqlite_test::make_foreign_database(app);
  const auto text = dir / "notes.txt";
  {
    std::ofstream out(text);
    out << "shopping list: milk, eggs\n";
  }
  for (const auto& dest : {app, text}) {
    const auto before = sqlite_test::file_state(dest);
    try {
      (void)SqliteStore::restore_from(dir / "snap.db", dest);
      ADD_FAILURE() << dest << " was overwritten without force";
    } catch (const StoreCorrupt& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("not an engram database"), std::string::npos) << m;
      EXPECT_NE(m.find("Remediation:"), std::string::npos) << m;
    }
    EXPECT_TRUE(sqlite_test::file_state(dest) == before) << dest << " changed";
  }
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
    const auto name = f.path().filename().string();
    EXPECT_EQ(name.find("engram-tmp"), std::string::npos) << name;
    EXPECT_EQ(name.find("-wal"), std::string::npos) << name;
    EXPECT_EQ(name.find("-journal"), std::string::npos) << name;
  }
  {
    RawDb raw(app, SQLITE_OPEN_READONLY);
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete");
    EXPECT_EQ(raw.integer("SELECT count(*) FROM customers"), 3);
  }

  SqliteStore::RestoreOptions force;
  force.force = true;
  for (const auto& dest : {app, text}) {
    auto restored = SqliteStore::restore_from(dir / "snap.db", dest, {}, force);
    restored.open(kFingerprint, kDim);
    EXPECT_EQ(restored.count(), 1u) << dest;
    EXPECT_TRUE(restored.integrity_check()) << dest;
    EXPECT_EQ(file_mode(dest), 0600u) << dest;
  }
}

// ---- snapshot checksum -------------------------------------------------------------------

// Every table of a database file as text (engram_snapshot left out), to compare two files'
// content exactly.
std::string dump(const std::filesystem::path& path) {
  RawDb raw(path, SQLITE_OPEN_READONLY);
  std::string out;
  for (const char* sql :
       {("SELECT id, hex(ns), hex(hash), hex(query), hex(response), hex(embedding), hex(metadata), "
         "created_at, last_accessed_at, quote(ttl_ms), access_count FROM engram_entries ORDER BY id"),
        "SELECT hex(key), hex(value) FROM engram_meta ORDER BY key",
        "SELECT hex(ns), max_entries FROM engram_quotas ORDER BY ns", "SELECT version, log_floor FROM engram_state",
        "SELECT version, entry_id, kind FROM engram_changes ORDER BY version",
        "SELECT name, seq FROM sqlite_sequence ORDER BY name"}) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(raw.handle(), sql, -1, &st, nullptr) != SQLITE_OK) throw std::runtime_error(sql);
    out += "#";
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const unsigned char* p = sqlite3_column_text(st, c);
        out += p ? reinterpret_cast<const char*>(p) : "NULL";
        out += '|';
      }
      out += '\n';
    }
    sqlite3_finalize(st);
  }
  return out;
}

// Sets an environment variable for its lifetime, then restores the previous value.
// NOLINTBEGIN(concurrency-mt-unsafe): test code; the environment changes while no other thread runs
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};
// NOLINTEND(concurrency-mt-unsafe)

// A 40-row store with quotas and meta, snapshotted to dir/snap.db.
std::vector<StoredEntry> make_snapshot(const TempDir& dir) {
  auto s = open_store(dir / "src.db");
  for (int i = 0; i < 40; ++i) {
    auto e = make_entry(sqlite_test::numbered("ns", i % 3), sqlite_test::numbered("key", i),
                        "{\"i\":" + std::to_string(i) + "}", i);
    if (i % 5 == 0) e.ttl = Millis(60000 + i);
    e.access_count = i;
    s.insert(e);
  }
  s.set_namespace_quota("ns1", 25);
  s.write_meta("owner", "team-a");
  s.snapshot_to(dir / "snap.db");
  return all_entries(s);
}

TEST(SqliteSnapshotChecksum, TamperedValuesAreRefusedAndTheDestinationIsUntouched) {
  TempDir dir;
  make_snapshot(dir);
  const auto live_path = dir / "live.db";
  {
    auto live = open_store(live_path);
    for (int i = 0; i < 5; ++i) live.insert(make_entry("live", std::to_string(i)));
  }
  const auto live_before = sqlite_test::file_state(live_path);
  const char* edits[] = {
      "UPDATE engram_entries SET response = 'how do I reset my password' WHERE id = 2",
      "UPDATE engram_entries SET embedding = zeroblob(32) WHERE id = 7",
      "UPDATE engram_entries SET id = 41 WHERE id = 40",
      "UPDATE engram_entries SET access_count = access_count + 1 WHERE id = 3",
      "UPDATE engram_entries SET ttl_ms = NULL WHERE id = 1",
      "UPDATE engram_quotas SET max_entries = 26",
      "UPDATE engram_meta SET value = 'team-b' WHERE key = 'owner'",
      "UPDATE engram_state SET version = 39",
      "UPDATE sqlite_sequence SET seq = 20 WHERE name = 'engram_entries'",
      "DELETE FROM engram_changes WHERE version = 40",
  };
  for (const char* edit : edits) {
    std::filesystem::copy_file(dir / "snap.db", dir / "tampered.db", std::filesystem::copy_options::overwrite_existing);
    {
      RawDb raw(dir / "tampered.db");
      raw.exec(edit);
    }
    try {
      (void)SqliteStore::restore_from(dir / "tampered.db", live_path);
      ADD_FAILURE() << "accepted a snapshot after: " << edit;
    } catch (const StoreCorrupt& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("checksum"), std::string::npos) << m;
      EXPECT_NE(m.find("Remediation:"), std::string::npos) << m;
    }
    EXPECT_TRUE(sqlite_test::file_state(live_path) == live_before) << "the destination changed after: " << edit;
  }
  auto live = open_store(live_path);
  EXPECT_EQ(live.count(), 5u);
}

TEST(SqliteSnapshotChecksum, SnapshotWithoutChecksumIsRefusedUnlessAccepted) {
  TempDir dir;
  const auto rows = make_snapshot(dir);
  {
    RawDb raw(dir / "snap.db");
    raw.exec("DROP TABLE engram_snapshot");  // what snapshots of earlier engram versions look like
  }
  try {
    (void)SqliteStore::restore_from(dir / "snap.db", dir / "out.db");
    ADD_FAILURE() << "an unverifiable snapshot was restored";
  } catch (const CheckpointError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no checksum"), std::string::npos) << m;
    EXPECT_NE(m.find("accept_unverified"), std::string::npos) << m;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.db"));
  SqliteStore::RestoreOptions trust;
  trust.accept_unverified = true;
  auto restored = SqliteStore::restore_from(dir / "snap.db", dir / "out.db", {}, trust);
  restored.open(kFingerprint, kDim);
  EXPECT_EQ(all_entries(restored), rows);
}

// Item 3 of issue 8: one bit flipped every 61 bytes of a 40-row snapshot, one flip per
// restore. Every restore must either throw a StoreError or give back exactly the original
// rows, quotas, meta, counter and id sequence; never silently different ones.
TEST(SqliteSnapshotChecksum, BitFlipsNeverRestoreDifferentRows) {
  // Hundreds of restores, each of which fsyncs the restored file and its directory: on a RAM
  // file system when there is one, so the test stays fast (the fsyncs are not what it tests).
  std::optional<ScopedEnv> tmpdir;
  std::error_code ec;
  if (::access("/dev/shm", W_OK) == 0 && std::filesystem::is_directory("/dev/shm", ec))
    tmpdir.emplace("TMPDIR", "/dev/shm");
  TempDir dir;
  tmpdir.reset();
  const auto rows = make_snapshot(dir);
  std::string original;
  {
    std::ifstream in(dir / "snap.db", std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string expected = dump(dir / "snap.db");
  int flips = 0, refused = 0, identical = 0, different = 0;
  for (std::size_t offset = 0; offset < original.size(); offset += 61) {
    std::string bytes = original;
    bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << (flips % 8)));
    ++flips;
    {
      std::ofstream out(dir / "flipped.db", std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    const auto dest = dir / "restored.db";
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      auto f = dest;
      f += suffix;
      std::filesystem::remove(f);
    }
    try {
      auto restored = SqliteStore::restore_from(dir / "flipped.db", dest);
      // The dump compares every column of every table; opening the result and reading it
      // through the store as well is slower (the open writes and syncs), so it is sampled.
      const bool same_dump = dump(dest) == expected;
      bool same_rows = true;
      if ((identical + different) % 8 == 0) {
        restored.open(kFingerprint, kDim);
        same_rows = all_entries(restored) == rows && restored.get_namespace_quota("ns1") == 25u &&
                    restored.read_meta("owner") == std::optional<std::string>("team-a");
      }
      if (same_dump && same_rows) {
        ++identical;
      } else {
        ++different;
        ADD_FAILURE() << "flip at byte " << offset << " restored different content";
      }
    } catch (const StoreError&) {
      ++refused;
    }
  }
  std::printf("bit flips: %d, refused %d, restored identical %d, restored different %d\n", flips, refused, identical,
              different);
  RecordProperty("flips", flips);
  RecordProperty("refused", refused);
  RecordProperty("identical", identical);
  EXPECT_EQ(different, 0);
  EXPECT_GT(flips, 900);
  EXPECT_GT(refused, 0);
  EXPECT_GT(identical, 0);
}

TEST(SqliteBackup, RestoreRefusesBadSources) {
  TempDir dir;
  EXPECT_THROW(SqliteStore::restore_from(dir / "missing.db", dir / "out.db"), CheckpointError);
  {
    std::ofstream out(dir / "garbage.db", std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(i * 13 + 5));
  }
  EXPECT_THROW(SqliteStore::restore_from(dir / "garbage.db", dir / "out.db"), StoreCorrupt);
  {
    RawDb raw(dir / "foreign.db");
    raw.exec("CREATE TABLE t(x)");
  }
  EXPECT_THROW(SqliteStore::restore_from(dir / "foreign.db", dir / "out.db"), StoreCorrupt);
  EXPECT_THROW(SqliteStore::restore_from(dir / "foreign.db", ":memory:"), InvalidArgument);
  {
    auto s = open_store(dir / "newer.db");
    s.close();
    RawDb raw(dir / "newer.db");
    raw.exec("UPDATE engram_meta SET value = '999' WHERE key = 'schema_version'");
  }
  EXPECT_THROW(SqliteStore::restore_from(dir / "newer.db", dir / "out.db"), SchemaError);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.db") && std::filesystem::file_size(dir / "out.db") > 0)
      << "a refused restore writes nothing";
}

TEST(SqliteMaintenance, EveryKindRunsAndIsRecorded) {
  TempDir dir;
  auto s = open_store(dir / "cache.db");
  for (int i = 0; i < 500; ++i) s.insert(make_entry("ns", std::to_string(i)));
  std::vector<EntryId> ids;
  for (EntryId id = 1; id <= 400; ++id) ids.push_back(id);
  s.delete_many(ids);
  EXPECT_EQ(s.maintenance_kinds(), (std::vector<std::string>{"analyze", "checkpoint", "compact"}));
  auto before = s.maintenance_state();
  EXPECT_EQ(before.at("last_compact"), "never");
  EXPECT_EQ(before.at("schema_version"), std::to_string(kSqliteSchemaVersion));
  EXPECT_EQ(before.at("journal_mode"), "wal");
  EXPECT_GT(std::stoll(before.at("wal_bytes")), 0);
  s.run_maintenance("checkpoint");
  EXPECT_EQ(std::stoll(s.maintenance_state().at("wal_bytes")), 0) << "TRUNCATE empties the WAL";
  s.run_maintenance("compact");
  s.run_maintenance("checkpoint");
  auto after = s.maintenance_state();
  EXPECT_LT(std::stoll(after.at("page_count")), std::stoll(before.at("page_count")));
  EXPECT_EQ(after.at("freelist_count"), "0");
  s.run_maintenance("analyze");
  after = s.maintenance_state();
  for (const char* key : {"last_analyze", "last_checkpoint", "last_compact"}) EXPECT_NE(after.at(key), "never") << key;
  EXPECT_THROW(s.run_maintenance("reindex"), InvalidArgument);
  EXPECT_THROW(s.run_maintenance(""), InvalidArgument);
  EXPECT_EQ(s.count(), 100u);
  EXPECT_TRUE(s.integrity_check());
  EXPECT_EQ(s.read_version_counter(), 900u) << "maintenance does not bump the counter";
}

// ---- :memory: ----------------------------------------------------------------------------

TEST(SqliteMemory, InMemoryStoreWorksAndVanishesOnClose) {
  TempDir dir;
  {
    auto s = open_store(":memory:");
    const EntryId id = s.insert(make_entry("ns", "k"));
    EXPECT_EQ(s.get_by_id(id)->response, "response k");
    EXPECT_EQ(s.read_version_counter(), 1u);
    EXPECT_EQ(s.read_version_counter(), 1u);
    EXPECT_TRUE(s.integrity_check());
    s.snapshot_to(dir / "mem-snap.db");
    s.run_maintenance("checkpoint");
    s.run_maintenance("compact");
    EXPECT_EQ(s.maintenance_state().at("journal_mode"), "memory");
  }
  EXPECT_FALSE(std::filesystem::exists(":memory:"));
  auto fresh = open_store(":memory:");
  EXPECT_EQ(fresh.count(), 0u) << "each :memory: handle is its own database";
  auto restored = SqliteStore::restore_from(dir / "mem-snap.db", dir / "from-mem.db");
  restored.open(kFingerprint, kDim);
  EXPECT_EQ(restored.count(), 1u);
}

}  // namespace
}  // namespace engram
