#pragma once
// Internal to engram::sqlite: "engram-unix", a thin shim over the platform's default VFS that
// every file-backed SqliteStore connection opens through. It changes no on-disk format and no
// locking protocol (plain sqlite3 connections and other processes interoperate unchanged);
// it does two things:
//
// 1. Coalesces WAL appends. SQLite writes each WAL frame as two pwrite calls (24-byte frame
//    header, then the page), so a commit touching 9 pages costs 18 syscalls (~3 us each on a
//    VM). The shim buffers consecutive appends to the WAL file and writes them with one
//    pwrite when the commit frame's page has been appended, and in any case before any other
//    operation on the WAL file or on its database's file or wal-index (read, sync, truncate,
//    size, lock, xShmBarrier/xShmLock/xShmMap...). SQLite publishes a commit by writing the
//    wal-index header around an xShmBarrier call, and readers only look at frames <= the
//    published mxFrame, so every frame is in the file (the kernel's page cache, which is all
//    synchronous=NORMAL promises for a commit) before any reader can be told it exists.
//
// 2. Taps the wal-index. It remembers where SQLite mapped region 0 of the -shm file (the
//    WAL-index header lives at its start, stored twice: https://www.sqlite.org/walformat.html)
//    and, when this connection releases the WAL write lock, copies the header: that copy is
//    exactly the state this connection's commit produced, since nobody else can commit while
//    the write lock is held. SqliteStore uses both for its syscall-free "nothing committed
//    since" check (see sqlite_store.cpp, PollCache), and is told just before the release so
//    that it stops vouching for the counter on the strength of holding the lock.

#include <sqlite3.h>

#include <array>
#include <cstdint>

namespace engram::detail {

// The two 48-byte copies of the WAL-index header (WalIndexHdr), as 32-bit words.
inline constexpr std::size_t kWalHdrWords = 12;
using WalHeader = std::array<std::uint32_t, kWalHdrWords>;

struct WalIndexTap {
  // Region 0 of the wal-index as SQLite mapped it for this connection; null until SQLite maps
  // it (no WAL read yet) and after it unmaps it.
  const volatile std::uint32_t* shm0 = nullptr;
  // The header seen when this connection last released the WAL write lock, and how many
  // releases there have been (a commit releases it exactly once).
  WalHeader unlock_header{};
  bool unlock_header_ok = false;
  std::uint64_t unlock_count = 0;
  // Called just before this connection releases the WAL write lock (commit, rollback or
  // error alike), while no other connection can have committed since it took the lock.
  void (*before_write_unlock)(void* context) = nullptr;
  void* before_write_unlock_context = nullptr;
};

// Registers the shim (once per process, thread-safe) and returns its name, or nullptr when
// registration failed (the caller then opens with the default VFS and polls the slow way).
const char* engram_vfs_name() noexcept;

// The tap of `db`'s main database file, or nullptr when it was not opened through the shim
// (in-memory databases, or registration failed). Valid until the connection closes.
WalIndexTap* wal_index_tap(sqlite3* db) noexcept;

// Reads the current WAL-index header from `shm0`: copy 1, a fence, copy 2 (the reverse of the
// order SQLite writes them in). False when the copies differ (a commit is being published) or
// the header is not initialised; the caller must then treat the state as changed.
bool read_wal_header(const volatile std::uint32_t* shm0, WalHeader& out) noexcept;

}  // namespace engram::detail
