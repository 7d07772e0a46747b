// The Store concept rejects a type that lacks any one of the 24 methods (or has one with the
// wrong shape), names the failing group, and accepts the complete type. Probe<kDrop> is a
// complete store except for the member selected by kDrop, which is removed with a
// requires-clause, so each probe differs from the valid one in exactly one place.
#include <gtest/gtest.h>

#include <engram/store.hpp>
#include <engram/stores/dict_store.hpp>

namespace {

using namespace engram;

enum class Drop {
  kNone,
  kOpen,
  kClose,
  kGetByHash,
  kGetById,
  kCount,
  kListNamespaces,
  kIterLruIds,
  kIterAll,
  kIterSince,
  kInsert,
  kUpdateAccess,
  kDeleteById,
  kDeleteExpired,
  kClearNamespace,
  kSetQuota,
  kGetQuota,
  kReadVersion,
  kReadMeta,
  kWriteMeta,
  kIntegrityCheck,
  kSnapshotTo,
  kRestoreFrom,
  kChangesSince,
  kDeleteMany,
  // Wrong shapes rather than missing methods.
  kIntegrityNotNoexcept,
  kGetByIdNotConst,
  kInsertReturnsInt,
  kCountWithoutDefault,
  kNoLocation,
  kNotMovable,
};

// Location is a member type, which a requires-clause cannot remove: it comes from a base
// that kNoLocation leaves empty.
template <bool kHasLocation>
struct LocationBase {
  using Location = std::string;
};
template <>
struct LocationBase<false> {};

// kRefine selects an optional insert_many: 0 none, 1 with the wrong return type, 2 correct.
template <Drop D, int kRefine = 0>
struct Probe : LocationBase<D != Drop::kNoLocation> {
  Probe() = default;
  Probe(Probe&&) noexcept requires(D != Drop::kNotMovable) = default;
  Probe(const Probe&) = delete;

