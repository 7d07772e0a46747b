#pragma once
// Helpers for the SqliteStore tests: deterministic entries, a raw sqlite3 connection for
// crafting and inspecting files behind the store's back, and fork/pipe plumbing for the
// multi-process tests (children only call the store and _exit()).

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "engram/hash.hpp"
#include "engram/stores/sqlite_store.hpp"

namespace engram::sqlite_test {

inline constexpr std::string_view kFingerprint = "engram:test:sqlite:d8";
inline constexpr std::size_t kDim = 8;

inline Timestamp at(std::int64_t offset_ms) { return Timestamp(Millis(1'700'000'000'000LL + offset_ms)); }

inline std::vector<float> embedding_for(std::string_view key, std::size_t dim = kDim) {
  std::vector<float> v(dim);
  const auto h = hash_bytes(key);
  double norm = 0;
  for (std::size_t i = 0; i < dim; ++i) {
    v[i] = static_cast<float>(h.bytes[i % 16]) - 127.5f + static_cast<float>(i);
    norm += static_cast<double>(v[i]) * v[i];
  }
  for (auto& f : v) f = static_cast<float>(f / std::sqrt(norm));
  return v;
}

// prefix + decimal i. Built by appending: g++ 12 at -O3 reports a false -Wrestrict on
// `"k" + std::to_string(i)` (libstdc++ PR 105329), which -Werror turns into a build failure.
inline std::string numbered(std::string_view prefix, long long i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

inline StoredEntry make_entry(std::string ns, const std::string& key, std::string metadata = "{}", std::int64_t t = 0) {
  StoredEntry e;
  e.ns = std::move(ns);
  e.query_hash = hash_bytes(e.ns + '\x1f' + key);
  e.query = "query " + key;
  e.response = "response " + key;
  e.embedding = embedding_for(key);
  e.metadata = std::move(metadata);
  e.created_at = at(t);
  e.last_accessed_at = at(t);
  return e;
}

inline SqliteStore open_store(const std::filesystem::path& path, SqliteOptions options = {}) {
  SqliteStore s(path, options);
  s.open(kFingerprint, kDim);
  return s;
}

// A plain sqlite3 connection, for doing to a file what another program (or an older
// engram) would do.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      std::string m = db_ ? sqlite3_errmsg(db_) : "open failed";
      sqlite3_close(db_);
      throw std::runtime_error(m);
    }
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "exec failed";
      sqlite3_free(err);
      throw std::runtime_error(m + " in: " + sql);
    }
  }
  // Result code of exec, for statements expected to fail.
  int try_exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }

  std::string text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* p = sqlite3_column_text(st, 0);
      if (p) out.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
    }
    sqlite3_finalize(st);
    return out;
  }
  std::int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// The bytes and modification time of a file, to prove that a refused call did not write it.
struct FileState {
  std::string bytes;
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;
  bool operator==(const FileState&) const = default;
};

inline FileState file_state(const std::filesystem::path& path) {
  FileState st;
  std::ifstream in(path, std::ios::binary);
  st.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    st.mtime_sec = info.st_mtim.tv_sec;
    st.mtime_nsec = info.st_mtim.tv_nsec;
  }
  return st;
}

// Another program's database: journal_mode=DELETE (SQLite's default), one table with rows.
inline void make_foreign_database(const std::filesystem::path& path) {
  RawDb raw(path);
  raw.exec(
      "PRAGMA journal_mode = DELETE; CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
      "INSERT INTO customers(name) VALUES ('ada'), ('grace'), ('barbara');");
}

// A child process running `body`; exit code 0 when body returns, 1 when it throws.
// The child never runs destructors of the parent's objects (it leaves with _exit).
inline pid_t spawn(const std::function<void()>& body) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int code = 0;
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
      code = 1;
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  return pid;
}

// Waits for `pid`; returns its exit status (or 128 + signal).
inline int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A pipe carrying fixed-size integers (writes of 8 bytes are atomic: < PIPE_BUF).
class Pipe {
 public:
  Pipe() {
    if (::pipe(fds_) != 0) throw std::runtime_error("pipe failed");
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  void close_read() {
    if (fds_[0] >= 0) ::close(fds_[0]);
    fds_[0] = -1;
  }
  void close_write() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }
  void send(std::int64_t v) {
    if (::write(fds_[1], &v, sizeof v) != static_cast<ssize_t>(sizeof v)) throw std::runtime_error("pipe write failed");
  }
  // False at end of file.
  bool receive(std::int64_t& v) {
    std::size_t got = 0;
    auto* p = reinterpret_cast<char*>(&v);
    while (got < sizeof v) {
      ssize_t n = ::read(fds_[0], p + got, sizeof v - got);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      got += static_cast<std::size_t>(n);
    }
    return true;
  }

 private:
  int fds_[2] = {-1, -1};
};

}  // namespace engram::sqlite_test
