#include "sqlite_vfs.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace engram::detail {
namespace {

// The unix VFS writes at most 0x1ffff bytes per xWrite (seekAndWrite masks the length to 17
// bits), so pending appends are written in chunks below that and flushed once this many are
// pending (a large insert_many writes many frames before its commit frame).
constexpr std::size_t kMaxChunk = std::size_t{96} * 1024;
constexpr std::size_t kMaxPending = kMaxChunk;
// A WAL frame header is 24 bytes; bytes 4..7 (big-endian) are nonzero only in a commit frame.
constexpr int kFrameHeaderBytes = 24;
constexpr sqlite3_int64 kWalHeaderBytes = 32;
// Lock index of the WAL write lock in xShmLock (WAL_WRITE_LOCK in SQLite's wal.c).
constexpr int kWalWriteLock = 0;

struct ShimState;

// The sqlite3_file SQLite allocates for us (szOsFile bytes): our header, then the real file.
// Plain data, so that the sqlite3_file* SQLite holds and the Shim* are interconvertible.
struct Shim {
  sqlite3_file base;
  sqlite3_file* real;
  ShimState* state;
};

struct ShimState {
  bool is_wal = false;
  // WAL file: its database's shim. Database file: its open WAL's shim (flushed before any of
  // the database's own calls, xShmBarrier above all). Cleared by whichever closes first.
  Shim* peer = nullptr;

  // Pending WAL appends: bytes for file offsets [pending_offset, pending_offset + size).
  std::vector<unsigned char> pending;
  sqlite3_int64 pending_offset = 0;
  bool flush_after_next_write = false;  // the last append was a commit frame's header
  // A flush that failed where SQLite could not be told (xShmBarrier returns void): every
  // later call on the WAL fails with it, so nothing builds on the missing frames.
  int sticky_error = SQLITE_OK;

  WalIndexTap tap;  // database files only
};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs{};
sqlite3_io_methods g_methods{};
constexpr std::size_t kShimBytes = (sizeof(Shim) + 15) / 16 * 16;

Shim* shim(sqlite3_file* f) { return reinterpret_cast<Shim*>(f); }
sqlite3_file* real(sqlite3_file* f) { return shim(f)->real; }
ShimState& st(sqlite3_file* f) { return *shim(f)->state; }

// Writes the pending WAL bytes with one pwrite. `reported`: the caller returns the result to
// SQLite; otherwise a failure becomes sticky.
int flush_wal(Shim* wal, bool reported = true) {
  ShimState& s = *wal->state;
  s.flush_after_next_write = false;
  if (s.pending.empty()) return s.sticky_error;
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < s.pending.size() && rc == SQLITE_OK;) {
    const std::size_t n = std::min(kMaxChunk, s.pending.size() - done);
    rc = wal->real->pMethods->xWrite(wal->real, s.pending.data() + done, static_cast<int>(n),
                                     s.pending_offset + static_cast<sqlite3_int64>(done));
    done += n;
  }
  s.pending.clear();
  if (rc != SQLITE_OK && !reported && s.sticky_error == SQLITE_OK) s.sticky_error = rc;
  return rc;
}

// Before any operation on a file: its own pending appends (WAL), or its WAL's (database).
int flush_for(sqlite3_file* f, bool reported = true) {
  ShimState& s = st(f);
  if (s.is_wal) return flush_wal(shim(f), reported);
  if (s.peer != nullptr && (!s.peer->state->pending.empty() || s.peer->state->sticky_error != SQLITE_OK)) {
    return flush_wal(s.peer, reported);
  }
  return SQLITE_OK;
}

int x_close(sqlite3_file* f) {
  const int flush_rc = flush_for(f);
  ShimState* s = shim(f)->state;
  if (s->peer != nullptr) s->peer->state->peer = nullptr;
  const int rc = real(f)->pMethods->xClose(real(f));
  delete s;
  shim(f)->state = nullptr;
  return rc != SQLITE_OK ? rc : flush_rc;
}

int x_read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xRead(real(f), buf, amt, off);
}

