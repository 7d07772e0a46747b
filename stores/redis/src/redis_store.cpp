#include "engram/stores/redis_store.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "connection.hpp"
#include "engram/errors.hpp"
#include "snapshot_format.hpp"

namespace engram {

using detail::Args;
using detail::Reply;
using detail::ScriptId;

namespace {

// Bumped when the key layout changes incompatibly; open() refuses a newer layout.
constexpr int kSchemaVersion = 1;
// Rows per page for iteration and snapshots: large enough to amortize the round trip, small
// enough that one page of 4 MiB responses does not hold Redis for long.
constexpr std::size_t kPageRows = 256;
constexpr std::size_t kRestoreBatch = 256;

std::string member_of(EntryId id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%019lld", static_cast<long long>(id));
  return buf;
}

std::string hex_of(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0f]);
  }
  return out;
}

std::string_view hash_bytes_view(const QueryHash& h) {
  return {reinterpret_cast<const char*>(h.bytes.data()), h.bytes.size()};
}

[[noreturn]] void corrupt(const std::string& what) {
  throw StoreCorrupt("RedisStore: " + what +
                     ". Remediation: run integrity_check(); restore the prefix from a snapshot "
                     "or clear it.");
}

std::string_view text_of(const redisReply* r) {
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
    corrupt("unexpected reply type " + std::to_string(r->type) + " where text was expected");
  }
  return {r->str, r->len};
}

bool is_nil(const redisReply* r) { return r->type == REDIS_REPLY_NIL; }

template <class T>
T parse_number(std::string_view s, const char* what) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    corrupt(std::string("cannot parse ") + what + " \"" + std::string(s.substr(0, 40)) + "\"");
  }
  return v;
}

EntryId id_of_member(const redisReply* r) { return parse_number<EntryId>(text_of(r), "an id"); }

std::int64_t integer_of(const redisReply* r) {
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  return parse_number<std::int64_t>(text_of(r), "an integer");
}

const redisReply* element(const redisReply* r, std::size_t i) {
  if (r->type != REDIS_REPLY_ARRAY || i >= r->elements) corrupt("a script returned a short reply");
  return r->element[i];
}

// Decodes the 10 fields ns h q r v m c a t n starting at element `at` of `arr`.
StoredEntry decode_entry(EntryId id, const redisReply* arr, std::size_t at) {
  for (std::size_t i = 0; i < 10; ++i) {
    if (i != 8 && is_nil(element(arr, at + i))) {
      corrupt("row " + std::to_string(id) + " is incomplete");
    }
  }
  StoredEntry e;
  e.id = id;
  e.ns = std::string(text_of(element(arr, at)));
  auto h = text_of(element(arr, at + 1));
  if (h.size() != 16) corrupt("row " + std::to_string(id) + " has a query hash of the wrong size");
  std::copy(h.begin(), h.end(), e.query_hash.bytes.begin());
  e.query = std::string(text_of(element(arr, at + 2)));
  e.response = std::string(text_of(element(arr, at + 3)));
  if (!detail::bytes_to_embedding(text_of(element(arr, at + 4)), e.embedding)) {
    corrupt("row " + std::to_string(id) + " has an embedding that is not float32");
  }
  e.metadata = std::string(text_of(element(arr, at + 5)));
  e.created_at = Timestamp(Millis(parse_number<std::int64_t>(text_of(element(arr, at + 6)), "created_at")));
  e.last_accessed_at = Timestamp(Millis(parse_number<std::int64_t>(text_of(element(arr, at + 7)), "last_accessed_at")));
  if (!is_nil(element(arr, at + 8))) {
    e.ttl = Millis(parse_number<std::int64_t>(text_of(element(arr, at + 8)), "ttl"));
  }
  e.access_count = parse_number<std::int64_t>(text_of(element(arr, at + 9)), "access_count");
  return e;
}

// Decodes ns h c t v starting at element `at`.
IndexRow decode_index_row(EntryId id, const redisReply* arr, std::size_t at) {
  IndexRow row;
  row.id = id;
  for (std::size_t i = 0; i < 5; ++i) {
    if (i != 3 && is_nil(element(arr, at + i))) corrupt("row " + std::to_string(id) + " is incomplete");
  }
  row.ns = std::string(text_of(element(arr, at)));
  auto h = text_of(element(arr, at + 1));
  if (h.size() != 16) corrupt("row " + std::to_string(id) + " has a query hash of the wrong size");
  std::copy(h.begin(), h.end(), row.query_hash.bytes.begin());
  row.created_at = Timestamp(Millis(parse_number<std::int64_t>(text_of(element(arr, at + 2)), "created_at")));
  if (!is_nil(element(arr, at + 3))) {
    row.ttl = Millis(parse_number<std::int64_t>(text_of(element(arr, at + 3)), "ttl"));
  }
  if (!detail::bytes_to_embedding(text_of(element(arr, at + 4)), row.embedding)) {
    corrupt("row " + std::to_string(id) + " has an embedding that is not float32");
  }
  return row;
}

