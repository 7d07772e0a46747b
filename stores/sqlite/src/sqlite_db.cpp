#include "sqlite_db.hpp"

#include <bit>
#include <cstring>
#include <limits>
#include <string>

#include "engram/errors.hpp"

namespace engram::detail {

void throw_sqlite(int rc, std::string_view sqlite_message, const std::string& file, std::string_view what,
                  std::int64_t busy_timeout_ms) {
  std::string head = "SQLite store '" + file + "': " + std::string(what) + " failed: " + std::string(sqlite_message) +
                     " (SQLite code " + std::to_string(rc) + ", " + sqlite3_errstr(rc) + ").";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw StoreUnavailable(head + " Another connection held the database lock for longer than the busy timeout (" +
                             std::to_string(busy_timeout_ms) +
                             " ms). Remediation: retry the call; if it keeps happening raise "
                             "SqliteOptions::busy_timeout or find the process holding a long write transaction "
                             "on this file.");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      throw StoreCorrupt(head +
                         " The file is damaged or is not an engram SQLite database. Remediation: "
                         "restore it from a snapshot (SqliteStore::restore_from) or delete it to "
                         "start with an empty cache.");
    case SQLITE_FULL:
      throw StoreError(head + " Remediation: free disk space on the volume holding the database.");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
      throw StoreError(head +
                       " Remediation: check that the file and its directory exist and are "
                       "writable by this process (the -wal and -shm files are created beside it).");
    case SQLITE_IOERR:
      throw StoreError(head + " Remediation: check the disk and file system holding the database.");
    default:
      throw StoreError(head +
                       " Remediation: check the SQLite message above; if the file is "
                       "damaged, restore it from a snapshot.");
  }
}

// ---- Stmt --------------------------------------------------------------------------------

Stmt::~Stmt() {
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    // Reset can return the error of the last step; that error was already reported.
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) db_->fail(rc, "binding a parameter");
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_->fail(rc, "binding a parameter");
  return *this;
}

Stmt& Stmt::bind_text(int index, std::string_view text) {
  // A null data pointer would bind SQL NULL, which a NOT NULL column rejects; "" is text.
  const char* data = text.data() != nullptr ? text.data() : "";
  int rc = sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK) db_->fail(rc, "binding a text parameter");
  return *this;
}

Stmt& Stmt::bind_blob(int index, const void* data, std::size_t bytes) {
  static const char kEmpty = 0;
  const void* p = data != nullptr ? data : &kEmpty;  // empty blob, not NULL
  int rc = sqlite3_bind_blob64(stmt_, index, p, bytes, SQLITE_STATIC);
  if (rc != SQLITE_OK) db_->fail(rc, "binding a blob parameter");
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail(rc, "running a statement");
}

void Stmt::run() {
  while (step()) {
  }
}

std::string_view Stmt::column_view(int col) const noexcept {
  // column_blob returns the raw bytes for TEXT too, without any conversion.
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return {};
  return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}

std::string Stmt::column_bytes(int col) const { return std::string(column_view(col)); }

// ---- Db ----------------------------------------------------------------------------------

Db::~Db() { close(); }

void Db::open(const std::string& path, int flags, const char* vfs) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
  if (rc != SQLITE_OK) {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close();
    throw_sqlite(rc, message, file_, "opening the database", busy_timeout_ms_);
  }
  sqlite3_extended_result_codes(db_, 1);
  int timeout = busy_timeout_ms_ > std::numeric_limits<int>::max()
                    ? std::numeric_limits<int>::max()
                    : static_cast<int>(busy_timeout_ms_ < 0 ? 0 : busy_timeout_ms_);
  sqlite3_busy_timeout(db_, timeout);
}

void Db::close() noexcept {
  for (auto& stmt : cache_) {
    if (stmt != nullptr) sqlite3_finalize(stmt);
    stmt = nullptr;
  }
  if (db_ != nullptr) {
    // close_v2 never fails for a connection whose statements are finalized; a backup object
    // would defer the close, never leak it.
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

void Db::fail(int rc, std::string_view what) const {
  throw_sqlite(rc, db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc), file_, what, busy_timeout_ms_);
}

Stmt Db::use(Sql id) const {
  auto& slot = cache_[static_cast<std::size_t>(id)];
  if (slot == nullptr) {
    int rc = sqlite3_prepare_v3(db_, sql_text(id), -1, SQLITE_PREPARE_PERSISTENT, &slot, nullptr);
    if (rc != SQLITE_OK) {
      slot = nullptr;
      fail(rc, "preparing a statement");
    }
  }
  if (sqlite3_stmt_busy(slot)) {
    sqlite3_stmt* fresh = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql_text(id), -1, &fresh, nullptr);
    if (rc != SQLITE_OK) fail(rc, "preparing a statement");
    return Stmt(*this, fresh, true);
  }
  return Stmt(*this, slot, false);
}

Stmt Db::prepare(std::string_view sql) const {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) fail(rc, "preparing a statement");
  return Stmt(*this, stmt, true);
}

void Db::exec(const char* sql, std::string_view what) const {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    throw_sqlite(rc, message, file_, what, busy_timeout_ms_);
  }
}

std::string Db::query_text(const char* sql, std::string_view what) const {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) fail(rc, what);
  Stmt stmt(*this, raw, true);
  rc = sqlite3_step(raw);
  if (rc == SQLITE_DONE) return {};
  if (rc != SQLITE_ROW) fail(rc, what);
  return stmt.column_bytes(0);
}

std::int64_t Db::query_int(const char* sql, std::string_view what) const {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) fail(rc, what);
  Stmt stmt(*this, raw, true);
  rc = sqlite3_step(raw);
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) fail(rc, what);
  return stmt.column_int(0);
}

// ---- embeddings --------------------------------------------------------------------------

static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559,
              "engram stores IEEE-754 binary32 embeddings");

std::string_view embedding_bytes(const std::vector<float>& embedding, std::string& scratch) {
  const std::size_t n = embedding.size() * sizeof(float);
  if constexpr (std::endian::native == std::endian::little) {
    return {reinterpret_cast<const char*>(embedding.data()), n};
  } else {
    scratch.resize(n);
    for (std::size_t i = 0; i < embedding.size(); ++i) {
      auto bits = std::bit_cast<std::uint32_t>(embedding[i]);
      for (int b = 0; b < 4; ++b) scratch[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
    }
    return scratch;
  }
}

std::vector<float> decode_embedding(std::string_view bytes, const std::string& file) {
  if (bytes.size() % sizeof(float) != 0) {
    throw StoreCorrupt("SQLite store '" + file + "': an embedding blob has " + std::to_string(bytes.size()) +
                       " bytes, not a multiple of 4. Remediation: restore the database from a "
                       "snapshot or delete it.");
  }
  std::vector<float> out(bytes.size() / sizeof(float));
  if constexpr (std::endian::native == std::endian::little) {
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::uint32_t bits = 0;
      for (int b = 0; b < 4; ++b)
        bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[4 * i + b])) << (8 * b);
      out[i] = std::bit_cast<float>(bits);
    }
  }
  return out;
}

}  // namespace engram::detail
