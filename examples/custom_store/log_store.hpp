#pragma once
// LogStore: an engram store written the way an application team would write their own, to
// show what the Store concept asks for. Everything lives in one append-only file of records
// ("insert row", "delete id", "touch", "quota", "meta"); each handle replays the file into
// memory and, before every call, replays whatever other handles or processes appended since.
// An flock() on the file makes each call atomic, so several processes can share one file.
//
// Thread safety: none; one thread per handle (the cache serializes its calls). Processes:
// safe, through flock(). The file only grows: this is an example, not a production store.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <engram/errors.hpp>
#include <engram/store.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <utility>

namespace example {

using engram::Change;
using engram::EntryId;
using engram::StoredEntry;
using engram::Timestamp;

class LogStore {
 public:
  using Location = std::filesystem::path;  // the log file

  explicit LogStore(Location file) : file_(std::move(file)) {}
  LogStore(LogStore&& o) noexcept
      : file_(std::move(o.file_)),
        fd_(std::exchange(o.fd_, -1)),
        state_(std::exchange(o.state_, kClosed)),
        db_(std::move(o.db_)) {}
  ~LogStore() { close(); }

  void open(std::string_view fingerprint, std::size_t dim) {
    if (state_ == kClosed) throw engram::CacheClosed("LogStore: handle is closed. Remediation: make a new one.");
    fd_ = ::open(file_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw engram::StoreUnavailable("LogStore: cannot open " + file_.string() + ". Remediation: check the path.");
    state_ = kOpen;  // so that locked() works; reset below if a check fails
    try {
      locked(LOCK_EX, [&] {
        if (db_.offset == 0) append(std::string(kMagic));  // a brand-new file
        const auto d = db_.meta.find("dim"), f = db_.meta.find("fingerprint");
        if (d != db_.meta.end() && d->second != std::to_string(dim))
          throw engram::DimensionMismatch("LogStore: file holds dim " + d->second +
                                          ". Remediation: use that embedder.");
        if (f != db_.meta.end() && f->second != fingerprint)
          throw engram::EmbedderMismatch("LogStore: file made by " + f->second + ". Remediation: use that embedder.");
        if (d == db_.meta.end()) append(record('M', str("dim") + str(std::to_string(dim))));
        if (f == db_.meta.end()) append(record('M', str("fingerprint") + str(std::string(fingerprint))));
      });
    } catch (...) {
      ::close(std::exchange(fd_, -1));
      state_ = kUnopened;
      db_ = Db{};
      throw;
    }
  }
  void close() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    state_ = kClosed;
  }

