// The background WAL checkpointer of SqliteStore (see Checkpointer in sqlite_db.hpp).
#include <unistd.h>

#include <chrono>

#include "sqlite_db.hpp"

namespace engram::detail {

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    // After fork() the child holds a copy of this object but not the thread: joining would
    // wait forever.
    if (::getpid() == owner_) thread_.join();
    else thread_.detach();
  }
}

void Checkpointer::install(sqlite3* db) { sqlite3_wal_hook(db, &Checkpointer::on_commit, this); }

std::uint64_t Checkpointer::runs() const {
  std::lock_guard lock(mu_);
  return runs_;
}

int Checkpointer::on_commit(void* self, sqlite3* /*db*/, const char* /*schema*/, int frames) {
  auto* c = static_cast<Checkpointer*>(self);
  if (frames >= 0 && static_cast<std::size_t>(frames) >= c->pages_) c->wake();
  return SQLITE_OK;
}

void Checkpointer::wake() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    pending_ = true;
    if (!thread_.joinable() || owner_ != ::getpid()) {
      if (thread_.joinable()) thread_.detach();  // a forked child: start its own
      owner_ = ::getpid();
      thread_ = std::thread([this] { loop(); });
    }
  }
  cv_.notify_one();
}

void Checkpointer::loop() {
  Db db(location_, busy_timeout_ms_);
  bool opened = false;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return pending_ || stop_; });
    if (stop_) break;
    pending_ = false;
    lock.unlock();
    try {
      if (!opened) {
        db.open(location_, flags_, vfs_.empty() ? nullptr : vfs_.c_str());
        sqlite3_wal_autocheckpoint(db.handle(), 0);  // this connection never writes anyway
        // A connection learns that the file is in WAL mode on its first read; until then a
        // checkpoint call is a no-op (log and done -1).
        (void)db.query_int("PRAGMA schema_version", "reading the schema version for the checkpointer");
        opened = true;
      }
      int log = 0, done = 0;
      sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
      if (log >= 0 && static_cast<std::size_t>(log) >= 2 * pages_) {
        // A writer that never pauses keeps the WAL from restarting: every commit appends to
        // new file blocks, and on ext4 each checkpoint's fsync then flushes that whole dirty
        // tail while the writer's next append waits for the journal (puts of 0.1-0.6 s seen).
        // RESTART makes the next commit start the WAL over. With no busy handler it takes the
        // write lock only if it is free at once (else it is a second PASSIVE pass), and then
        // holds it just to copy the few frames committed since the pass above.
        sqlite3_busy_timeout(db.handle(), 0);
        sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_RESTART, &log, &done);
        sqlite3_busy_timeout(db.handle(), static_cast<int>(busy_timeout_ms_));
      }
    } catch (...) {  // NOLINT(bugprone-empty-catch): see the class comment; the next wake retries
    }
    lock.lock();
    ++runs_;
    // At most one checkpoint per 50 ms, however often commits cross the threshold meanwhile.
    cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop_; });
  }
  lock.unlock();
  db.close();
}

}  // namespace engram::detail