// created_at + ttl in ms, saturating instead of overflowing.
std::int64_t expiry_ms(const StoredEntry& e) {
  std::int64_t c = e.created_at.time_since_epoch().count();
  std::int64_t t = e.ttl->count();
  std::int64_t out;
  if (__builtin_add_overflow(c, t, &out)) {
    out = t > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return out;
}

std::string ms_text(Timestamp t) { return std::to_string(t.time_since_epoch().count()); }

std::string clamp_count(std::size_t n) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return std::to_string(std::min(n, kMax));
}

// Appends the 12 upsert values of one row (see scripts.hpp, kUpsert).
void add_row_args(Args& args, const StoredEntry& e) {
  args.add(e.ns)
      .own(hex_of(e.ns))
      .add(hash_bytes_view(e.query_hash))
      .add(e.query)
      .add(e.response)
      .own(detail::embedding_to_bytes(e.embedding))
      .add(e.metadata)
      .own(ms_text(e.created_at))
      .own(ms_text(e.last_accessed_at))
      .own(e.ttl ? std::to_string(e.ttl->count()) : std::string())
      .own(std::to_string(e.access_count))
      .own(e.ttl ? std::to_string(expiry_ms(e)) : std::string());
}

std::string glob_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

// ---- RedisOptions ----------------------------------------------------------------------

std::string RedisOptions::describe() const {
  std::string where = unix_socket.empty() ? "redis://" + host + ":" + std::to_string(port) : "unix:" + unix_socket;
  return where + "/" + std::to_string(database) + " (prefix \"" + key_prefix + "\")";
}

// ---- Impl --------------------------------------------------------------------------------

struct RedisStore::Impl {
  enum class State { kNew, kOpen, kClosed };

  explicit Impl(RedisOptions options) : conn(std::move(options)) {}

  detail::RedisConnection conn;
  State state = State::kNew;
  std::size_t dim = 0;
  // The server instance whose change feed this handle last read (see changes_since).
  std::string feed_run_id;

  const std::string& base() const { return conn.base(); }
  std::string key(std::string_view suffix) const { return base() + std::string(suffix); }
  std::string ns_key(std::string_view ns, std::string_view what) const {
    return base() + "n:" + hex_of(ns) + ":" + std::string(what);
  }
  std::string retention() const { return std::to_string(conn.options().change_feed_retention); }

  // Reads rows with id > after, ascending, in pages; `kind` is "all" or "index". Calls
  // on_page(reply) with each page's reply (element 0 is the counter); stops when on_page
  // returns false or the rows run out. Returns the counter seen by every page when all of
  // them saw the same one, else nullopt.
  template <class OnPage>
  std::optional<std::uint64_t> pages(EntryId after, const char* kind, std::int64_t page_rows, OnPage&& on_page) {
    std::optional<std::uint64_t> version;
    bool consistent = true;
    for (;;) {
      Args args;
      args.add(base()).own(std::to_string(after)).own(std::to_string(page_rows)).add(kind);
      Reply r = conn.eval(ScriptId::kPage, args);
      auto v = static_cast<std::uint64_t>(integer_of(element(r.get(), 0)));
      if (version && *version != v) consistent = false;
      version = v;
      std::size_t rows = r->elements - 1;
      if (rows == 0) break;
      after = id_of_member(element(element(r.get(), rows), 0));
      if (!on_page(r.get())) break;
      if (page_rows < 0 || rows < static_cast<std::size_t>(page_rows)) break;
    }
    if (!consistent) return std::nullopt;
    return version;
  }

  void visit_entries(EntryId after, const EntryVisitor& visit) {
    pages(after, "all", static_cast<std::int64_t>(kPageRows), [&](const redisReply* page) {
      for (std::size_t i = 1; i < page->elements; ++i) {
        const redisReply* row = page->element[i];
        if (is_nil(element(row, 1))) continue;  // deleted between reading ids and rows
        if (!visit(decode_entry(id_of_member(element(row, 0)), row, 1))) return false;
      }
      return true;
    });
  }
};

// ---- RedisStore --------------------------------------------------------------------------