int x_write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  ShimState& s = st(f);
  if (!s.is_wal) {
    if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
    return real(f)->pMethods->xWrite(real(f), buf, amt, off);
  }
  if (s.sticky_error != SQLITE_OK) return s.sticky_error;
  // Only appends directly after the pending bytes coalesce; anything else (the WAL header of
  // a restarted log, a frame rewritten in place) goes out in order after a flush.
  if (!s.pending.empty() && off != s.pending_offset + static_cast<sqlite3_int64>(s.pending.size())) {
    if (int rc = flush_wal(shim(f)); rc != SQLITE_OK) return rc;
  }
  if (off < kWalHeaderBytes) {
    if (int rc = flush_wal(shim(f)); rc != SQLITE_OK) return rc;
    return real(f)->pMethods->xWrite(real(f), buf, amt, off);
  }
  const bool finishes_commit = s.flush_after_next_write;
  s.flush_after_next_write = false;
  if (s.pending.empty()) s.pending_offset = off;
  const auto* bytes = static_cast<const unsigned char*>(buf);
  s.pending.insert(s.pending.end(), bytes, bytes + amt);
  if (amt == kFrameHeaderBytes && (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0) {
    s.flush_after_next_write = true;  // the commit frame's page comes next
  }
  // The commit frame is complete: write the transaction now, so a write error is returned to
  // the commit (which rolls back) rather than discovered later.
  if (finishes_commit || s.pending.size() >= kMaxPending) return flush_wal(shim(f));
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xTruncate(real(f), size);
}

int x_sync(sqlite3_file* f, int flags) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xSync(real(f), flags);
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFileSize(real(f), size);
}

int x_lock(sqlite3_file* f, int level) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xLock(real(f), level);
}

int x_unlock(sqlite3_file* f, int level) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xUnlock(real(f), level);
}

int x_check_reserved(sqlite3_file* f, int* out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); }

int x_file_control(sqlite3_file* f, int op, void* arg) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}

int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }

int x_shm_map(sqlite3_file* f, int region, int region_bytes, int extend, void volatile** out) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  const int rc = real(f)->pMethods->xShmMap(real(f), region, region_bytes, extend, out);
  // The header lives at the start of region 0; SQLite never moves a mapped region.
  if (rc == SQLITE_OK && region == 0 && *out != nullptr) {
    st(f).tap.shm0 = static_cast<const volatile std::uint32_t*>(*out);
  }
  return rc;
}

int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  ShimState& s = st(f);
  if (flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE) && offset <= kWalWriteLock && kWalWriteLock < offset + n) {
    if (s.tap.before_write_unlock != nullptr) s.tap.before_write_unlock(s.tap.before_write_unlock_context);
    if (s.tap.shm0 != nullptr) {
      // Still holding the write lock: the header is the one this connection published last.
      s.tap.unlock_header_ok = read_wal_header(s.tap.shm0, s.tap.unlock_header);
      ++s.tap.unlock_count;
    }
  }
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}

void x_shm_barrier(sqlite3_file* f) {
  // SQLite calls this between writing the two copies of a new wal-index header: every frame
  // of the commit must be in the file before the second copy makes it visible. Normally the
  // commit frame already flushed; a failure here is kept in sticky_error.
  (void)flush_for(f, false);
  real(f)->pMethods->xShmBarrier(real(f));
}

int x_shm_unmap(sqlite3_file* f, int delete_flag) {
  (void)flush_for(f, false);
  st(f).tap.shm0 = nullptr;
  st(f).tap.unlock_header_ok = false;
  return real(f)->pMethods->xShmUnmap(real(f), delete_flag);
}

int x_fetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** pp) {
  if (int rc = flush_for(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFetch(real(f), off, amt, pp);
}

int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return real(f)->pMethods->xUnfetch(real(f), off, p); }

bool is_ours(const sqlite3_file* f) { return f != nullptr && f->pMethods == &g_methods; }

int v_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  Shim* s = shim(f);
  s->base.pMethods = nullptr;  // SQLite calls xClose only if this is set
  s->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kShimBytes);
  s->real->pMethods = nullptr;
  s->state = nullptr;
  auto* state = new (std::nothrow) ShimState;
  if (state == nullptr) return SQLITE_NOMEM;
  const int rc = g_real->xOpen(g_real, name, s->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (s->real->pMethods != nullptr) s->real->pMethods->xClose(s->real);
    delete state;
    return rc;
  }
  if (s->real->pMethods->iVersion < 3) {
    // A platform VFS without shared memory or mmap: nothing to coalesce or tap, but we
    // cannot hand SQLite methods it would call through; refuse so the caller falls back.
    s->real->pMethods->xClose(s->real);
    delete state;
    return SQLITE_CANTOPEN;
  }
  s->state = state;
  if ((flags & SQLITE_OPEN_WAL) != 0 && name != nullptr) {
    state->is_wal = true;
    sqlite3_file* db_file = sqlite3_database_file_object(name);
    if (is_ours(db_file)) {
      state->peer = shim(db_file);
      if (shim(db_file)->state != nullptr) shim(db_file)->state->peer = s;
    }
  }
  s->base.pMethods = &g_methods;
  return SQLITE_OK;
}

