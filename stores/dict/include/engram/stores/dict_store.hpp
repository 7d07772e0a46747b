#pragma once
// DictStore: the in-memory reference implementation of the engram::Store concept.
//
// Purpose. DictStore is the executable form of docs/store-contract.md: every rule of the
// contract is implemented here in the most direct way, and the compliance battery runs
// against it first. It is also a real store for tests, demos and single-process caches that
// do not need persistence: it holds everything in ordinary std::map containers.
//
// Sharing. A DictStore is a *handle* on a backing (DictStore::Location, a shared pointer).
// Handles made from the same Location see the same data, so "close and reopen" means making
// a new handle on the same Location. The backing lives as long as any handle or Location
// refers to it. Backings are per process: a fork()ed child gets a private copy.
//
// Persistence. snapshot_to(path) writes the whole backing to a file in the binary format
// described below; restore_from(path, location) loads such a file into a backing and
// returns an unopened handle on it.
//
// Thread safety. None. A DictStore (and every handle on one backing) must be used by one
// thread at a time; SemanticCache serializes its calls into the store. Visitors passed to
// iter_all / iter_since / iter_index_rows must not call back into the store.
//
// Errors. Every method except open(), close() and integrity_check() throws CacheClosed when
// called on a handle that is not open (before open() or after close()). open() throws
// DimensionMismatch / EmbedderMismatch / StoreCorrupt as documented on it.
//
// Snapshot file format, version 1 (all integers little-endian):
//   magic        8 bytes  "ENGDICT\x01"
//   u64          version counter
//   i64          next id to allocate
//   u64 n, n x   meta    (str key, str value)
//   u64 n, n x   quotas  (str ns, u64 max_entries)
//   u64 n, n x   rows    (i64 id, str ns, 16 bytes query hash, str query, str response,
//                         u64 dim, dim x u32 IEEE-754 bits, str metadata, i64 created_at ms,
//                         i64 last_accessed_at ms, u8 has_ttl, i64 ttl ms, i64 access_count)
//   u64          FNV-1a 64 of every preceding byte
// where str = u64 byte length followed by the bytes. The change log is not saved: a restored
// backing's log starts empty, so a reader that held an older version is told to rebuild
// (changes_since returns nullopt). Restoring over a backing that already held a store moves
// the counter and the id sequence past that backing's (see restore_from).

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "engram/detail/durable_file.hpp"
#include "engram/errors.hpp"
#include "engram/store.hpp"
#include "engram/types.hpp"

