// The compliance battery against SqliteStore, twice:
//  - SqliteFile: a database file in a fresh temporary directory. Every make() is a new
//    handle (connection) on that file, in this process or a forked child, so the
//    MultiProcess suite runs.
//  - SqliteMemory: an in-memory database. A plain ":memory:" database lives and dies with its
//    one connection, so "reopen" (make() again after close()) cannot see the data. The
//    factory therefore names a shared-cache in-memory database
//    ("file:engram-battery-N?mode=memory&cache=shared") and keeps one raw connection to it
//    for the factory's lifetime: every handle then sees the same data, as long as the
//    process lives. It is not shared across processes (a fork()ed child gets a private copy
//    of the memory), so kSharedAcrossProcesses is false.

#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <stdexcept>
#include <string>

#include "engram/conformance/battery.hpp"
#include "engram/stores/sqlite_store.hpp"
#include "temp_dir.hpp"

namespace {

using engram::SqliteStore;

struct SqliteFileFactory {
  using StoreType = SqliteStore;
  static constexpr bool kSharedAcrossProcesses = true;

  SqliteStore make() { return SqliteStore(dir_ / "cache.db"); }
  SqliteStore::Location restore_location() { return dir_ / ("restored-" + std::to_string(++restores_) + ".db"); }
  // The file make() opens, so that the Lineage suite can restore into the live store.
  SqliteStore::Location live_location() { return dir_ / "cache.db"; }

  // Scribbles over the header and cell pointers of every page but the first (the schema) of
  // the closed database file (the last close checkpointed the WAL into it), as a failing disk
  // would: open() then throws StoreCorrupt or integrity_check() says false. Damage to a
  // page's unused middle would be invisible, and harmless, so the start of each page is hit.
  void corrupt() {
    const auto path = dir_ / "cache.db";
    const auto size = std::filesystem::file_size(path);
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    for (std::uintmax_t off = 4096; off < size; off += 4096) {
      f.seekp(static_cast<std::streamoff>(off));
      for (int i = 0; i < 512; ++i) f.put(static_cast<char>(0x5A ^ (i * 37)));
    }
  }

  engram::testing::TempDir dir_;
  int restores_ = 0;
};

struct SqliteMemoryFactory {
  using StoreType = SqliteStore;
  static constexpr bool kSharedAcrossProcesses = false;

  SqliteMemoryFactory()
      : uri_("file:engram-battery-" + std::to_string(::getpid()) + "-" + std::to_string(next_id_.fetch_add(1)) +
             "?mode=memory&cache=shared") {
    // The keeper connection holds the shared in-memory database alive between handles.
    if (sqlite3_open_v2(uri_.c_str(), &keeper_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                        nullptr) != SQLITE_OK) {
      sqlite3_close(keeper_);
      throw std::runtime_error("cannot open the shared in-memory database " + uri_);
    }
  }
  ~SqliteMemoryFactory() { sqlite3_close(keeper_); }
  SqliteMemoryFactory(const SqliteMemoryFactory&) = delete;
  SqliteMemoryFactory& operator=(const SqliteMemoryFactory&) = delete;

  SqliteStore make() { return SqliteStore(uri_); }
  // Restoring into memory would vanish on close; restores go to files. For the same reason
  // there is no live_location(): the Lineage tests that restore into the live store skip.
  SqliteStore::Location restore_location() { return dir_ / ("restored-" + std::to_string(++restores_) + ".db"); }

  // The memory cannot be scribbled over from outside; damage it logically instead: an
  // unreadable schema version makes open() refuse the data as StoreCorrupt.
  void corrupt() {
    sqlite3_exec(keeper_, "UPDATE engram_meta SET value = 'garbage' WHERE key = 'schema_version'", nullptr, nullptr,
                 nullptr);
  }

  static inline std::atomic<int> next_id_{0};
  std::string uri_;
  sqlite3* keeper_ = nullptr;
  engram::testing::TempDir dir_;
  int restores_ = 0;
};

}  // namespace

ENGRAM_INSTANTIATE_STORE_BATTERY(SqliteFile, SqliteFileFactory);
ENGRAM_INSTANTIATE_STORE_BATTERY(SqliteMemory, SqliteMemoryFactory);