  // ---- reads: replay what others appended, then answer from memory ----
  std::optional<StoredEntry> get_by_hash(std::string_view ns, const engram::QueryHash& h) const {
    return locked(LOCK_SH, [&]() -> std::optional<StoredEntry> {
      for (const auto& [id, e] : db_.rows)
        if (e.ns == ns && e.query_hash == h) return e;
      return std::nullopt;
    });
  }
  std::optional<StoredEntry> get_by_id(EntryId id) const {
    return locked(LOCK_SH, [&]() -> std::optional<StoredEntry> {
      auto it = db_.rows.find(id);
      return it == db_.rows.end() ? std::nullopt : std::optional(it->second);
    });
  }
  std::size_t count(std::optional<std::string_view> ns = {}) const {
    return locked(LOCK_SH, [&] {
      return static_cast<std::size_t>(
          std::count_if(db_.rows.begin(), db_.rows.end(), [&](const auto& r) { return !ns || r.second.ns == *ns; }));
    });
  }
  std::vector<std::string> list_namespaces() const {
    return locked(LOCK_SH, [&] {
      std::set<std::string> names;
      for (const auto& [id, e] : db_.rows) names.insert(e.ns);
      return std::vector<std::string>(names.begin(), names.end());
    });
  }
  std::vector<EntryId> iter_lru_ids(std::size_t n, std::optional<std::string_view> ns = {}) const {
    return locked(LOCK_SH, [&] {
      std::vector<std::pair<Timestamp, EntryId>> order;
      for (const auto& [id, e] : db_.rows)
        if (!ns || e.ns == *ns) order.emplace_back(e.last_accessed_at, id);
      std::sort(order.begin(), order.end());  // oldest access first, ties by lower id
      std::vector<EntryId> ids;
      for (std::size_t i = 0; i < order.size() && i < n; ++i) ids.push_back(order[i].second);
      return ids;
    });
  }
  void iter_all(engram::EntryVisitor visit) const { iter_since(0, std::move(visit)); }
  void iter_since(EntryId last_id, engram::EntryVisitor visit) const {
    locked(LOCK_SH, [&] {
      for (auto it = db_.rows.upper_bound(last_id); it != db_.rows.end() && visit(it->second); ++it) {
      }
    });
  }
  std::uint64_t read_version_counter() const {
    return locked(LOCK_SH, [&] { return db_.changes.size(); });
  }
  std::optional<std::vector<Change>> changes_since(std::uint64_t version, std::size_t limit) const {
    return locked(LOCK_SH, [&]() -> std::optional<std::vector<Change>> {
      if (version > db_.changes.size()) return std::nullopt;  // the whole history is kept
      auto first = db_.changes.begin() + static_cast<std::ptrdiff_t>(version);
      return std::vector<Change>(first,
                                 first + static_cast<std::ptrdiff_t>(std::min(limit, db_.changes.size() - version)));
    });
  }
  std::optional<std::size_t> get_namespace_quota(std::string_view ns) const {
    return locked(LOCK_SH, [&]() -> std::optional<std::size_t> {
      auto it = db_.quotas.find(std::string(ns));
      return it == db_.quotas.end() ? std::nullopt : std::optional(it->second);
    });
  }
  std::optional<std::string> read_meta(std::string_view key) const {
    return locked(LOCK_SH, [&]() -> std::optional<std::string> {
      auto it = db_.meta.find(std::string(key));
      return it == db_.meta.end() ? std::nullopt : std::optional(it->second);
    });
  }

  // ---- writes: under the exclusive lock, decide, append records, replay them ----
  EntryId insert(const StoredEntry& e) {
    return locked(LOCK_EX, [&] {
      EntryId id = db_.next_id;  // an existing (ns, hash) keeps its id
      for (const auto& [rid, r] : db_.rows)
        if (r.ns == e.ns && r.query_hash == e.query_hash) id = rid;
      append(row_record(id, e));
      return id;
    });
  }
  void update_access(EntryId id, Timestamp now) {
    locked(LOCK_EX, [&] {
      if (db_.rows.contains(id)) append(record('A', num(id) + num(now.time_since_epoch().count())));
    });
  }
  bool delete_by_id(EntryId id) {
    return delete_where([&](const StoredEntry& e) { return e.id == id; }) == 1;
  }
  std::size_t delete_expired(Timestamp now, std::optional<std::string_view> ns = {}) {
    return delete_where([&](const StoredEntry& e) { return (!ns || e.ns == *ns) && e.expired_at(now); });
  }
  std::size_t clear_namespace(std::string_view ns) {
    return delete_where([&](const StoredEntry& e) { return e.ns == ns; });
  }
  std::size_t delete_many(std::span<const EntryId> ids) {
    std::set<EntryId> wanted(ids.begin(), ids.end());
    return delete_where([&](const StoredEntry& e) { return wanted.contains(e.id); });
  }
  void set_namespace_quota(std::string_view ns, std::size_t max) {
    locked(LOCK_EX, [&] { append(record('Q', str(std::string(ns)) + num(static_cast<std::int64_t>(max)))); });
  }
  void write_meta(std::string_view key, std::string_view value) {
    locked(LOCK_EX, [&] { append(record('M', str(std::string(key)) + str(std::string(value)))); });
  }