namespace engram {

namespace detail {

// Everything a DictStore handle reads and writes. Exposed (rather than hidden in the .hpp's
// private section) only because DictStore is header-only and tests inject corruption into
// it; application code should treat it as opaque.
struct DictBacking {
  std::map<EntryId, StoredEntry> rows;
  // ns -> (hash -> id): the exact-match key, per-namespace counts and the namespace list.
  // Empty inner maps are erased so that a namespace disappears when it is emptied.
  std::map<std::string, std::map<QueryHash, EntryId>, std::less<>> by_ns;
  // (last_accessed_at, id): LRU order with ties broken by the lower id.
  std::set<std::pair<Timestamp, EntryId>> lru;
  std::map<std::string, std::size_t, std::less<>> quotas;
  std::map<std::string, std::string, std::less<>> meta;
  EntryId next_id = 1;
  std::uint64_t version = 0;
  // The last `log_retention` changes; versions are contiguous, so the oldest retained
  // version is version - log.size() + 1.
  std::deque<Change> log;
  std::size_t log_retention = 65536;
};

// Little-endian writer/reader for the snapshot format, with a running FNV-1a checksum. The
// writer streams into a DurableFileWriter in chunks and the reader pulls from a FileReader,
// so neither holds the whole file in memory.
class DictSnapshotWriter {
 public:
  explicit DictSnapshotWriter(DurableFileWriter& file) : file_(file) { chunk_.reserve(kChunk); }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) byte(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) byte(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void str(std::string_view s) {
    u64(s.size());
    for (char c : s) byte(static_cast<std::uint8_t>(c));
  }
  void raw(std::span<const std::uint8_t> bytes) {
    for (auto b : bytes) byte(b);
  }
  void byte(std::uint8_t b) {
    chunk_.push_back(static_cast<char>(b));
    hash_ = (hash_ ^ b) * 0x100000001b3ULL;
    if (chunk_.size() == kChunk) flush();
  }
  std::uint64_t checksum() const { return hash_; }
  // Hands the buffered bytes to the file (call before commit()).
  void flush() {
    file_.write(chunk_);
    chunk_.clear();
  }

 private:
  static constexpr std::size_t kChunk = std::size_t{64} * 1024;
  DurableFileWriter& file_;
  std::string chunk_;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

class DictSnapshotReader {
 public:
  explicit DictSnapshotReader(FileReader& file) : file_(file) {}

  std::uint8_t byte() {
    std::uint8_t b = 0;
    if (!file_.read(&b, 1)) fail("truncated");
    hash_ = (hash_ ^ b) * 0x100000001b3ULL;
    return b;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(byte()) << (8 * i);
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(byte()) << (8 * i);
    return v;
  }
  // Lengths are checked against the bytes left in the file before allocating, so a garbage
  // length cannot trigger a huge allocation.
  std::string str() {
    std::uint64_t n = u64();
    if (n > remaining()) fail("truncated");
    std::string s(static_cast<std::size_t>(n), '\0');
    if (!file_.read(s.data(), s.size())) fail("truncated");
    for (char c : s) hash_ = (hash_ ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ULL;
    return s;
  }
  // A count of records each at least `min_record_bytes` long.
  std::size_t count(std::size_t min_record_bytes) {
    std::uint64_t n = u64();
    if (min_record_bytes != 0 && n > remaining() / min_record_bytes) fail("record count exceeds file size");
    return static_cast<std::size_t>(n);
  }
  std::uint64_t checksum() const { return hash_; }
  std::uint64_t remaining() const { return file_.remaining(); }

  [[noreturn]] static void fail(const std::string& what) {
    throw StoreCorrupt("DictStore snapshot is damaged or not a DictStore snapshot: " + what +
                       ". Remediation: restore from another snapshot, or start an empty store.");
  }

 private:
  FileReader& file_;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

inline constexpr std::array<std::uint8_t, 8> kDictSnapshotMagic = {'E', 'N', 'G', 'D', 'I', 'C', 'T', 1};

}  // namespace detail

class DictStore {
 public:
  // Where a DictStore's data lives: a shared in-memory backing. Copying a Location shares
  // the backing. A null Location given to the constructor or restore_from means "a new one".
  using Location = std::shared_ptr<detail::DictBacking>;

  struct Options {
    // How many changes changes_since() can reach back. Older readers get nullopt and
    // rebuild. Must be at least 1.
    std::size_t change_log_retention = 65536;
  };

  static constexpr int kSchemaVersion = 1;
  static constexpr const char* kBackendName = "dict";  // reported by SemanticCache::health()

  // A new, empty backing. Throws InvalidArgument if change_log_retention is 0.
  static Location make_location(Options options) {
    if (options.change_log_retention == 0)
      throw InvalidArgument("DictStore: change_log_retention must be at least 1. Remediation: pass a positive value.");
    auto backing = std::make_shared<detail::DictBacking>();
    backing->log_retention = options.change_log_retention;
    return backing;
  }
  static Location make_location() { return make_location(Options{}); }

  // An unopened handle on a new private backing.
  DictStore() : backing_(make_location()) {}
  explicit DictStore(Options options) : backing_(make_location(options)) {}
  // An unopened handle on `location` (a new backing if it is null).
  explicit DictStore(Location location) : backing_(location ? std::move(location) : make_location()) {}

  DictStore(const DictStore&) = delete;
  DictStore& operator=(const DictStore&) = delete;
  // A moved-from handle is closed.
  DictStore(DictStore&& other) noexcept
      : backing_(std::move(other.backing_)), state_(std::exchange(other.state_, State::kClosed)), dim_(other.dim_) {}
  DictStore& operator=(DictStore&& other) noexcept {
    backing_ = std::move(other.backing_);
    state_ = std::exchange(other.state_, State::kClosed);
    dim_ = other.dim_;
    return *this;
  }
  ~DictStore() = default;

  // The backing this handle works on; make another DictStore from it to "reopen".
  const Location& location() const noexcept { return backing_; }

  // ---- 1, 2: lifecycle -------------------------------------------------------------------

  // The first open of a backing records meta "fingerprint", "dim" and "schema_version".
  // Later opens compare: another dim throws DimensionMismatch (checked first), another
  // fingerprint EmbedderMismatch, an unreadable recorded dim StoreCorrupt. A failed open
  // leaves the handle unopened. Opening an open handle re-runs the checks; opening a closed
  // handle throws CacheClosed (a closed handle stays closed: make a new one).
  void open(std::string_view fingerprint, std::size_t dim) {
    if (state_ == State::kClosed) throw closed_error();
    auto& meta = backing_->meta;
    auto recorded_dim = meta.find(std::string_view("dim"));
    auto recorded_fp = meta.find(std::string_view("fingerprint"));
    if (recorded_dim != meta.end()) {
      std::size_t stored = 0;
      const std::string& text = recorded_dim->second;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), stored);
      if (ec != std::errc() || end != text.data() + text.size())
        throw StoreCorrupt("DictStore: recorded dimension '" + text +
                           "' is not a number. Remediation: the backing is damaged; start an empty store.");
      if (stored != dim)
        throw DimensionMismatch("DictStore: store holds " + std::to_string(stored) +
                                "-dimensional embeddings, the embedder produces " + std::to_string(dim) +
                                ". Remediation: use the embedder the store was created with, or a new store.");
    }
    if (recorded_fp != meta.end() && recorded_fp->second != fingerprint)
      throw EmbedderMismatch("DictStore: store was created by embedder '" + recorded_fp->second + "', not '" +
                             std::string(fingerprint) + "'. Remediation: use that embedder, or a new store.");
    if (recorded_dim == meta.end()) meta.insert_or_assign("dim", std::to_string(dim));
    if (recorded_fp == meta.end()) meta.insert_or_assign("fingerprint", std::string(fingerprint));
    if (!meta.contains(std::string_view("schema_version")))
      meta.insert_or_assign("schema_version", std::to_string(kSchemaVersion));
    dim_ = dim;
    state_ = State::kOpen;
  }

  // Idempotent. Afterwards every method except close() and integrity_check() throws
  // CacheClosed. The data stays in the backing.
  void close() noexcept { state_ = State::kClosed; }

  // ---- 3-6: lookup -----------------------------------------------------------------------

  // The entry stored under (ns, hash), or nullopt.
  std::optional<StoredEntry> get_by_hash(std::string_view ns, const QueryHash& hash) const {
    const auto& b = data();
    auto n = b.by_ns.find(ns);
    if (n == b.by_ns.end()) return std::nullopt;
    auto h = n->second.find(hash);
    if (h == n->second.end()) return std::nullopt;
    return b.rows.at(h->second);
  }

  // The entry with this id, or nullopt (also for ids <= 0).
  std::optional<StoredEntry> get_by_id(EntryId id) const {
    const auto& b = data();
    auto it = b.rows.find(id);
    if (it == b.rows.end()) return std::nullopt;
    return it->second;
  }

  // Entries in `ns`, or in every namespace when ns is empty (nullopt).
  std::size_t count(std::optional<std::string_view> ns = {}) const {
    const auto& b = data();
    if (!ns) return b.rows.size();
    auto n = b.by_ns.find(*ns);
    return n == b.by_ns.end() ? 0 : n->second.size();
  }

  // Namespaces holding at least one entry (including "" when it does), in byte order.
  std::vector<std::string> list_namespaces() const {
    const auto& b = data();
    std::vector<std::string> out;
    out.reserve(b.by_ns.size());
    for (const auto& [name, entries] : b.by_ns) out.push_back(name);
    return out;
  }

  // ---- 7-9: iteration --------------------------------------------------------------------

  // Up to n ids, least recently accessed first; ties by the lower id.
  std::vector<EntryId> iter_lru_ids(std::size_t n, std::optional<std::string_view> ns = {}) const {
    const auto& b = data();
    std::vector<EntryId> out;
    for (auto it = b.lru.begin(); it != b.lru.end() && out.size() < n; ++it) {
      if (ns && b.rows.at(it->second).ns != *ns) continue;
      out.push_back(it->second);
    }
    return out;
  }

  // Every entry in ascending id order until `visit` returns false.
  void iter_all(const EntryVisitor& visit) const { iter_since(0, visit); }

  // Entries with id > last_id in ascending id order until `visit` returns false.
  void iter_since(EntryId last_id, const EntryVisitor& visit) const {
    const auto& b = data();
    for (auto it = b.rows.upper_bound(last_id); it != b.rows.end(); ++it)
      if (!visit(it->second)) return;
  }

  // ---- 10-14, 24: mutation ---------------------------------------------------------------

  // Stores `entry` and returns its id. entry.id is ignored. If (ns, hash) already exists the
  // row keeps its id and every other field is replaced; otherwise a new id, greater than any
  // id this backing ever allocated, is assigned. Either way one kUpsert change is recorded.
  // Throws InvalidArgument (nothing written) when entry.embedding.size() is not the dim
  // this handle was opened with.
  EntryId insert(const StoredEntry& entry) {
    auto& b = data();
    check_dim(entry);
    return insert_row(b, entry);
  }

  // last_accessed_at = now, access_count += 1. A missing id is a no-op. No version bump.
  void update_access(EntryId id, Timestamp now) {
    auto& b = data();
    auto it = b.rows.find(id);
    if (it == b.rows.end()) return;
    set_last_access(b, it->second, now);
    ++it->second.access_count;
  }

  // True if the row existed and was removed (one kDelete change).
  bool delete_by_id(EntryId id) {
    auto& b = data();
    return erase_row(b, id);
  }

  // Removes entries with a ttl and created_at + ttl <= now (in `ns` only, when given).
  // Returns how many; one kDelete change each, in ascending id order.
  std::size_t delete_expired(Timestamp now, std::optional<std::string_view> ns = {}) {
    auto& b = data();
    std::vector<EntryId> victims;
    for (const auto& [id, row] : b.rows)
      if ((!ns || row.ns == *ns) && row.expired_at(now)) victims.push_back(id);
    for (EntryId id : victims) erase_row(b, id);
    return victims.size();
  }

  // Removes every entry of `ns` (quotas and meta are kept). Returns how many.
  std::size_t clear_namespace(std::string_view ns) {
    auto& b = data();
    auto n = b.by_ns.find(ns);
    if (n == b.by_ns.end()) return 0;
    std::vector<EntryId> victims;
    for (const auto& [hash, id] : n->second) victims.push_back(id);
    std::sort(victims.begin(), victims.end());
    for (EntryId id : victims) erase_row(b, id);
    return victims.size();
  }

  // Removes the listed ids; missing and repeated ids are skipped. Returns rows removed.
  std::size_t delete_many(std::span<const EntryId> ids) {
    auto& b = data();
    std::size_t removed = 0;
    for (EntryId id : ids) removed += erase_row(b, id) ? 1 : 0;
    return removed;
  }

  // ---- 15, 16: quotas --------------------------------------------------------------------

  // Sets (or replaces) the entry limit of `ns`. Kept across clear_namespace and snapshots.
  void set_namespace_quota(std::string_view ns, std::size_t max_entries) {
    data().quotas.insert_or_assign(std::string(ns), max_entries);
  }

  // The quota of `ns`, or nullopt if none was set.
  std::optional<std::size_t> get_namespace_quota(std::string_view ns) const {
    const auto& b = data();
    auto it = b.quotas.find(ns);
    if (it == b.quotas.end()) return std::nullopt;
    return it->second;
  }

  // ---- 17-19: coordination ---------------------------------------------------------------

  // The version of the latest change; 0 when nothing was ever changed.
  std::uint64_t read_version_counter() const { return data().version; }

  // The value stored under `key`, or nullopt.
  std::optional<std::string> read_meta(std::string_view key) const {
    const auto& b = data();
    auto it = b.meta.find(key);
    if (it == b.meta.end()) return std::nullopt;
    return it->second;
  }

  // Stores (or replaces) `value` under `key`. No version bump.
  void write_meta(std::string_view key, std::string_view value) {
    data().meta.insert_or_assign(std::string(key), std::string(value));
  }

  // ---- 20-22: integrity and backup -------------------------------------------------------

  // Checks every internal invariant (indexes agree with the rows, ids positive and below
  // next_id, log versions contiguous, recorded dim readable). False on any violation and on
  // a handle that is not open. Never throws.
  bool integrity_check() const noexcept {
    if (state_ != State::kOpen || !backing_) return false;
    try {
      return check_invariants(*backing_);
    } catch (...) {
      return false;
    }
  }

  // Writes the backing to `path` (replacing it) in the format described at the top of this
  // file, through detail::DurableFileWriter: a new private (0600) temporary file beside
  // `path` (never a symlink planted there), fsynced, renamed over `path`, directory fsynced.
  // A failed snapshot leaves no partial file at `path` and no temporary file. Throws
  // CheckpointError if the file cannot be written.
  void snapshot_to(const std::filesystem::path& path) const {
    const auto& b = data();
    detail::DurableFileWriter file(path, "DictStore");
    detail::DictSnapshotWriter w(file);
    w.raw(detail::kDictSnapshotMagic);
    w.u64(b.version);
    w.i64(b.next_id);
    w.u64(b.meta.size());
    for (const auto& [k, v] : b.meta) {
      w.str(k);
      w.str(v);
    }
    w.u64(b.quotas.size());
    for (const auto& [ns, q] : b.quotas) {
      w.str(ns);
      w.u64(q);
    }
    w.u64(b.rows.size());
    for (const auto& [id, row] : b.rows) {
      w.i64(id);
      w.str(row.ns);
      w.raw(row.query_hash.bytes);
      w.str(row.query);
      w.str(row.response);
      w.u64(row.embedding.size());
      for (float f : row.embedding) w.u32(std::bit_cast<std::uint32_t>(f));
      w.str(row.metadata);
      w.i64(row.created_at.time_since_epoch().count());
      w.i64(row.last_accessed_at.time_since_epoch().count());
      w.byte(row.ttl ? 1 : 0);
      w.i64(row.ttl ? row.ttl->count() : 0);
      w.i64(row.access_count);
    }
    const std::uint64_t sum = w.checksum();
    w.u64(sum);
    w.flush();
    file.commit();
  }

  // Loads a snapshot written by snapshot_to into `dest` (a new backing if null) and returns
  // an unopened handle on it; handles already on `dest` see the restored data.
  //
  // The file is read once, streaming: the 8-byte magic is checked first (anything else is
  // refused before the rest is read), then the body is parsed into a new backing while the
  // checksum is computed; `dest` is replaced only after the whole file verified. Throws
  // CheckpointError if the file cannot be read and StoreCorrupt if it is damaged, truncated
  // or not a DictStore snapshot; `dest` is left untouched in both cases.
  //
  // Lineage (LINEAGE.md L2, L3). The change log of the result is empty. When `dest` already
  // held a store (any meta, row, version or allocated id), the restored counter is
  // N = max(dest's counter, snapshot's counter) + 1 and the next id max(dest's, snapshot's),
  // so readers attached to `dest` see changes_since(v) == nullopt for every v < N and
  // rebuild, and no id is ever handed out twice at this location. Into a new or empty
  // backing, the snapshot's counter and next id are kept.
  static DictStore restore_from(const std::filesystem::path& src, Location dest) {
    detail::FileReader file(src, "DictStore");
    detail::DictBacking loaded = parse_snapshot(file);
    if (!dest) dest = make_location();
    const detail::DictBacking& old = *dest;
    const bool held = old.version > 0 || old.next_id > 1 || !old.rows.empty() || !old.meta.empty();
    if (held) {
      loaded.version = std::max(old.version, loaded.version) + 1;
      loaded.next_id = std::max(old.next_id, loaded.next_id);
    }
    loaded.log_retention = old.log_retention;
    *dest = std::move(loaded);
    return DictStore(std::move(dest));
  }

  // ---- 23: change feed -------------------------------------------------------------------

  // Up to `limit` changes with version > `version`, ascending. nullopt when `version` is
  // ahead of the counter or older than the retained log reaches (the reader must rebuild).
  std::optional<std::vector<Change>> changes_since(std::uint64_t version, std::size_t limit) const {
    const auto& b = data();
    if (version > b.version) return std::nullopt;
    const std::uint64_t oldest_retained = b.version - b.log.size() + 1;
    if (version + 1 < oldest_retained) return std::nullopt;
    std::vector<Change> out;
    auto first = b.log.begin() + static_cast<std::ptrdiff_t>(version + 1 - oldest_retained);
    for (auto it = first; it != b.log.end() && out.size() < limit; ++it) out.push_back(*it);
    return out;
  }

  // ---- refinements -----------------------------------------------------------------------

  // insert() for each entry in order; returns the ids in input order. A (ns, hash) repeated
  // inside the batch resolves to one row holding the last occurrence's fields. Throws
  // InvalidArgument, writing nothing, when any embedding does not have the opened dim.
  std::vector<EntryId> insert_many(std::span<const StoredEntry> entries) {
    auto& b = data();
    for (const auto& e : entries) check_dim(e);
    std::vector<EntryId> ids;
    ids.reserve(entries.size());
    for (const auto& e : entries) ids.push_back(insert_row(b, e));
    return ids;
  }

  // For each touch of an existing id: last_accessed_at = max(stored, at), access_count +=
  // hits. Unknown ids are skipped. No version bump.
  void touch_many(std::span<const Touch> touches) {
    auto& b = data();
    for (const auto& t : touches) {
      auto it = b.rows.find(t.id);
      if (it == b.rows.end()) continue;
      if (t.at > it->second.last_accessed_at) set_last_access(b, it->second, t.at);
      it->second.access_count += t.hits;
    }
  }

  // The index columns of every entry in ascending id order until `visit` returns false.
  void iter_index_rows(const IndexRowVisitor& visit) const {
    const auto& b = data();
    for (const auto& [id, row] : b.rows) {
      IndexRow r{row.id, row.ns, row.query_hash, row.created_at, row.ttl, row.embedding};
      if (!visit(r)) return;
    }
  }

 private:
  enum class State { kUnopened, kOpen, kClosed };

  static CacheClosed closed_error() {
    return CacheClosed(
        "DictStore: the store is not open. Remediation: call open() first; after close() make a "
        "new handle on the same Location.");
  }

  detail::DictBacking& data() {
    if (state_ != State::kOpen) throw closed_error();
    return *backing_;
  }
  const detail::DictBacking& data() const {
    if (state_ != State::kOpen) throw closed_error();
    return *backing_;
  }

  // A row whose embedding has another length than the store's dim would poison every
  // reader's index (and integrity checks), so it is refused before anything is written.
  void check_dim(const StoredEntry& e) const {
    if (e.embedding.size() != dim_)
      throw InvalidArgument("DictStore: the embedding has " + std::to_string(e.embedding.size()) +
                            " dimensions, the store was opened with " + std::to_string(dim_) +
                            ". Remediation: embed with the embedder the store was opened with.");
  }

  static void record(detail::DictBacking& b, EntryId id, ChangeKind kind) {
    ++b.version;
    b.log.push_back(Change{b.version, id, kind});
    while (b.log.size() > b.log_retention) b.log.pop_front();
  }

  static void set_last_access(detail::DictBacking& b, StoredEntry& row, Timestamp at) {
    b.lru.erase({row.last_accessed_at, row.id});
    row.last_accessed_at = at;
    b.lru.insert({row.last_accessed_at, row.id});
  }

  static EntryId insert_row(detail::DictBacking& b, const StoredEntry& entry) {
    auto& in_ns = b.by_ns[entry.ns];
    auto [slot, fresh] = in_ns.try_emplace(entry.query_hash, 0);
    if (fresh) {
      slot->second = b.next_id++;
    } else {
      const StoredEntry& old = b.rows.at(slot->second);
      b.lru.erase({old.last_accessed_at, old.id});
    }
    StoredEntry row = entry;
    row.id = slot->second;
    b.lru.insert({row.last_accessed_at, row.id});
    b.rows.insert_or_assign(row.id, std::move(row));
    record(b, slot->second, ChangeKind::kUpsert);
    return slot->second;
  }

  static bool erase_row(detail::DictBacking& b, EntryId id) {
    auto it = b.rows.find(id);
    if (it == b.rows.end()) return false;
    const StoredEntry& row = it->second;
    b.lru.erase({row.last_accessed_at, row.id});
    auto n = b.by_ns.find(row.ns);
    n->second.erase(row.query_hash);
    if (n->second.empty()) b.by_ns.erase(n);
    b.rows.erase(it);
    record(b, id, ChangeKind::kDelete);
    return true;
  }

  static bool check_invariants(const detail::DictBacking& b) {
    if (b.next_id <= 0) return false;
    if (b.lru.size() != b.rows.size()) return false;
    std::size_t indexed = 0;
    for (const auto& [ns, hashes] : b.by_ns) {
      if (hashes.empty()) return false;
      indexed += hashes.size();
      for (const auto& [hash, id] : hashes) {
        auto it = b.rows.find(id);
        if (it == b.rows.end() || it->second.ns != ns || it->second.query_hash != hash) return false;
      }
    }
    if (indexed != b.rows.size()) return false;
    for (const auto& [id, row] : b.rows) {
      if (id <= 0 || id >= b.next_id || row.id != id) return false;
      if (!b.lru.contains({row.last_accessed_at, id})) return false;
    }
    if (b.log.size() > b.version) return false;
    std::uint64_t expect = b.version - b.log.size() + 1;
    for (const auto& c : b.log)
      if (c.version != expect++) return false;
    if (auto dim = b.meta.find(std::string_view("dim")); dim != b.meta.end()) {
      std::size_t v = 0;
      const std::string& t = dim->second;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || end != t.data() + t.size()) return false;
    }
    return true;
  }

