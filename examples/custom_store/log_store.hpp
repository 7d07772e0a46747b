#pragma once
// LogStore: an engram store written the way an application team would write their own, to
// show what the Store concept asks for. Everything lives in one append-only file of records
// ("insert row", "delete id", "touch", "quota", "meta"); each handle replays the file into
// memory and, before every call, replays whatever other handles or processes appended since.
// An flock() on the file makes each call atomic, so several processes can share one file.
//
// Lineage (rules L1-L3 of docs/store-contract.md). The whole history is kept, so the latest
// change record is always there (L1). restore_from into a file that already holds a store
// writes the snapshot followed by an "R" record carrying a counter above both the old file's
// and the snapshot's and the larger of their next ids: ids are never handed out twice (L2),
// and every version before the new counter answers nullopt, so attached readers rebuild
// instead of trusting a feed that describes another history (L3). The new file is renamed
// into place, and handles notice the new file and replay it from the start.
//
// Thread safety: none; one thread per handle (the cache serializes its calls). Processes:
// safe, through flock(). The file only grows: this is an example, not a production store.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <engram/errors.hpp>
#include <engram/store.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>
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
    return locked(LOCK_SH, [&] { return db_.version; });
  }
  std::optional<std::vector<Change>> changes_since(std::uint64_t version, std::size_t limit) const {
    return locked(LOCK_SH, [&]() -> std::optional<std::vector<Change>> {
      // Ahead of the counter, or before the last restore into this file: rebuild (L3).
      // Everything since the last restore is kept, so nothing in between is ever missing.
      if (version > db_.version || version < db_.log_base) return std::nullopt;
      const std::size_t skip = static_cast<std::size_t>(version - db_.log_base);
      auto first = db_.changes.begin() + static_cast<std::ptrdiff_t>(skip);
      return std::vector<Change>(first,
                                 first + static_cast<std::ptrdiff_t>(std::min(limit, db_.changes.size() - skip)));
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
      // The index the cache builds assumes one dimension; a row of another length would
      // poison every later search, so it is refused before anything is written.
      if (auto d = db_.meta.find("dim"); d != db_.meta.end() && d->second != std::to_string(e.embedding.size()))
        throw engram::InvalidArgument("LogStore: embedding has " + std::to_string(e.embedding.size()) +
                                      " floats, the store holds dim " + d->second +
                                      ". Remediation: embed with the store's embedder.");
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
        return fresh.rows == db_.rows && fresh.changes == db_.changes && fresh.version == db_.version &&
               fresh.next_id == db_.next_id;
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
  // All or nothing: the snapshot is read and replayed in full before dest is touched, and the
  // result replaces dest with one rename(). A dest that exists but is not a LogStore file is
  // refused, never overwritten.
  static LogStore restore_from(const std::filesystem::path& src, Location dest) {
    const int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0)
      throw engram::CheckpointError("LogStore: cannot read snapshot " + src.string() + ": " +
                                    std::error_code(errno, std::generic_category()).message() +
                                    ". Remediation: pass a file written by snapshot_to().");
    std::string bytes;
    try {
      bytes = read_all(in);
    } catch (...) {
      ::close(in);
      throw;
    }
    ::close(in);
    if (!bytes.starts_with(kMagic))
      throw engram::StoreCorrupt("LogStore: " + src.string() +
                                 " is not a LogStore snapshot. Remediation: pass a "
                                 "file written by snapshot_to().");
    Db snap;
    replay(snap, bytes);  // throws StoreCorrupt on any damage; dest is untouched

    // Hold dest's lock from reading its lineage until the new file is in place, so that no
    // handle appends to the old file in between.
    const int old = ::open(dest.c_str(), O_RDWR | O_CLOEXEC);
    if (old < 0 && errno != ENOENT)
      throw engram::CheckpointError("LogStore: cannot open restore destination " + dest.string() + ": " +
                                    std::error_code(errno, std::generic_category()).message() +
                                    ". Remediation: check the path.");
    struct CloseOld {
      int fd;
      ~CloseOld() {
        if (fd >= 0) ::close(fd);  // also drops the lock
      }
    } close_old{old};
    if (old >= 0) {
      ::flock(old, LOCK_EX);
      const std::string current = read_all(old);
      if (!current.empty()) {
        if (!current.starts_with(kMagic))
          throw engram::CheckpointError("LogStore: " + dest.string() +
                                        " exists and is not a LogStore file; "
                                        "refusing to overwrite it. Remediation: restore into another path.");
        Db was;
        try {
          replay(was, current);
        } catch (const engram::StoreCorrupt&) {
          // A damaged destination is what restores are for; `was` holds its intact prefix,
          // the best lower bound we have for its counter and ids.
        }
        const std::uint64_t counter = std::max(was.version, snap.version) + 1;
        bytes += record('R', num(static_cast<std::int64_t>(counter)) + num(std::max(was.next_id, snap.next_id)));
      }
    }
    const std::filesystem::path tmp = dest.string() + ".restoring";
    const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const bool written =
        out >= 0 && ::write(out, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(out) == 0;
    if (out >= 0) ::close(out);
    if (!written || ::rename(tmp.c_str(), dest.c_str()) != 0) {
      const std::string why = std::error_code(errno, std::generic_category()).message();
      ::unlink(tmp.c_str());
      throw engram::CheckpointError("LogStore: cannot write " + dest.string() + ": " + why +
                                    ". Remediation: check the directory and free space.");
    }
    return LogStore(std::move(dest));
  }

 private:
  static constexpr std::string_view kMagic = "ENGLOG1\n";
  enum State { kUnopened, kOpen, kClosed };
  struct Db {
    std::map<EntryId, StoredEntry> rows;
    std::map<std::string, std::size_t> quotas;
    std::map<std::string, std::string> meta;
    std::vector<Change> changes;  // changes[i].version == log_base + i + 1
    std::uint64_t version = 0;    // the counter: the latest change's version, or N after a restore
    std::uint64_t log_base = 0;   // the counter set by the last restore into this file; older is gone
    EntryId next_id = 1;
    std::size_t offset = 0;  // bytes of the file already replayed
  };

  // Takes the lock, replays what other writers appended, runs fn, releases the lock.
  template <class Fn>
  std::invoke_result_t<Fn&> locked(int how, Fn fn) const {
    if (state_ != kOpen) throw engram::CacheClosed("LogStore: not open. Remediation: call open() first.");
    lock_current_file(how);
    struct Unlock {
      int fd;
      ~Unlock() { ::flock(fd, LOCK_UN); }
    } unlock{fd_};
    replay(db_, read_from(db_.offset));
    return fn();
  }
  // Locks the file that is at file_ now. restore_from renames a new file into place while
  // holding the old one's lock; a handle that then gets the old lock finds that the path
  // names another file, switches to it and replays it from the start.
  void lock_current_file(int how) const {
    for (;;) {
      ::flock(fd_, how);
      struct stat mine {
      }, named{};
      if (::fstat(fd_, &mine) != 0 || ::stat(file_.c_str(), &named) != 0 ||
          (mine.st_ino == named.st_ino && mine.st_dev == named.st_dev))
        return;  // same file (or the path vanished: keep what we have)
      ::flock(fd_, LOCK_UN);
      const int fd = ::open(file_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
      if (fd < 0) throw engram::StoreUnavailable("LogStore: cannot reopen " + file_.string() + ". Remediation: retry.");
      ::close(std::exchange(fd_, fd));
      db_ = Db{};
    }
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
  static std::string read_all(int fd) {
    std::string out;
    char buf[1 << 16];
    for (ssize_t n; (n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()))) != 0;) {
      if (n < 0) throw engram::CheckpointError("LogStore: read failed. Remediation: retry.");
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
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
        db.changes.push_back({++db.version, e.id, engram::ChangeKind::kUpsert});
        db.rows[e.id] = std::move(e);
      } else if (op == 'D') {
        const EntryId id = r.num();
        if (db.rows.erase(id)) db.changes.push_back({++db.version, id, engram::ChangeKind::kDelete});
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
      } else if (op == 'R') {  // a restore into this file: a new history starts (L2, L3)
        db.version = static_cast<std::uint64_t>(r.num());
        db.log_base = db.version;
        db.changes.clear();
        db.next_id = std::max(db.next_id, r.num());
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
  mutable int fd_ = -1;  // mutable: a read may follow the file to a restored one
  State state_ = kUnopened;
  mutable Db db_;  // a cache of the file, refreshed by every call
};

static_assert(engram::Store<LogStore>);

}  // namespace example
