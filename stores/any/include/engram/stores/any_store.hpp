#pragma once
// AnyStore: a type-erased engram::Store. It wraps any type that models Store (SqliteStore,
// RedisStore, DictStore, a user's store) and itself models Store and every optional
// refinement, so SemanticCache<AnyStore, E> and the tools work on a store chosen at run time:
//
//   engram::AnyStore store = engram::open_store("redis://cache-1:6379/0?prefix=support");
//   engram::SemanticCache cache(std::move(store), engram::HashingEmbedder{});
//
// Refinements. insert_many, touch_many, iter_index_rows and the maintenance trio are always
// present. They forward to the wrapped store when it has them; otherwise:
//   insert_many      insert() per entry, in order (NOT one transaction: a failure part-way
//                    leaves the earlier entries written; has_bulk_insert() says which)
//   touch_many       update_access() once per hit (what SemanticCache does without it)
//   iter_index_rows  iter_all(), projected onto IndexRow
//   maintenance      one kind, "integrity_check": runs integrity_check() and throws
//                    StoreCorrupt when it fails (no data changes); maintenance_state() holds
//                    only "backend"; any other kind throws InvalidArgument
//
// Thread safety: as the wrapped store (one handle is not thread-safe; the cache serializes
// calls). Errors: whatever the wrapped store throws; a moved-from AnyStore throws CacheClosed.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "engram/errors.hpp"
#include "engram/store.hpp"
#include "engram/stores/store_uri.hpp"
#include "engram/types.hpp"

namespace engram {

// The embedder identity a store records on its first open (meta "fingerprint" and "dim").
struct StoreIdentity {
  std::string fingerprint{};
  std::size_t dim = 0;
  friend bool operator==(const StoreIdentity&, const StoreIdentity&) = default;
};

class AnyStore;

namespace detail {

class AnyStoreBase {
 public:
  AnyStoreBase() = default;
  AnyStoreBase(const AnyStoreBase&) = delete;
  AnyStoreBase& operator=(const AnyStoreBase&) = delete;
  AnyStoreBase(AnyStoreBase&&) = delete;
  AnyStoreBase& operator=(AnyStoreBase&&) = delete;
  virtual ~AnyStoreBase() = default;

  virtual void open(std::string_view fingerprint, std::size_t dim) = 0;
  virtual void close() = 0;
  virtual std::optional<StoredEntry> get_by_hash(std::string_view ns, const QueryHash& hash) const = 0;
  virtual std::optional<StoredEntry> get_by_id(EntryId id) const = 0;
  virtual std::size_t count(std::optional<std::string_view> ns) const = 0;
  virtual std::vector<std::string> list_namespaces() const = 0;
  virtual std::vector<EntryId> iter_lru_ids(std::size_t n, std::optional<std::string_view> ns) const = 0;
  virtual void iter_all(const EntryVisitor& visit) const = 0;
  virtual void iter_since(EntryId last_id, const EntryVisitor& visit) const = 0;
  virtual EntryId insert(const StoredEntry& entry) = 0;
  virtual void update_access(EntryId id, Timestamp now) = 0;
  virtual bool delete_by_id(EntryId id) = 0;
  virtual std::size_t delete_expired(Timestamp now, std::optional<std::string_view> ns) = 0;
  virtual std::size_t clear_namespace(std::string_view ns) = 0;
  virtual std::size_t delete_many(std::span<const EntryId> ids) = 0;
  virtual void set_namespace_quota(std::string_view ns, std::size_t max_entries) = 0;
  virtual std::optional<std::size_t> get_namespace_quota(std::string_view ns) const = 0;
  virtual std::uint64_t read_version_counter() const = 0;
  virtual std::optional<std::string> read_meta(std::string_view key) const = 0;
  virtual void write_meta(std::string_view key, std::string_view value) = 0;
  virtual bool integrity_check() const noexcept = 0;
  virtual void snapshot_to(const std::filesystem::path& path) const = 0;
  virtual std::optional<std::vector<Change>> changes_since(std::uint64_t version, std::size_t limit) const = 0;
  virtual std::vector<EntryId> insert_many(std::span<const StoredEntry> entries) = 0;
  virtual void touch_many(std::span<const Touch> touches) = 0;
  virtual void iter_index_rows(const IndexRowVisitor& visit) const = 0;
  virtual std::vector<std::string> maintenance_kinds() const = 0;
  virtual std::map<std::string, std::string> maintenance_state() const = 0;
  virtual void run_maintenance(std::string_view kind) = 0;
  virtual bool has_bulk_insert() const noexcept = 0;
  virtual bool has_touch_many() const noexcept = 0;
  virtual bool has_index_rows() const noexcept = 0;
  virtual bool has_maintenance() const noexcept = 0;
  virtual const char* backend() const noexcept = 0;
};

// The one maintenance kind AnyStore offers for a store without maintenance of its own.
inline constexpr const char* kIntegrityKind = "integrity_check";

template <class S>
class AnyStoreModel final : public AnyStoreBase {
 public:
  explicit AnyStoreModel(S store) : store_(std::move(store)) {}
  S& get() noexcept { return store_; }