  void open(std::string_view, std::size_t) requires(D != Drop::kOpen) {}
  void close() requires(D != Drop::kClose) {}
  std::optional<StoredEntry> get_by_hash(std::string_view, const QueryHash&) const requires(D != Drop::kGetByHash) {
    return {};
  }
  std::optional<StoredEntry> get_by_id(EntryId) const requires(D != Drop::kGetById && D != Drop::kGetByIdNotConst) {
    return {};
  }
  std::optional<StoredEntry> get_by_id(EntryId) requires(D == Drop::kGetByIdNotConst) { return {}; }
  std::size_t count(std::optional<std::string_view> = {}) const
      requires(D != Drop::kCount && D != Drop::kCountWithoutDefault) {
    return 0;
  }
  std::size_t count(std::optional<std::string_view>) const requires(D == Drop::kCountWithoutDefault) { return 0; }
  std::vector<std::string> list_namespaces() const requires(D != Drop::kListNamespaces) { return {}; }
  std::vector<EntryId> iter_lru_ids(std::size_t, std::optional<std::string_view> = {}) const
      requires(D != Drop::kIterLruIds) {
    return {};
  }
  void iter_all(const EntryVisitor&) const requires(D != Drop::kIterAll) {}
  void iter_since(EntryId, const EntryVisitor&) const requires(D != Drop::kIterSince) {}
  EntryId insert(const StoredEntry&) requires(D != Drop::kInsert && D != Drop::kInsertReturnsInt) { return 1; }
  int insert(const StoredEntry&) requires(D == Drop::kInsertReturnsInt) { return 1; }
  void update_access(EntryId, Timestamp) requires(D != Drop::kUpdateAccess) {}
  bool delete_by_id(EntryId) requires(D != Drop::kDeleteById) { return false; }
  std::size_t delete_expired(Timestamp, std::optional<std::string_view> = {}) requires(D != Drop::kDeleteExpired) {
    return 0;
  }
  std::size_t clear_namespace(std::string_view) requires(D != Drop::kClearNamespace) { return 0; }
  void set_namespace_quota(std::string_view, std::size_t) requires(D != Drop::kSetQuota) {}
  std::optional<std::size_t> get_namespace_quota(std::string_view) const requires(D != Drop::kGetQuota) { return {}; }
  std::uint64_t read_version_counter() const requires(D != Drop::kReadVersion) { return 0; }
  std::optional<std::string> read_meta(std::string_view) const requires(D != Drop::kReadMeta) { return {}; }
  void write_meta(std::string_view, std::string_view) requires(D != Drop::kWriteMeta) {}
  bool integrity_check() const noexcept requires(D != Drop::kIntegrityCheck && D != Drop::kIntegrityNotNoexcept) {
    return true;
  }
  bool integrity_check() const requires(D == Drop::kIntegrityNotNoexcept) { return true; }
  void snapshot_to(const std::filesystem::path&) const requires(D != Drop::kSnapshotTo) {}
  static Probe restore_from(const std::filesystem::path&,
                            const std::string&) requires(D != Drop::kRestoreFrom && D != Drop::kNotMovable) {
    return Probe();
  }
  std::optional<std::vector<Change>> changes_since(std::uint64_t, std::size_t) const
      requires(D != Drop::kChangesSince) {
    return std::vector<Change>{};
  }
  std::size_t delete_many(std::span<const EntryId>) requires(D != Drop::kDeleteMany) { return 0; }
  void insert_many(std::span<const StoredEntry>) requires(kRefine == 1) {}
  std::vector<EntryId> insert_many(std::span<const StoredEntry>) requires(kRefine == 2) { return {}; }
};

// The complete probe is a Store; dropping any member breaks exactly the group it belongs to.
static_assert(Store<Probe<Drop::kNone>>);
static_assert(!Store<Probe<Drop::kOpen>> && !StoreLifecycle<Probe<Drop::kOpen>>);
static_assert(!Store<Probe<Drop::kClose>> && !StoreLifecycle<Probe<Drop::kClose>>);
static_assert(!Store<Probe<Drop::kNotMovable>> && !StoreLifecycle<Probe<Drop::kNotMovable>>);
static_assert(!Store<Probe<Drop::kGetByHash>> && !StoreLookup<Probe<Drop::kGetByHash>>);
static_assert(!Store<Probe<Drop::kGetById>> && !StoreLookup<Probe<Drop::kGetById>>);
static_assert(!Store<Probe<Drop::kGetByIdNotConst>> && !StoreLookup<Probe<Drop::kGetByIdNotConst>>);
static_assert(!Store<Probe<Drop::kCount>> && !StoreLookup<Probe<Drop::kCount>>);
static_assert(!Store<Probe<Drop::kCountWithoutDefault>> && !StoreLookup<Probe<Drop::kCountWithoutDefault>>);
static_assert(!Store<Probe<Drop::kListNamespaces>> && !StoreLookup<Probe<Drop::kListNamespaces>>);
static_assert(!Store<Probe<Drop::kIterLruIds>> && !StoreIteration<Probe<Drop::kIterLruIds>>);
static_assert(!Store<Probe<Drop::kIterAll>> && !StoreIteration<Probe<Drop::kIterAll>>);
static_assert(!Store<Probe<Drop::kIterSince>> && !StoreIteration<Probe<Drop::kIterSince>>);
static_assert(!Store<Probe<Drop::kInsert>> && !StoreMutation<Probe<Drop::kInsert>>);
static_assert(!Store<Probe<Drop::kInsertReturnsInt>> && !StoreMutation<Probe<Drop::kInsertReturnsInt>>);
static_assert(!Store<Probe<Drop::kUpdateAccess>> && !StoreMutation<Probe<Drop::kUpdateAccess>>);
static_assert(!Store<Probe<Drop::kDeleteById>> && !StoreMutation<Probe<Drop::kDeleteById>>);
static_assert(!Store<Probe<Drop::kDeleteExpired>> && !StoreMutation<Probe<Drop::kDeleteExpired>>);
static_assert(!Store<Probe<Drop::kClearNamespace>> && !StoreMutation<Probe<Drop::kClearNamespace>>);
static_assert(!Store<Probe<Drop::kDeleteMany>> && !StoreMutation<Probe<Drop::kDeleteMany>>);
static_assert(!Store<Probe<Drop::kSetQuota>> && !StoreQuotas<Probe<Drop::kSetQuota>>);
static_assert(!Store<Probe<Drop::kGetQuota>> && !StoreQuotas<Probe<Drop::kGetQuota>>);
static_assert(!Store<Probe<Drop::kReadVersion>> && !StoreCoordination<Probe<Drop::kReadVersion>>);
static_assert(!Store<Probe<Drop::kReadMeta>> && !StoreCoordination<Probe<Drop::kReadMeta>>);
static_assert(!Store<Probe<Drop::kWriteMeta>> && !StoreCoordination<Probe<Drop::kWriteMeta>>);
static_assert(!Store<Probe<Drop::kIntegrityCheck>> && !StoreBackup<Probe<Drop::kIntegrityCheck>>);
static_assert(!Store<Probe<Drop::kIntegrityNotNoexcept>> && !StoreBackup<Probe<Drop::kIntegrityNotNoexcept>>);
static_assert(!Store<Probe<Drop::kSnapshotTo>> && !StoreBackup<Probe<Drop::kSnapshotTo>>);
static_assert(!Store<Probe<Drop::kRestoreFrom>> && !StoreBackup<Probe<Drop::kRestoreFrom>>);
static_assert(!Store<Probe<Drop::kChangesSince>> && !StoreChangeFeed<Probe<Drop::kChangesSince>>);
static_assert(!Store<Probe<Drop::kNoLocation>> && !StoreBackup<Probe<Drop::kNoLocation>>);

// A missing method breaks only its own group.
static_assert(StoreLookup<Probe<Drop::kInsert>> && StoreIteration<Probe<Drop::kInsert>> &&
              StoreBackup<Probe<Drop::kInsert>> && StoreChangeFeed<Probe<Drop::kInsert>>);
static_assert(StoreMutation<Probe<Drop::kChangesSince>> && StoreLifecycle<Probe<Drop::kChangesSince>>);

// Refinements are absent on the bare probe and present on DictStore.
static_assert(!BulkInsertStore<Probe<Drop::kNone>> && !TouchManyStore<Probe<Drop::kNone>> &&
              !IndexRowStore<Probe<Drop::kNone>> && !MaintainableStore<Probe<Drop::kNone>>);
static_assert(Store<DictStore> && BulkInsertStore<DictStore> && TouchManyStore<DictStore> && IndexRowStore<DictStore> &&
              !MaintainableStore<DictStore>);

// A refinement with the wrong shape is not detected as that refinement.
static_assert(!BulkInsertStore<Probe<Drop::kNone, 1>> && BulkInsertStore<Probe<Drop::kNone, 2>>);

// The same facts at run time, so that they appear in the test report. (The static_asserts
// above already stop the build if any is false.)
template <Drop D>
constexpr bool is_store = Store<Probe<D>>;

TEST(StoreConcept, CompleteTypeIsAStore) {
  EXPECT_TRUE(is_store<Drop::kNone>);
  EXPECT_TRUE(Store<DictStore>);
}

TEST(StoreConcept, TypeMissingAnyOneMethodIsNotAStore) {
  EXPECT_FALSE(is_store<Drop::kOpen>);
  EXPECT_FALSE(is_store<Drop::kClose>);
  EXPECT_FALSE(is_store<Drop::kGetByHash>);
  EXPECT_FALSE(is_store<Drop::kGetById>);
  EXPECT_FALSE(is_store<Drop::kCount>);
  EXPECT_FALSE(is_store<Drop::kListNamespaces>);
  EXPECT_FALSE(is_store<Drop::kIterLruIds>);
  EXPECT_FALSE(is_store<Drop::kIterAll>);
  EXPECT_FALSE(is_store<Drop::kIterSince>);
  EXPECT_FALSE(is_store<Drop::kInsert>);
  EXPECT_FALSE(is_store<Drop::kUpdateAccess>);
  EXPECT_FALSE(is_store<Drop::kDeleteById>);
  EXPECT_FALSE(is_store<Drop::kDeleteExpired>);
  EXPECT_FALSE(is_store<Drop::kClearNamespace>);
  EXPECT_FALSE(is_store<Drop::kSetQuota>);
  EXPECT_FALSE(is_store<Drop::kGetQuota>);
  EXPECT_FALSE(is_store<Drop::kReadVersion>);
  EXPECT_FALSE(is_store<Drop::kReadMeta>);
  EXPECT_FALSE(is_store<Drop::kWriteMeta>);
  EXPECT_FALSE(is_store<Drop::kIntegrityCheck>);
  EXPECT_FALSE(is_store<Drop::kSnapshotTo>);
  EXPECT_FALSE(is_store<Drop::kRestoreFrom>);
  EXPECT_FALSE(is_store<Drop::kChangesSince>);
  EXPECT_FALSE(is_store<Drop::kDeleteMany>);
}

TEST(StoreConcept, MethodWithWrongShapeIsNotAStore) {
  EXPECT_FALSE(is_store<Drop::kIntegrityNotNoexcept>);
  EXPECT_FALSE(is_store<Drop::kGetByIdNotConst>);
  EXPECT_FALSE(is_store<Drop::kInsertReturnsInt>);
  EXPECT_FALSE(is_store<Drop::kCountWithoutDefault>);
  EXPECT_FALSE(is_store<Drop::kNotMovable>);
  EXPECT_FALSE(Store<Probe<Drop::kNoLocation>>);
}

}  // namespace