RedisStore::RedisStore(RedisOptions options) {
  auto bad = [&](const std::string& why) {
    throw InvalidArgument("RedisStore: invalid RedisOptions: " + why +
                          ". Remediation: fix the option before constructing the store.");
  };
  if (options.key_prefix.empty()) bad("key_prefix is empty");
  if (options.key_prefix.find_first_of("{}") != std::string::npos) {
    bad("key_prefix \"" + options.key_prefix + "\" contains '{' or '}' (it becomes a hash tag)");
  }
  if (options.unix_socket.empty() && (options.port < 1 || options.port > 65535)) {
    bad("port " + std::to_string(options.port) + " is outside 1..65535");
  }
  if (options.unix_socket.empty() && options.host.empty()) bad("host is empty");
  if (options.connect_timeout.count() <= 0) bad("connect_timeout must be positive");
  if (options.command_timeout.count() <= 0) bad("command_timeout must be positive");
  if (options.change_feed_retention == 0) bad("change_feed_retention must be at least 1");
  if (options.database < 0) bad("database must be >= 0");
  impl_ = std::make_unique<Impl>(std::move(options));
}

RedisStore::~RedisStore() = default;
RedisStore::RedisStore(RedisStore&&) noexcept = default;
RedisStore& RedisStore::operator=(RedisStore&&) noexcept = default;

const RedisOptions& RedisStore::options() const noexcept {
  static const RedisOptions kMovedFrom{};
  return impl_ ? impl_->conn.options() : kMovedFrom;
}

RedisStore::Impl& RedisStore::impl() const {
  if (!impl_ || impl_->state == Impl::State::kClosed) {
    throw CacheClosed(
        "RedisStore: the store is closed. Remediation: construct a new RedisStore "
        "and open() it.");
  }
  if (impl_->state != Impl::State::kOpen) {
    throw CacheClosed(
        "RedisStore: the store is not open. Remediation: call open(fingerprint, "
        "dim) first.");
  }
  return *impl_;
}

void RedisStore::open(std::string_view fingerprint, std::size_t dim) {
  if (!impl_ || impl_->state == Impl::State::kClosed) {
    throw CacheClosed(
        "RedisStore: open() after close(). Remediation: construct a new "
        "RedisStore for the same RedisOptions.");
  }
  auto& d = *impl_;
  Args args;
  args.add(d.base()).add(fingerprint).own(std::to_string(dim)).own(std::to_string(kSchemaVersion));
  Reply r = d.conn.eval(ScriptId::kOpen, args);
  if (text_of(element(r.get(), 0)) == "existing") {
    const redisReply* fp = element(r.get(), 1);
    const redisReply* stored_dim = element(r.get(), 2);
    const redisReply* schema = element(r.get(), 3);
    if (is_nil(fp) || is_nil(stored_dim))
      corrupt("meta of " + d.conn.options().describe() + " lacks fingerprint or dim");
    if (!is_nil(schema) && parse_number<int>(text_of(schema), "schema_version") > kSchemaVersion) {
      throw SchemaError("RedisStore: " + d.conn.options().describe() + " has schema version " +
                        std::string(text_of(schema)) + ", newer than this build's " + std::to_string(kSchemaVersion) +
                        ". Remediation: upgrade engram, or use another key prefix.");
    }
    auto recorded = parse_number<std::size_t>(text_of(stored_dim), "dim");
    if (recorded != dim) {
      throw DimensionMismatch("RedisStore: " + d.conn.options().describe() + " was created with embedding dimension " +
                              std::to_string(recorded) + ", not " + std::to_string(dim) +
                              ". Remediation: use the embedder it was created with, or another "
                              "key prefix.");
    }
    if (text_of(fp) != fingerprint) {
      throw EmbedderMismatch("RedisStore: " + d.conn.options().describe() + " was created by embedder \"" +
                             std::string(text_of(fp)) + "\", not \"" + std::string(fingerprint) +
                             "\". Remediation: use that embedder, or another key prefix.");
    }
  }
  d.dim = dim;
  d.state = Impl::State::kOpen;
}

std::optional<RedisStore::RecordedIdentity> RedisStore::recorded_identity(const RedisOptions& options) {
  const RedisStore validated(options);  // the constructor's option checks
  auto& d = *validated.impl_;
  Args args;
  args.add("HMGET").own(d.key("meta")).add("fingerprint").add("dim");
  Reply r = d.conn.command(args);
  const redisReply* fp = element(r.get(), 0);
  const redisReply* dim = element(r.get(), 1);
  if (is_nil(fp) || is_nil(dim)) return std::nullopt;
  return RecordedIdentity{std::string(text_of(fp)), parse_number<std::size_t>(text_of(dim), "dim")};
}