  // ---- integrity and backup ----
  bool integrity_check() const noexcept {
    if (state_ != kOpen) return false;
    try {
      return locked(LOCK_SH, [&] {
        Db fresh;  // replaying the whole file from scratch must succeed and agree
        replay(fresh, read_from(0));
        return fresh.rows == db_.rows && fresh.changes == db_.changes;
      });
    } catch (...) {
      return false;
    }
  }
  void snapshot_to(const std::filesystem::path& dest) const {
    locked(LOCK_SH, [&] {  // the lock makes the copy a point in time
      std::error_code ec;
      std::filesystem::copy_file(file_, dest, std::filesystem::copy_options::overwrite_existing, ec);
      if (ec)
        throw engram::CheckpointError("LogStore: snapshot failed: " + ec.message() + ". Remediation: check dest.");
    });
  }
  static LogStore restore_from(const std::filesystem::path& src, Location dest) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(src, ec) ||
        !std::filesystem::copy_file(src, dest, std::filesystem::copy_options::overwrite_existing, ec))
      throw engram::CheckpointError("LogStore: cannot restore " + src.string() + ". Remediation: check both paths.");
    return LogStore(std::move(dest));  // validated when opened
  }

 private:
  static constexpr std::string_view kMagic = "ENGLOG1\n";
  enum State { kUnopened, kOpen, kClosed };
  struct Db {
    std::map<EntryId, StoredEntry> rows;
    std::map<std::string, std::size_t> quotas;
    std::map<std::string, std::string> meta;
    std::vector<Change> changes;  // changes[i].version == i + 1
    EntryId next_id = 1;
    std::size_t offset = 0;  // bytes of the file already replayed
  };

  // Takes the lock, replays what other writers appended, runs fn, releases the lock.
  template <class Fn>
  std::invoke_result_t<Fn&> locked(int how, Fn fn) const {
    if (state_ != kOpen) throw engram::CacheClosed("LogStore: not open. Remediation: call open() first.");
    ::flock(fd_, how);
    struct Unlock {
      int fd;
      ~Unlock() { ::flock(fd, LOCK_UN); }
    } unlock{fd_};
    replay(db_, read_from(db_.offset));
    return fn();
  }
  template <class Pred>
  std::size_t delete_where(Pred pred) {
    return locked(LOCK_EX, [&] {
      std::string out;
      std::size_t n = 0;
      for (const auto& [id, e] : db_.rows)
        if (pred(e)) {
          out += record('D', num(id));
          ++n;
        }
      append(out);  // one write: all or nothing
      return n;
    });
  }

  // Appends encoded records (we hold LOCK_EX and are caught up) and replays them.
  void append(const std::string& bytes) {
    if (bytes.empty()) return;
    if (::write(fd_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
      throw engram::StoreUnavailable("LogStore: write failed. Remediation: check disk space.");
    replay(db_, read_from(db_.offset));
  }
  std::string read_from(std::size_t offset) const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw engram::StoreUnavailable("LogStore: fstat failed. Remediation: retry.");
    std::string buf(static_cast<std::size_t>(st.st_size) - std::min(offset, static_cast<std::size_t>(st.st_size)),
                    '\0');
    if (!buf.empty() &&
        ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(offset)) != static_cast<ssize_t>(buf.size()))
      throw engram::StoreUnavailable("LogStore: read failed. Remediation: retry.");
    return buf;
  }

  // ---- encoding: a record is [u32 length][op][fields]; numbers are 8 raw bytes ----
  static std::string num(std::int64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }
  static std::string str(const std::string& s) { return num(static_cast<std::int64_t>(s.size())) + s; }
  static std::string record(char op, const std::string& fields) {
    const auto n = static_cast<std::uint32_t>(fields.size() + 1);
    return std::string(reinterpret_cast<const char*>(&n), 4) + op + fields;
  }
  static std::string row_record(EntryId id, const StoredEntry& e) {
    std::string f = num(id) + str(e.ns) + std::string(e.query_hash.bytes.begin(), e.query_hash.bytes.end()) +
                    str(e.query) + str(e.response) + str(e.metadata) + num(e.created_at.time_since_epoch().count()) +
                    num(e.last_accessed_at.time_since_epoch().count()) + num(e.ttl ? e.ttl->count() : -1) +
                    num(e.access_count) + num(static_cast<std::int64_t>(e.embedding.size()));
    for (float x : e.embedding) f += num(std::bit_cast<std::uint32_t>(x));
    return record('I', f);
  }

  struct Reader {  // bounds-checked decoding; anything odd means the file is damaged
    std::string_view in;
    std::string_view take(std::size_t n) {
      if (n > in.size()) throw engram::StoreCorrupt("LogStore: truncated record. Remediation: restore a snapshot.");
      auto out = in.substr(0, n);
      in.remove_prefix(n);
      return out;
    }
    std::int64_t num() {
      std::int64_t v;
      std::memcpy(&v, take(8).data(), 8);
      return v;
    }
    std::string str() { return std::string(take(static_cast<std::size_t>(num()))); }
  };

  static void replay(Db& db, const std::string& bytes) {
    Reader file{bytes};
    if (db.offset == 0 && !bytes.empty() && file.take(kMagic.size()) != kMagic)
      throw engram::StoreCorrupt("LogStore: not a LogStore file. Remediation: check the path.");
    while (!file.in.empty()) {
      std::uint32_t n;
      std::memcpy(&n, file.take(4).data(), 4);
      Reader r{file.take(n)};
      const char op = r.take(1)[0];
      if (op == 'I') {
        StoredEntry e;
        e.id = r.num();
        e.ns = r.str();
        std::memcpy(e.query_hash.bytes.data(), r.take(16).data(), 16);
        e.query = r.str();
        e.response = r.str();
        e.metadata = r.str();
        e.created_at = Timestamp(engram::Millis(r.num()));
        e.last_accessed_at = Timestamp(engram::Millis(r.num()));
        if (auto ttl = r.num(); ttl >= 0) e.ttl = engram::Millis(ttl);
        e.access_count = r.num();
        e.embedding.resize(static_cast<std::size_t>(r.num()));
        for (float& x : e.embedding) x = std::bit_cast<float>(static_cast<std::uint32_t>(r.num()));
        db.next_id = std::max(db.next_id, e.id + 1);
        db.changes.push_back({db.changes.size() + 1, e.id, engram::ChangeKind::kUpsert});
        db.rows[e.id] = std::move(e);
      } else if (op == 'D') {
        const EntryId id = r.num();
        if (db.rows.erase(id)) db.changes.push_back({db.changes.size() + 1, id, engram::ChangeKind::kDelete});
      } else if (op == 'A') {
        const EntryId id = r.num();
        const Timestamp at{engram::Millis(r.num())};
        if (auto it = db.rows.find(id); it != db.rows.end()) {
          it->second.last_accessed_at = at;
          ++it->second.access_count;
        }
      } else if (op == 'Q') {
        std::string ns = r.str();
        db.quotas[ns] = static_cast<std::size_t>(r.num());
      } else if (op == 'M') {
        std::string key = r.str();
        db.meta[key] = r.str();
      } else {
        throw engram::StoreCorrupt("LogStore: unknown record. Remediation: restore a snapshot.");
      }
      if (!r.in.empty()) throw engram::StoreCorrupt("LogStore: malformed record. Remediation: restore a snapshot.");
    }
    db.offset += bytes.size();
  }

  Location file_;
  int fd_ = -1;
  State state_ = kUnopened;
  mutable Db db_;  // a cache of the file, refreshed by every call
};

static_assert(engram::Store<LogStore>);

}  // namespace example