int v_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_real->xDelete(g_real, name, sync_dir); }
int v_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_real->xAccess(g_real, name, flags, out); }
int v_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* v_dlopen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void v_dlerror(sqlite3_vfs*, int n, char* out) { g_real->xDlError(g_real, n, out); }
void (*v_dlsym(sqlite3_vfs*, void* h, const char* sym))(void) { return g_real->xDlSym(g_real, h, sym); }
void v_dlclose(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int v_randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int v_sleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int v_current_time(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int v_last_error(sqlite3_vfs*, int n, char* out) { return g_real->xGetLastError(g_real, n, out); }
int v_current_time64(sqlite3_vfs*, sqlite3_int64* out) { return g_real->xCurrentTimeInt64(g_real, out); }
int v_set_syscall(sqlite3_vfs*, const char* name, sqlite3_syscall_ptr p) {
  return g_real->xSetSystemCall(g_real, name, p);
}
sqlite3_syscall_ptr v_get_syscall(sqlite3_vfs*, const char* name) { return g_real->xGetSystemCall(g_real, name); }
const char* v_next_syscall(sqlite3_vfs*, const char* name) { return g_real->xNextSystemCall(g_real, name); }

const char* register_vfs() noexcept {
  if (sqlite3_initialize() != SQLITE_OK) return nullptr;
  g_real = sqlite3_vfs_find(nullptr);
  // Needs the version-3 VFS interface (xCurrentTimeInt64, system calls) to forward.
  if (g_real == nullptr || g_real->iVersion < 3) return nullptr;
  g_methods = sqlite3_io_methods{3,
                                 x_close,
                                 x_read,
                                 x_write,
                                 x_truncate,
                                 x_sync,
                                 x_file_size,
                                 x_lock,
                                 x_unlock,
                                 x_check_reserved,
                                 x_file_control,
                                 x_sector_size,
                                 x_device_characteristics,
                                 x_shm_map,
                                 x_shm_lock,
                                 x_shm_barrier,
                                 x_shm_unmap,
                                 x_fetch,
                                 x_unfetch};
  g_vfs = sqlite3_vfs{};
  g_vfs.iVersion = 3;
  g_vfs.szOsFile = static_cast<int>(kShimBytes) + g_real->szOsFile;
  g_vfs.mxPathname = g_real->mxPathname;
  g_vfs.zName = "engram-unix";
  g_vfs.xOpen = v_open;
  g_vfs.xDelete = v_delete;
  g_vfs.xAccess = v_access;
  g_vfs.xFullPathname = v_full_pathname;
  g_vfs.xDlOpen = v_dlopen;
  g_vfs.xDlError = v_dlerror;
  g_vfs.xDlSym = v_dlsym;
  g_vfs.xDlClose = v_dlclose;
  g_vfs.xRandomness = v_randomness;
  g_vfs.xSleep = v_sleep;
  g_vfs.xCurrentTime = v_current_time;
  g_vfs.xGetLastError = v_last_error;
  g_vfs.xCurrentTimeInt64 = v_current_time64;
  g_vfs.xSetSystemCall = v_set_syscall;
  g_vfs.xGetSystemCall = v_get_syscall;
  g_vfs.xNextSystemCall = v_next_syscall;
  if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) return nullptr;
  return g_vfs.zName;
}

}  // namespace

const char* engram_vfs_name() noexcept {
  static const char* const name = register_vfs();  // thread-safe once
  return name;
}

WalIndexTap* wal_index_tap(sqlite3* db) noexcept {
  sqlite3_file* f = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK) return nullptr;
  if (!is_ours(f) || shim(f)->state == nullptr || shim(f)->state->is_wal) return nullptr;
  return &shim(f)->state->tap;
}

bool read_wal_header(const volatile std::uint32_t* shm0, WalHeader& out) noexcept {
  if (shm0 == nullptr) return false;
  // Other processes write these words concurrently. Copy 1 is read with acquire loads, so
  // copy 2 is read after it: the discipline of SQLite's own walIndexTryHdr (copy 1, barrier,
  // copy 2), in a form ThreadSanitizer understands (it rejects standalone fences).
  for (std::size_t i = 0; i < kWalHdrWords; ++i) out[i] = __atomic_load_n(&shm0[i], __ATOMIC_ACQUIRE);
  bool same = true;
  for (std::size_t i = 0; i < kWalHdrWords; ++i)
    same &= (out[i] == __atomic_load_n(&shm0[kWalHdrWords + i], __ATOMIC_RELAXED));
  // isInit is byte 12 of the header (word 3's first byte in memory order).
  unsigned char is_init = 0;
  std::memcpy(&is_init, reinterpret_cast<const unsigned char*>(&out[3]), 1);
  return same && is_init != 0;
}

}  // namespace engram::detail