  void open(std::string_view fingerprint, std::size_t dim) override { store_.open(fingerprint, dim); }
  void close() override { store_.close(); }
  std::optional<StoredEntry> get_by_hash(std::string_view ns, const QueryHash& hash) const override {
    return store_.get_by_hash(ns, hash);
  }
  std::optional<StoredEntry> get_by_id(EntryId id) const override { return store_.get_by_id(id); }
  std::size_t count(std::optional<std::string_view> ns) const override { return store_.count(ns); }
  std::vector<std::string> list_namespaces() const override { return store_.list_namespaces(); }
  std::vector<EntryId> iter_lru_ids(std::size_t n, std::optional<std::string_view> ns) const override {
    return store_.iter_lru_ids(n, ns);
  }
  void iter_all(const EntryVisitor& visit) const override { store_.iter_all(visit); }
  void iter_since(EntryId last_id, const EntryVisitor& visit) const override { store_.iter_since(last_id, visit); }
  EntryId insert(const StoredEntry& entry) override { return store_.insert(entry); }
  void update_access(EntryId id, Timestamp now) override { store_.update_access(id, now); }
  bool delete_by_id(EntryId id) override { return store_.delete_by_id(id); }
  std::size_t delete_expired(Timestamp now, std::optional<std::string_view> ns) override {
    return store_.delete_expired(now, ns);
  }
  std::size_t clear_namespace(std::string_view ns) override { return store_.clear_namespace(ns); }
  std::size_t delete_many(std::span<const EntryId> ids) override { return store_.delete_many(ids); }
  void set_namespace_quota(std::string_view ns, std::size_t max_entries) override {
    store_.set_namespace_quota(ns, max_entries);
  }
  std::optional<std::size_t> get_namespace_quota(std::string_view ns) const override {
    return store_.get_namespace_quota(ns);
  }
  std::uint64_t read_version_counter() const override { return store_.read_version_counter(); }
  std::optional<std::string> read_meta(std::string_view key) const override { return store_.read_meta(key); }
  void write_meta(std::string_view key, std::string_view value) override { store_.write_meta(key, value); }
  bool integrity_check() const noexcept override { return store_.integrity_check(); }
  void snapshot_to(const std::filesystem::path& path) const override { store_.snapshot_to(path); }
  std::optional<std::vector<Change>> changes_since(std::uint64_t version, std::size_t limit) const override {
    return store_.changes_since(version, limit);
  }

  std::vector<EntryId> insert_many(std::span<const StoredEntry> entries) override {
    if constexpr (BulkInsertStore<S>) {
      return store_.insert_many(entries);
    } else {
      std::vector<EntryId> ids;
      ids.reserve(entries.size());
      for (const StoredEntry& e : entries) ids.push_back(store_.insert(e));
      return ids;
    }
  }
  void touch_many(std::span<const Touch> touches) override {
    if constexpr (TouchManyStore<S>) {
      store_.touch_many(touches);
    } else {
      for (const Touch& t : touches)
        for (std::int64_t i = 0; i < t.hits; ++i) store_.update_access(t.id, t.at);
    }
  }
  void iter_index_rows(const IndexRowVisitor& visit) const override {
    if constexpr (IndexRowStore<S>) {
      store_.iter_index_rows(visit);
    } else {
      store_.iter_all([&](const StoredEntry& e) {
        return visit(IndexRow{e.id, e.ns, e.query_hash, e.created_at, e.ttl, e.embedding});
      });
    }
  }
  std::vector<std::string> maintenance_kinds() const override {
    if constexpr (MaintainableStore<S>) return store_.maintenance_kinds();
    else return {kIntegrityKind};
  }
  std::map<std::string, std::string> maintenance_state() const override {
    if constexpr (MaintainableStore<S>) return store_.maintenance_state();
    else return {{"backend", backend()}};
  }
  void run_maintenance(std::string_view kind) override {
    if constexpr (MaintainableStore<S>) {
      store_.run_maintenance(kind);
    } else {
      (void)store_.read_version_counter();  // CacheClosed before open() and after close()
      if (kind != kIntegrityKind) {
        throw InvalidArgument(std::string("the ") + backend() + " store offers only the '" + kIntegrityKind +
                              "' maintenance kind, not '" + std::string(kind) +
                              "'. Remediation: check maintenance_kinds() first.");
      }
      if (!store_.integrity_check()) {
        throw StoreCorrupt(std::string("the ") + backend() +
                           " store failed its integrity check. Remediation: restore it from a snapshot or an export.");
      }
    }
  }
  bool has_bulk_insert() const noexcept override { return BulkInsertStore<S>; }
  bool has_touch_many() const noexcept override { return TouchManyStore<S>; }
  bool has_index_rows() const noexcept override { return IndexRowStore<S>; }
  bool has_maintenance() const noexcept override { return MaintainableStore<S>; }
  const char* backend() const noexcept override {
    if constexpr (requires { S::kBackendName; }) return S::kBackendName;
    else return "custom";
  }