void RedisStore::close() noexcept {
  if (!impl_) return;
  impl_->conn.disconnect();
  impl_->state = Impl::State::kClosed;
}

std::optional<StoredEntry> RedisStore::get_by_hash(std::string_view ns, const QueryHash& hash) const {
  auto& d = impl();
  Args args;
  args.add(d.base()).own(hex_of(ns)).add(hash_bytes_view(hash));
  Reply r = d.conn.eval(ScriptId::kGetByHash, args);
  if (is_nil(r.get())) return std::nullopt;
  EntryId id = id_of_member(element(r.get(), 0));
  if (is_nil(element(r.get(), 1))) corrupt("the hash index points at missing row " + std::to_string(id));
  return decode_entry(id, r.get(), 1);
}

std::optional<StoredEntry> RedisStore::get_by_id(EntryId id) const {
  auto& d = impl();
  if (id <= 0) return std::nullopt;
  Args args;
  args.add("HMGET").own(d.key("e:" + member_of(id)));
  for (const char* f : {"ns", "h", "q", "r", "v", "m", "c", "a", "t", "n"}) args.add(f);
  Reply r = d.conn.command(args);
  if (is_nil(element(r.get(), 0))) return std::nullopt;
  return decode_entry(id, r.get(), 0);
}

std::size_t RedisStore::count(std::optional<std::string_view> ns) const {
  auto& d = impl();
  Args args;
  args.add("ZCARD").own(ns ? d.ns_key(*ns, "ids") : d.key("ids"));
  return static_cast<std::size_t>(integer_of(d.conn.command(args).get()));
}

std::vector<std::string> RedisStore::list_namespaces() const {
  auto& d = impl();
  Args args;
  args.add("HKEYS").own(d.key("nsc"));
  Reply r = d.conn.command(args);
  std::vector<std::string> out;
  out.reserve(r->elements);
  for (std::size_t i = 0; i < r->elements; ++i) out.emplace_back(text_of(r->element[i]));
  std::sort(out.begin(), out.end());  // char_traits<char> compares as unsigned: bytewise
  return out;
}

std::vector<EntryId> RedisStore::iter_lru_ids(std::size_t n, std::optional<std::string_view> ns) const {
  auto& d = impl();
  if (n == 0) return {};
  // Score = last_accessed_at; equal scores order by member, and members are zero-padded
  // ids, so ties come out by lower id.
  Args args;
  args.add("ZRANGE").own(ns ? d.ns_key(*ns, "lru") : d.key("lru")).add("0");
  args.own(n > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())
               ? std::string("-1")
               : std::to_string(static_cast<std::int64_t>(n) - 1));
  Reply r = d.conn.command(args);
  std::vector<EntryId> out;
  out.reserve(r->elements);
  for (std::size_t i = 0; i < r->elements; ++i) out.push_back(id_of_member(r->element[i]));
  return out;
}

void RedisStore::iter_all(const EntryVisitor& visit) const { impl().visit_entries(0, visit); }

void RedisStore::iter_since(EntryId last_id, const EntryVisitor& visit) const {
  impl().visit_entries(std::max<EntryId>(last_id, 0), visit);
}

void RedisStore::iter_index_rows(const IndexRowVisitor& visit) const {
  auto& d = impl();
  d.pages(0, "index", static_cast<std::int64_t>(kPageRows), [&](const redisReply* page) {
    for (std::size_t i = 1; i < page->elements; ++i) {
      const redisReply* row = page->element[i];
      if (is_nil(element(row, 1))) continue;
      if (!visit(decode_index_row(id_of_member(element(row, 0)), row, 1))) return false;
    }
    return true;
  });
}

EntryId RedisStore::insert(const StoredEntry& entry) {
  return insert_many(std::span<const StoredEntry>(&entry, 1)).front();
}

std::vector<EntryId> RedisStore::insert_many(std::span<const StoredEntry> entries) {
  auto& d = impl();
  if (entries.empty()) return {};
  // Checked for the whole batch before anything is sent: bad input never half-writes, and a
  // row of another dimension would break every reader's index.
  for (const auto& e : entries) {
    if (e.embedding.size() != d.dim) {
      throw InvalidArgument("RedisStore: an embedding has " + std::to_string(e.embedding.size()) + " dimensions, " +
                            d.conn.options().describe() + " was opened with " + std::to_string(d.dim) +
                            ". Remediation: embed with the embedder the store was opened with.");
    }
  }
  Args args;
  args.add(d.base()).own(d.retention()).own(std::to_string(entries.size()));
  for (const auto& e : entries) add_row_args(args, e);
  Reply r = d.conn.eval(ScriptId::kUpsert, args);
  if (r->type != REDIS_REPLY_ARRAY || r->elements != entries.size()) corrupt("upsert returned a short reply");
  std::vector<EntryId> ids;
  ids.reserve(entries.size());
  for (std::size_t i = 0; i < r->elements; ++i) ids.push_back(id_of_member(r->element[i]));
  return ids;
}