  static detail::DictBacking parse_snapshot(detail::FileReader& file) {
    using detail::DictSnapshotReader;
    DictSnapshotReader r(file);
    // The magic comes first and is checked byte by byte as it is read: a file that is not a
    // DictStore snapshot is refused after at most 8 bytes, whatever its size.
    for (std::uint8_t m : detail::kDictSnapshotMagic)
      if (r.byte() != m) DictSnapshotReader::fail("bad magic");
    detail::DictBacking b;
    b.version = r.u64();
    b.next_id = r.i64();
    for (std::size_t n = r.count(16), i = 0; i < n; ++i) {
      std::string k = r.str();
      b.meta.insert_or_assign(std::move(k), r.str());
    }
    for (std::size_t n = r.count(16), i = 0; i < n; ++i) {
      std::string ns = r.str();
      b.quotas.insert_or_assign(std::move(ns), static_cast<std::size_t>(r.u64()));
    }
    for (std::size_t n = r.count(100), i = 0; i < n; ++i) {
      StoredEntry e;
      e.id = r.i64();
      e.ns = r.str();
      for (auto& byte : e.query_hash.bytes) byte = r.byte();
      e.query = r.str();
      e.response = r.str();
      std::size_t dim = r.count(4);
      e.embedding.resize(dim);
      for (auto& f : e.embedding) f = std::bit_cast<float>(r.u32());
      e.metadata = r.str();
      e.created_at = Timestamp(Millis(r.i64()));
      e.last_accessed_at = Timestamp(Millis(r.i64()));
      const std::uint8_t has_ttl = r.byte();
      const std::int64_t ttl = r.i64();
      if (has_ttl > 1) DictSnapshotReader::fail("bad ttl flag");
      if (has_ttl) e.ttl = Millis(ttl);
      e.access_count = r.i64();
      if (e.id <= 0 || b.rows.contains(e.id)) DictSnapshotReader::fail("bad or repeated id");
      if (!b.by_ns[e.ns].try_emplace(e.query_hash, e.id).second) DictSnapshotReader::fail("repeated (namespace, hash)");
      b.lru.insert({e.last_accessed_at, e.id});
      b.rows.emplace(e.id, std::move(e));
    }
    const std::uint64_t expected = r.checksum();
    if (r.u64() != expected) DictSnapshotReader::fail("checksum mismatch");
    if (r.remaining() != 0) DictSnapshotReader::fail("trailing bytes");
    if (!check_invariants(b)) DictSnapshotReader::fail("inconsistent contents");
    return b;
  }

  Location backing_;
  State state_ = State::kUnopened;
  std::size_t dim_ = 0;  // recorded by open()
};

static_assert(Store<DictStore>);
static_assert(BulkInsertStore<DictStore>);
static_assert(TouchManyStore<DictStore>);
static_assert(IndexRowStore<DictStore>);

}  // namespace engram