 private:
  S store_;
};

}  // namespace detail

// Options of open_store().
struct StoreUriOptions {
  // The store must already exist and hold an embedder identity (it was opened before): a
  // SQLite file must exist, a Redis prefix must have its meta, a dict: name must be known.
  // Otherwise open_store() throws StoreError and creates nothing. Read-only commands set it.
  bool must_exist = false;
  // Redis: the password when the URI has none (default: $ENGRAM_REDIS_PASSWORD, if set).
  std::string redis_password{};
  // Redis: per-command timeout (bulk writes of large batches run as one script).
  Millis redis_command_timeout{30000};
};

class AnyStore {
 public:
  // restore_from's destination: a store URI (see store_uri.hpp).
  using Location = std::string;

  // Wraps `store` (unopened or open). `description` names it in messages (default: the
  // backend name).
  template <class S>
  requires(!std::is_same_v<std::remove_cvref_t<S>, AnyStore> &&
           Store<S>) explicit AnyStore(S store, std::string description = {})
      : impl_(std::make_unique<detail::AnyStoreModel<S>>(std::move(store))), description_(std::move(description)) {
    if (description_.empty()) description_ = impl_->backend();
  }

  AnyStore(AnyStore&&) noexcept = default;
  AnyStore& operator=(AnyStore&&) noexcept = default;
  AnyStore(const AnyStore&) = delete;
  AnyStore& operator=(const AnyStore&) = delete;
  ~AnyStore() = default;

  // "sqlite", "redis", "dict", the wrapped type's kBackendName, or "custom".
  const char* backend() const noexcept { return impl_ ? impl_->backend() : "closed"; }
  // The store's URI without a password (or the description given to the constructor).
  const std::string& description() const noexcept { return description_; }
  // Whether the wrapped store has each refinement natively (see the header comment).
  bool has_bulk_insert() const noexcept { return impl_ && impl_->has_bulk_insert(); }
  bool has_touch_many() const noexcept { return impl_ && impl_->has_touch_many(); }
  bool has_index_rows() const noexcept { return impl_ && impl_->has_index_rows(); }
  bool has_maintenance() const noexcept { return impl_ && impl_->has_maintenance(); }

  // The embedder identity the store records, read without writing anything; nullopt when
  // the store has never been opened. Works before open() for stores made by open_store();
  // for a wrapped store of another type it needs the store open (nullopt otherwise).
  // Throws StoreError subclasses (unreachable, damaged).
  std::optional<StoreIdentity> recorded_identity() const;

  // Opens with the recorded identity (for work that never embeds: inspection, copying,
  // maintenance) and returns it. Throws StoreError when the store has no identity yet, and
  // whatever open() throws.
  StoreIdentity open_recorded();