void RedisStore::update_access(EntryId id, Timestamp now) {
  auto& d = impl();
  if (id <= 0) return;
  Args args;
  args.add(d.base()).add("set").own(member_of(id)).own(ms_text(now)).add("1");
  d.conn.eval(ScriptId::kTouch, args);
}

void RedisStore::touch_many(std::span<const Touch> touches) {
  auto& d = impl();
  Args args;
  args.add(d.base()).add("max");
  std::size_t n = 0;
  for (const auto& t : touches) {
    if (t.id <= 0) continue;
    args.own(member_of(t.id)).own(ms_text(t.at)).own(std::to_string(t.hits));
    ++n;
  }
  if (n == 0) return;
  d.conn.eval(ScriptId::kTouch, args);
}

bool RedisStore::delete_by_id(EntryId id) { return delete_many(std::span<const EntryId>(&id, 1)) == 1; }

std::size_t RedisStore::delete_many(std::span<const EntryId> ids) {
  auto& d = impl();
  Args args;
  args.add(d.base()).own(d.retention());
  std::size_t n = 0;
  for (EntryId id : ids) {
    if (id <= 0) continue;
    args.own(member_of(id));
    ++n;
  }
  if (n == 0) return 0;
  return static_cast<std::size_t>(integer_of(d.conn.eval(ScriptId::kDelete, args).get()));
}

std::size_t RedisStore::delete_expired(Timestamp now, std::optional<std::string_view> ns) {
  auto& d = impl();
  Args args;
  args.add(d.base()).own(d.retention()).own(ms_text(now)).add(ns ? "1" : "0").own(ns ? hex_of(*ns) : "");
  return static_cast<std::size_t>(integer_of(d.conn.eval(ScriptId::kDeleteExpired, args).get()));
}

std::size_t RedisStore::clear_namespace(std::string_view ns) {
  auto& d = impl();
  Args args;
  args.add(d.base()).own(d.retention()).own(hex_of(ns));
  return static_cast<std::size_t>(integer_of(d.conn.eval(ScriptId::kClearNamespace, args).get()));
}

void RedisStore::set_namespace_quota(std::string_view ns, std::size_t max_entries) {
  auto& d = impl();
  Args args;
  args.add("HSET").own(d.key("quota")).add(ns).own(std::to_string(max_entries));
  d.conn.command(args);
}

std::optional<std::size_t> RedisStore::get_namespace_quota(std::string_view ns) const {
  auto& d = impl();
  Args args;
  args.add("HGET").own(d.key("quota")).add(ns);
  Reply r = d.conn.command(args);
  if (is_nil(r.get())) return std::nullopt;
  return parse_number<std::size_t>(text_of(r.get()), "a quota");
}

std::uint64_t RedisStore::read_version_counter() const {
  auto& d = impl();
  Args args;
  args.add("GET").own(d.key("ver"));
  Reply r = d.conn.command(args);
  if (is_nil(r.get())) return 0;
  return parse_number<std::uint64_t>(text_of(r.get()), "the version counter");
}

std::optional<std::string> RedisStore::read_meta(std::string_view key) const {
  auto& d = impl();
  Args args;
  args.add("HGET").own(d.key("meta")).add(key);
  Reply r = d.conn.command(args);
  if (is_nil(r.get())) return std::nullopt;
  return std::string(text_of(r.get()));
}

void RedisStore::write_meta(std::string_view key, std::string_view value) {
  auto& d = impl();
  Args args;
  args.add("HSET").own(d.key("meta")).add(key).add(value);
  d.conn.command(args);
}

