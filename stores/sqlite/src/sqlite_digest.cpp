#include "sqlite_digest.hpp"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace engram::detail {
namespace {

// Streaming XXH3-128 with a framing that cannot be confused: every value carries its type tag
// and, for text and blobs, its length, so ("ab", "c") and ("a", "bc") digest differently.
class Digest {
 public:
  Digest() : state_(XXH3_createState(), &XXH3_freeState) {
    if (!state_ || XXH3_128bits_reset(state_.get()) != XXH_OK) throw std::bad_alloc();
  }

  void bytes(const void* data, std::size_t n) { XXH3_128bits_update(state_.get(), data, n); }
  void tag(char t) { bytes(&t, 1); }
  void u64(std::uint64_t v) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>((v >> (8 * i)) & 0xff);
    bytes(le, sizeof le);
  }
  void text(std::string_view s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }

  // One column of the current row of `st`, with its storage class.
  void column(sqlite3_stmt* st, int col) {
    const int type = sqlite3_column_type(st, col);  // before any access that could convert
    tag(static_cast<char>('0' + type));
    switch (type) {
      case SQLITE_INTEGER:
        u64(static_cast<std::uint64_t>(sqlite3_column_int64(st, col)));
        break;
      case SQLITE_FLOAT:
        u64(std::bit_cast<std::uint64_t>(sqlite3_column_double(st, col)));
        break;
      case SQLITE_TEXT:
      case SQLITE_BLOB: {
        // column_blob returns the stored bytes of TEXT too, without conversion.
        const void* p = sqlite3_column_blob(st, col);
        const int n = sqlite3_column_bytes(st, col);
        u64(static_cast<std::uint64_t>(n));
        if (p != nullptr && n > 0) bytes(p, static_cast<std::size_t>(n));
        break;
      }
      default:  // NULL: the tag says it all
        break;
    }
  }

  std::string hex() const {
    const XXH128_hash_t h = XXH3_128bits_digest(state_.get());
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    for (std::uint64_t part : {h.high64, h.low64}) {
      for (int shift = 60; shift >= 0; shift -= 4) out += kDigits[(part >> shift) & 0xf];
    }
    return out;
  }

 private:
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state_;
};

using StmtPtr = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

StmtPtr prepare(const Db& db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    db.fail(rc, "checksumming the database");
  }
  return StmtPtr(raw, &sqlite3_finalize);
}

// Steps `st`; true on a row, false when done; throws on an error (a damaged page, say).
bool step(const Db& db, sqlite3_stmt* st) {
  const int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db.fail(rc, "checksumming the database");
}

// Digests every row of the statement's result, framed by a row marker; returns the row count.
std::uint64_t digest_rows(const Db& db, Digest& d, sqlite3_stmt* st) {
  const int columns = sqlite3_column_count(st);
  d.u64(static_cast<std::uint64_t>(columns));
  std::uint64_t rows = 0;
  while (step(db, st)) {
    d.tag('R');
    for (int c = 0; c < columns; ++c) d.column(st, c);
    ++rows;
  }
  return rows;
}

}  // namespace

std::string content_digest(const Db& db) {
  Digest d;
  const std::string skip = kSnapshotTable;

  d.tag('S');
  {
    auto st = prepare(db, "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name <> '" + skip +
                              "' AND tbl_name <> '" + skip + "' ORDER BY type, name");
    d.u64(digest_rows(db, d, st.get()));
  }
  d.tag('A');
  {
    auto st = prepare(db, "PRAGMA application_id");
    digest_rows(db, d, st.get());
  }

  std::vector<std::string> tables;
  {
    auto st =
        prepare(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name <> '" + skip + "' ORDER BY name");
    while (step(db, st.get())) {
      const auto* p = sqlite3_column_blob(st.get(), 0);
      tables.emplace_back(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st.get(), 0)));
    }
  }
  for (const auto& table : tables) {
    // Rows in primary-key order, which is the order of the table's own b-tree (no sort);
    // rowid for a table without a declared key.
    std::vector<std::pair<int, std::string>> key;
    {
      auto st = prepare(db, "PRAGMA table_info(" + quote_ident(table) + ")");
      while (step(db, st.get())) {
        const int pk = sqlite3_column_int(st.get(), 5);
        if (pk > 0) {
          const auto* p = sqlite3_column_blob(st.get(), 1);
          key.emplace_back(pk, std::string(static_cast<const char*>(p),
                                           static_cast<std::size_t>(sqlite3_column_bytes(st.get(), 1))));
        }
      }
    }
    std::sort(key.begin(), key.end());
    std::string order;
    for (const auto& [pos, column] : key) order += (order.empty() ? "" : ", ") + quote_ident(column);
    if (order.empty()) order = "rowid";
    d.tag('T');
    d.text(table);
    auto st = prepare(db, "SELECT * FROM " + quote_ident(table) + " ORDER BY " + order);
    d.tag('E');
    d.u64(digest_rows(db, d, st.get()));
  }
  return d.hex();
}

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

}  // namespace engram::detail