  // ---- the Store concept: forwards to the wrapped store -------------------------------
  void open(std::string_view fingerprint, std::size_t dim) { impl().open(fingerprint, dim); }
  void close() {
    if (impl_) impl_->close();
  }
  std::optional<StoredEntry> get_by_hash(std::string_view ns, const QueryHash& hash) const {
    return impl().get_by_hash(ns, hash);
  }
  std::optional<StoredEntry> get_by_id(EntryId id) const { return impl().get_by_id(id); }
  std::size_t count(std::optional<std::string_view> ns = {}) const { return impl().count(ns); }
  std::vector<std::string> list_namespaces() const { return impl().list_namespaces(); }
  std::vector<EntryId> iter_lru_ids(std::size_t n, std::optional<std::string_view> ns = {}) const {
    return impl().iter_lru_ids(n, ns);
  }
  void iter_all(const EntryVisitor& visit) const { impl().iter_all(visit); }
  void iter_since(EntryId last_id, const EntryVisitor& visit) const { impl().iter_since(last_id, visit); }
  EntryId insert(const StoredEntry& entry) { return impl().insert(entry); }
  void update_access(EntryId id, Timestamp now) { impl().update_access(id, now); }
  bool delete_by_id(EntryId id) { return impl().delete_by_id(id); }
  std::size_t delete_expired(Timestamp now, std::optional<std::string_view> ns = {}) {
    return impl().delete_expired(now, ns);
  }
  std::size_t clear_namespace(std::string_view ns) { return impl().clear_namespace(ns); }
  std::size_t delete_many(std::span<const EntryId> ids) { return impl().delete_many(ids); }
  void set_namespace_quota(std::string_view ns, std::size_t max_entries) {
    impl().set_namespace_quota(ns, max_entries);
  }
  std::optional<std::size_t> get_namespace_quota(std::string_view ns) const { return impl().get_namespace_quota(ns); }
  std::uint64_t read_version_counter() const { return impl().read_version_counter(); }
  std::optional<std::string> read_meta(std::string_view key) const { return impl().read_meta(key); }
  void write_meta(std::string_view key, std::string_view value) { impl().write_meta(key, value); }
  bool integrity_check() const noexcept { return impl_ && impl_->integrity_check(); }
  void snapshot_to(const std::filesystem::path& path) const { impl().snapshot_to(path); }
  std::optional<std::vector<Change>> changes_since(std::uint64_t version, std::size_t limit) const {
    return impl().changes_since(version, limit);
  }

  // Restores the snapshot `src` (written by snapshot_to of the same backend) into the store
  // named by the URI `dest` and returns it unopened (see each store's restore_from).
  // Throws InvalidArgument (bad URI) and whatever the backend's restore_from throws.
  static AnyStore restore_from(const std::filesystem::path& src, const Location& dest);

  // ---- refinements: always present (see the header comment for the fallbacks) ----------
  std::vector<EntryId> insert_many(std::span<const StoredEntry> entries) { return impl().insert_many(entries); }
  void touch_many(std::span<const Touch> touches) { impl().touch_many(touches); }
  void iter_index_rows(const IndexRowVisitor& visit) const { impl().iter_index_rows(visit); }
  std::vector<std::string> maintenance_kinds() const { return impl().maintenance_kinds(); }
  std::map<std::string, std::string> maintenance_state() const { return impl().maintenance_state(); }
  void run_maintenance(std::string_view kind) { impl().run_maintenance(kind); }

  // The wrapped store when it is an S, else nullptr.
  template <class S>
  S* target() noexcept {
    auto* model = dynamic_cast<detail::AnyStoreModel<S>*>(impl_.get());
    return model ? &model->get() : nullptr;
  }

 private:
  friend AnyStore open_store(std::string_view uri, const StoreUriOptions& options);

  detail::AnyStoreBase& impl() const {
    if (!impl_) throw CacheClosed("AnyStore: moved-from handle. Remediation: use the store it was moved into.");
    return *impl_;
  }

  std::unique_ptr<detail::AnyStoreBase> impl_;
  std::string description_;
  StoreUri uri_{};  // set by open_store(); lets recorded_identity() work before open()
  bool from_uri_ = false;
};

// Opens nothing yet: returns an unopened AnyStore for the store named by `uri` (see
// store_uri.hpp). Call open(fingerprint, dim), or open_recorded() for work that never embeds.
// With options.must_exist the store must already exist with an identity (checked now,
// without creating or writing anything; throws StoreError otherwise).
// Throws InvalidArgument (bad URI, or a redis:// URI in a build without RedisStore),
// StoreError subclasses (must_exist and the store is missing, unreachable or damaged).
AnyStore open_store(std::string_view uri, const StoreUriOptions& options = {});

static_assert(Store<AnyStore>);
static_assert(BulkInsertStore<AnyStore>);
static_assert(TouchManyStore<AnyStore>);
static_assert(IndexRowStore<AnyStore>);
static_assert(MaintainableStore<AnyStore>);

}  // namespace engram