std::optional<std::vector<Change>> RedisStore::changes_since(std::uint64_t version, std::size_t limit) const {
  auto& d = impl();
  Args args;
  args.add(d.base()).own(std::to_string(version)).own(clamp_count(limit));
  Reply r = d.conn.eval(ScriptId::kChanges, args);
  // A restart from an older RDB or a failover to a lagging replica brings back an older
  // counter and id sequence, and new writes then reuse versions and ids: the feed no longer
  // continues the history this handle's reader applied, and (version, id, kind) may even
  // match by coincidence. Another server instance means that may have happened, so the
  // first feed read from a new instance answers "rebuild" (nullopt).
  const bool same_instance = d.feed_run_id.empty() || d.feed_run_id == d.conn.server_run_id();
  d.feed_run_id = d.conn.server_run_id();
  if (!same_instance) return std::nullopt;
  if (text_of(element(r.get(), 0)) == "behind") return std::nullopt;
  std::vector<Change> out;
  out.reserve(r->elements - 1);
  for (std::size_t i = 1; i < r->elements; ++i) {
    // "<version>:<u|d>:<member>"
    auto text = text_of(r->element[i]);
    auto c1 = text.find(':');
    if (c1 == std::string_view::npos || c1 + 3 > text.size() || text[c1 + 2] != ':') {
      corrupt("bad change record \"" + std::string(text) + "\"");
    }
    Change ch;
    ch.version = parse_number<std::uint64_t>(text.substr(0, c1), "a change version");
    char kind = text[c1 + 1];
    if (kind != 'u' && kind != 'd') corrupt("bad change kind in \"" + std::string(text) + "\"");
    ch.kind = kind == 'u' ? ChangeKind::kUpsert : ChangeKind::kDelete;
    ch.id = parse_number<EntryId>(text.substr(c1 + 3), "a change id");
    out.push_back(ch);
  }
  return out;
}

bool RedisStore::integrity_check() const noexcept {
  try {
    if (!impl_ || impl_->state != Impl::State::kOpen) return false;
    auto& d = *impl_;
    auto cmd = [&](std::initializer_list<std::string> parts) {
      Args a;
      for (const auto& p : parts) a.own(p);
      return a;
    };
    std::vector<Args> global;
    global.push_back(cmd({"HMGET", d.key("meta"), "fingerprint", "dim"}));
    global.push_back(cmd({"ZCARD", d.key("ids")}));
    global.push_back(cmd({"ZCARD", d.key("lru")}));
    global.push_back(cmd({"ZCARD", d.key("exp")}));
    global.push_back(cmd({"HGETALL", d.key("nsc")}));
    global.push_back(cmd({"GET", d.key("ver")}));
    global.push_back(cmd({"ZRANGE", d.key("feed"), "0", "0", "WITHSCORES"}));
    global.push_back(cmd({"ZRANGE", d.key("feed"), "-1", "-1", "WITHSCORES"}));
    global.push_back(cmd({"ZCARD", d.key("feed")}));
    global.push_back(cmd({"GET", d.key("nextid")}));
    global.push_back(cmd({"ZRANGE", d.key("ids"), "-1", "-1"}));
    auto replies = d.conn.pipeline(global);
    const redisReply* meta = replies[0].get();
    if (is_nil(element(meta, 0)) || is_nil(element(meta, 1))) return false;
    if (parse_number<std::size_t>(text_of(element(meta, 1)), "dim") != d.dim) return false;
    auto total = integer_of(replies[1].get());
    if (integer_of(replies[2].get()) != total) return false;
    std::int64_t expiring = integer_of(replies[3].get());
    std::uint64_t ver = is_nil(replies[5].get()) ? 0 : parse_number<std::uint64_t>(text_of(replies[5].get()), "ver");
    auto feed_size = static_cast<std::uint64_t>(integer_of(replies[8].get()));
    if (feed_size > ver) return false;
    if (feed_size > 0) {
      // The feed holds exactly the versions (ver - size, ver].
      auto first = parse_number<std::uint64_t>(text_of(element(replies[6].get(), 1)), "score");
      auto last = parse_number<std::uint64_t>(text_of(element(replies[7].get(), 1)), "score");
      if (last != ver || first != ver - feed_size + 1) return false;
    }
    std::int64_t next_id = is_nil(replies[9].get()) ? 0 : integer_of(replies[9].get());
    if (replies[10]->elements > 0 && id_of_member(replies[10]->element[0]) > next_id) return false;

    // Per-namespace sets agree with the counts, and the counts add up.
    const redisReply* nsc = replies[4].get();
    std::vector<Args> per_ns;
    std::vector<std::int64_t> counts;
    std::int64_t sum = 0;
    for (std::size_t i = 0; i + 1 < nsc->elements; i += 2) {
      std::string ns(text_of(nsc->element[i]));
      std::int64_t c = integer_of(nsc->element[i + 1]);
      if (c <= 0) return false;
      sum += c;
      counts.push_back(c);
      per_ns.push_back(cmd({"ZCARD", d.ns_key(ns, "ids")}));
      per_ns.push_back(cmd({"ZCARD", d.ns_key(ns, "lru")}));
      per_ns.push_back(cmd({"HLEN", d.ns_key(ns, "hx")}));
      per_ns.push_back(cmd({"ZCARD", d.ns_key(ns, "exp")}));
    }
    if (sum != total) return false;
    if (!per_ns.empty()) {
      auto ns_replies = d.conn.pipeline(per_ns);
      std::int64_t expiring_sum = 0;
      for (std::size_t i = 0; i < counts.size(); ++i) {
        for (std::size_t k = 0; k < 3; ++k) {
          if (integer_of(ns_replies[4 * i + k].get()) != counts[i]) return false;
        }
        expiring_sum += integer_of(ns_replies[4 * i + 3].get());
      }
      if (expiring_sum != expiring) return false;
    } else if (expiring != 0) {
      return false;
    }

    // Every row against its indexes, a page at a time.
    std::string after = "0";
    for (;;) {
      Args args;
      args.add(d.base()).own(std::to_string(d.dim)).own(after).own(std::to_string(kPageRows * 2));
      Reply r = d.conn.eval(ScriptId::kIntegrity, args);
      if (integer_of(element(r.get(), 1)) != 0) return false;
      auto last = text_of(element(r.get(), 0));
      if (last.empty()) break;
      after = std::to_string(parse_number<EntryId>(last, "an id"));
    }
    return true;
  } catch (...) {
    return false;
  }
}

void RedisStore::snapshot_to(const std::filesystem::path& path) const {
  auto& d = impl();
  detail::RedisSnapshot snap;
  // Rows are read in pages; the counter moves with every row change, so pages that all saw
  // the same counter form a point-in-time copy. Under a steady stream of writes, fall back
  // to reading every row in one script (atomic, but it holds Redis for its duration).
  for (int attempt = 0;; ++attempt) {
    snap.rows.clear();
    bool last_try = attempt >= 3;
    auto version =
        d.pages(0, "all", last_try ? -1 : static_cast<std::int64_t>(kPageRows * 4), [&](const redisReply* page) {
          for (std::size_t i = 1; i < page->elements; ++i) {
            const redisReply* row = page->element[i];
            if (is_nil(element(row, 1))) continue;
            snap.rows.push_back(decode_entry(id_of_member(element(row, 0)), row, 1));
          }
          return true;
        });
    if (version) {
      snap.version_counter = *version;
      break;
    }
  }
  auto hgetall = [&](const std::string& key) {
    Args args;
    args.add("HGETALL").own(key);
    return d.conn.command(args);
  };
  Reply meta = hgetall(d.key("meta"));
  for (std::size_t i = 0; i + 1 < meta->elements; i += 2) {
    snap.meta.emplace_back(text_of(meta->element[i]), text_of(meta->element[i + 1]));
  }
  Reply quotas = hgetall(d.key("quota"));
  for (std::size_t i = 0; i + 1 < quotas->elements; i += 2) {
    snap.quotas.emplace_back(text_of(quotas->element[i]),
                             parse_number<std::uint64_t>(text_of(quotas->element[i + 1]), "a quota"));
  }
  Args next;
  next.add("GET").own(d.key("nextid"));
  Reply next_id = d.conn.command(next);
  snap.next_id = is_nil(next_id.get()) ? 0 : static_cast<std::uint64_t>(integer_of(next_id.get()));
  if (!snap.rows.empty()) {
    snap.next_id = std::max<std::uint64_t>(snap.next_id, static_cast<std::uint64_t>(snap.rows.back().id));
  }
  detail::write_redis_snapshot(path, snap);
}

namespace {

// A fresh token naming one restore's staging area: two restores into one prefix (from two
// processes, say) must never write into each other's staging keys.
std::string staging_token() {
  std::random_device rd;
  std::uint64_t hi = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  std::uint64_t lo = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return buf;
}

// Staging keys expire after this long unless the switch moves them into place: long enough
// for any realistic restore (every batch refreshes the keys it touches, the first ones are
// the oldest), short enough that a crashed restore does not hold memory for good.
constexpr const char* kStagingTtlMs = "86400000";

// Removes every key of one staging area. Best effort: it runs while a failed restore is
// being reported, and the keys expire by themselves anyway.
void drop_staging(detail::RedisConnection& conn, const std::string& staging) noexcept {
  try {
    std::string cursor = "0";
    const std::string pattern = glob_escape(staging) + "*";
    do {
      Args scan;
      scan.add("SCAN").own(cursor).add("MATCH").own(pattern).add("COUNT").add("1000");
      Reply r = conn.command(scan);
      cursor = std::string(text_of(element(r.get(), 0)));
      const redisReply* keys = element(r.get(), 1);
      if (keys->elements > 0) {
        Args unlink;
        unlink.add("UNLINK");
        for (std::size_t i = 0; i < keys->elements; ++i) unlink.add(text_of(keys->element[i]));
        conn.command(unlink);
      }
    } while (cursor != "0");
  } catch (...) {
  }
}

}  // namespace

RedisStore RedisStore::restore_from(const std::filesystem::path& src, RedisOptions dest) {
  // The header (magic, format, counters, meta, quotas) is read before Redis is touched: a
  // file that is not a snapshot changes nothing and costs a few bytes of reading.
  detail::RedisSnapshotReader reader(src);
  RedisStore store(std::move(dest));
  auto& d = *store.impl_;
  auto& conn = d.conn;
  // Everything is written into a staging area under the destination's hash tag, and moved
  // into place by one script only after the whole file verified (see kRestoreSwitch).
  const std::string staging = conn.base() + "s:" + staging_token() + ":";
  try {
    std::vector<Args> head;
    {
      Args a;
      a.add("SET").own(staging + "ready").add("1").add("PX").add(kStagingTtlMs);
      head.push_back(std::move(a));
    }
    for (const auto& [k, v] : reader.meta()) {
      Args a;
      a.add("HSET").own(staging + "meta").add(k).add(v);
      head.push_back(std::move(a));
    }
    for (const auto& [ns, max] : reader.quotas()) {
      Args a;
      a.add("HSET").own(staging + "quota").add(ns).own(std::to_string(max));
      head.push_back(std::move(a));
    }
    for (const char* key : {"meta", "quota"}) {
      Args a;
      a.add("PEXPIRE").own(staging + key).add(kStagingTtlMs);
      head.push_back(std::move(a));
    }
    conn.pipeline(head);

    // How many keys the staging area must hold when the switch runs (see kRestoreSwitch):
    // "ready", meta and quota when not empty, one hash per row, ids/lru/nsc (and exp) when
    // there are rows (with a ttl), and ids/lru/hx (and exp) per namespace.
    std::size_t staged_keys = 1 + (reader.meta().empty() ? 0 : 1) + (reader.quotas().empty() ? 0 : 1);
    std::set<std::string> namespaces, namespaces_with_ttl;

    // Rows are streamed: one batch in memory at a time, whatever the file's size.
    std::vector<StoredEntry> batch;
    batch.reserve(kRestoreBatch);
    auto flush = [&] {
      if (batch.empty()) return;
      Args args;
      args.add(staging).add(kStagingTtlMs);
      for (const StoredEntry& e : batch) {
        args.own(member_of(e.id));  // the restore script takes the member, then the upsert values
        add_row_args(args, e);
      }
      conn.eval(ScriptId::kRestoreRows, args);
      batch.clear();
    };
    StoredEntry row;
    while (reader.next_row(row)) {
      namespaces.insert(row.ns);
      if (row.ttl) namespaces_with_ttl.insert(row.ns);
      batch.push_back(std::move(row));
      if (batch.size() == kRestoreBatch) flush();
    }
    flush();
    reader.finish();  // checksum over the whole file: only now may it be applied
    staged_keys += reader.row_count() + 3 * namespaces.size() + namespaces_with_ttl.size();
    if (reader.row_count() > 0) staged_keys += 3;
    if (!namespaces_with_ttl.empty()) staged_keys += 1;

    Args sw;
    sw.add(conn.base())
        .add(staging)
        .own(glob_escape(conn.base()) + "*")
        .own(std::to_string(reader.row_count()))
        .own(std::to_string(reader.version_counter()))
        .own(std::to_string(reader.next_id()))
        .own(std::to_string(staged_keys));
    conn.eval(ScriptId::kRestoreSwitch, sw);
  } catch (const StoreCorrupt&) {
    drop_staging(conn, staging);
    throw;  // the snapshot is damaged: the destination was not changed
  } catch (const StoreError& e) {
    drop_staging(conn, staging);
    const std::string what = "RedisStore: restore of " + src.string() + " into " + conn.options().describe() +
                             " failed before the switch; the destination is unchanged: " + e.what();
    if (dynamic_cast<const StoreUnavailable*>(&e) != nullptr) throw StoreUnavailable(what);
    throw CheckpointError(what);
  } catch (...) {
    drop_staging(conn, staging);
    throw;
  }
  conn.disconnect();
  return store;
}

}  // namespace engram
