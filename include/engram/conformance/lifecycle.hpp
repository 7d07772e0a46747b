#pragma once
// Battery suite "Lifecycle": open/close/reopen, the embedder identity recorded by the first
// open and checked by later ones (DimensionMismatch before EmbedderMismatch), CacheClosed
// before open and after close, idempotent close, and two handles on one backing.
// Thread safety: test code, single-threaded.

#include "engram/conformance/common.hpp"

namespace engram::conformance {

namespace detail {

// Every data method of a store that is not open throws CacheClosed.
template <class S>
void expect_every_method_closed(S& s, const std::filesystem::path& scratch) {
  const S& cs = s;
  const StoredEntry e = make_entry("ns", "k");
  const EntryId ids[] = {1, 2};
  auto visit = [](const StoredEntry&) { return true; };
  EXPECT_THROW((void)cs.get_by_hash("ns", e.query_hash), CacheClosed) << "get_by_hash";
  EXPECT_THROW((void)cs.get_by_id(1), CacheClosed) << "get_by_id";
  EXPECT_THROW((void)cs.count(), CacheClosed) << "count()";
  EXPECT_THROW((void)cs.count("ns"), CacheClosed) << "count(ns)";
  EXPECT_THROW((void)cs.list_namespaces(), CacheClosed) << "list_namespaces";
  EXPECT_THROW((void)cs.iter_lru_ids(10), CacheClosed) << "iter_lru_ids";
  EXPECT_THROW(cs.iter_all(visit), CacheClosed) << "iter_all";
  EXPECT_THROW(cs.iter_since(0, visit), CacheClosed) << "iter_since";
  EXPECT_THROW((void)s.insert(e), CacheClosed) << "insert";
  EXPECT_THROW(s.update_access(1, at(0)), CacheClosed) << "update_access";
  EXPECT_THROW((void)s.delete_by_id(1), CacheClosed) << "delete_by_id";
  EXPECT_THROW((void)s.delete_expired(at(0)), CacheClosed) << "delete_expired";
  EXPECT_THROW((void)s.clear_namespace("ns"), CacheClosed) << "clear_namespace";
  EXPECT_THROW(s.set_namespace_quota("ns", 5), CacheClosed) << "set_namespace_quota";
  EXPECT_THROW((void)cs.get_namespace_quota("ns"), CacheClosed) << "get_namespace_quota";
  EXPECT_THROW((void)cs.read_version_counter(), CacheClosed) << "read_version_counter";
  EXPECT_THROW((void)cs.read_meta("k"), CacheClosed) << "read_meta";
  EXPECT_THROW(s.write_meta("k", "v"), CacheClosed) << "write_meta";
  EXPECT_THROW(cs.snapshot_to(scratch / "closed.snapshot"), CacheClosed) << "snapshot_to";
  EXPECT_THROW((void)cs.changes_since(0, 10), CacheClosed) << "changes_since";
  EXPECT_THROW((void)s.delete_many(ids), CacheClosed) << "delete_many";
  if constexpr (BulkInsertStore<S>) {
    std::vector<StoredEntry> batch{e};
    EXPECT_THROW((void)s.insert_many(batch), CacheClosed) << "insert_many";
  }
  if constexpr (TouchManyStore<S>) {
    std::vector<Touch> touches{Touch{1, at(0), 1}};
    EXPECT_THROW(s.touch_many(touches), CacheClosed) << "touch_many";
  }
  if constexpr (IndexRowStore<S>) {
    EXPECT_THROW(cs.iter_index_rows([](const IndexRow&) { return true; }), CacheClosed) << "iter_index_rows";
  }
  if constexpr (MaintainableStore<S>) {
    EXPECT_THROW(s.run_maintenance("analyze"), CacheClosed) << "run_maintenance";
  }
}

}  // namespace detail

template <class F>
class Lifecycle : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(Lifecycle);

TYPED_TEST_P(Lifecycle, FreshStoreIsEmpty) {
  auto s = this->open_store();
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.count("anything"), 0u);
  EXPECT_TRUE(s.list_namespaces().empty());
  EXPECT_EQ(s.read_version_counter(), 0u);
  EXPECT_FALSE(s.get_by_id(1).has_value());
  EXPECT_TRUE(detail::all_ids(s).empty());
  EXPECT_TRUE(s.iter_lru_ids(10).empty());
  auto changes = s.changes_since(0, 10);
  ASSERT_TRUE(changes.has_value()) << "changes_since(0) on a fresh store is an empty feed, not nullopt";
  EXPECT_TRUE(changes->empty());
}

TYPED_TEST_P(Lifecycle, OpenRecordsFingerprintAndDim) {
  auto s = this->open_store();
  EXPECT_EQ(s.read_meta("fingerprint"), std::optional<std::string>(std::string(kFingerprint)));
  EXPECT_EQ(s.read_meta("dim"), std::optional<std::string>(std::to_string(kDim)));
}

TYPED_TEST_P(Lifecycle, ReopenSeesEverything) {
  EntryId id = 0;
  {
    auto s = this->open_store();
    id = this->put(s, "tenant", "k1");
    s.set_namespace_quota("tenant", 7);
    s.write_meta("owner", "battery");
    s.close();
  }
  auto s = this->open_store();
  EXPECT_TRUE(detail::same_entry(s.get_by_id(id), [&] {
    auto e = detail::make_entry("tenant", "k1");
    e.id = id;
    return e;
  }()));
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(s.get_namespace_quota("tenant"), std::optional<std::size_t>(7));
  EXPECT_EQ(s.read_meta("owner"), std::optional<std::string>("battery"));
  EXPECT_EQ(s.read_version_counter(), 1u);
}

TYPED_TEST_P(Lifecycle, ReopenWithOtherDimThrowsDimensionMismatch) {
  this->open_store().close();
  auto s = this->make();
  EXPECT_THROW(s.open(kFingerprint, kDim + 1), DimensionMismatch);
}

TYPED_TEST_P(Lifecycle, ReopenWithOtherFingerprintThrowsEmbedderMismatch) {
  this->open_store().close();
  auto s = this->make();
  EXPECT_THROW(s.open("engram:conformance:other", kDim), EmbedderMismatch);
}

TYPED_TEST_P(Lifecycle, DimensionIsCheckedBeforeFingerprint) {
  this->open_store().close();
  auto s = this->make();
  EXPECT_THROW(s.open("engram:conformance:other", kDim * 2), DimensionMismatch);
}

TYPED_TEST_P(Lifecycle, FailedOpenChangesNothing) {
  EntryId id = 0;
  {
    auto s = this->open_store();
    id = this->put(s, "", "k");
    s.close();
  }
  {
    auto bad = this->make();
    EXPECT_THROW(bad.open("engram:conformance:other", kDim), EmbedderMismatch);
    EXPECT_THROW((void)bad.count(), CacheClosed) << "a handle whose open() failed is not open";
  }
  {
    auto bad = this->make();
    EXPECT_THROW(bad.open(kFingerprint, kDim + 3), DimensionMismatch);
  }
  auto s = this->open_store();
  EXPECT_EQ(s.read_meta("fingerprint"), std::optional<std::string>(std::string(kFingerprint)));
  EXPECT_EQ(s.read_meta("dim"), std::optional<std::string>(std::to_string(kDim)));
  EXPECT_EQ(s.count(), 1u);
  EXPECT_TRUE(s.get_by_id(id).has_value());
  EXPECT_EQ(s.read_version_counter(), 1u);
}

TYPED_TEST_P(Lifecycle, MethodsBeforeOpenThrowCacheClosed) {
  detail::ScratchDir dir;
  auto s = this->make();
  detail::expect_every_method_closed(s, dir.path());
}

TYPED_TEST_P(Lifecycle, MethodsAfterCloseThrowCacheClosed) {
  detail::ScratchDir dir;
  auto s = this->open_store();
  this->put(s, "ns", "k");
  s.close();
  detail::expect_every_method_closed(s, dir.path());
}

TYPED_TEST_P(Lifecycle, OpenAfterCloseThrowsCacheClosed) {
  auto s = this->open_store();
  s.close();
  EXPECT_THROW(s.open(kFingerprint, kDim), CacheClosed)
      << "a closed handle stays closed; reopening means a new handle on the same backing";
}

TYPED_TEST_P(Lifecycle, CloseIsIdempotent) {
  auto s = this->open_store();
  this->put(s, "ns", "k");
  EXPECT_NO_THROW(s.close());
  EXPECT_NO_THROW(s.close());
  auto never_opened = this->make();
  EXPECT_NO_THROW(never_opened.close());
  EXPECT_NO_THROW(never_opened.close());
  auto again = this->open_store();
  EXPECT_EQ(again.count(), 1u) << "closing twice must not lose data";
}

TYPED_TEST_P(Lifecycle, TwoOpenHandlesShareOneBacking) {
  auto a = this->open_store();
  auto b = this->open_store();
  const EntryId id = this->put(a, "ns", "k");
  EXPECT_TRUE(b.get_by_id(id).has_value()) << "an insert through one handle is visible through another";
  EXPECT_EQ(b.count("ns"), 1u);
  EXPECT_EQ(b.read_version_counter(), a.read_version_counter());
  b.set_namespace_quota("ns", 3);
  EXPECT_EQ(a.get_namespace_quota("ns"), std::optional<std::size_t>(3));
  EXPECT_TRUE(b.delete_by_id(id));
  EXPECT_FALSE(a.get_by_id(id).has_value());
  a.close();
  EXPECT_EQ(b.count(), 0u) << "closing one handle leaves the other open";
}

REGISTER_TYPED_TEST_SUITE_P(Lifecycle, FreshStoreIsEmpty, OpenRecordsFingerprintAndDim, ReopenSeesEverything,
                            ReopenWithOtherDimThrowsDimensionMismatch, ReopenWithOtherFingerprintThrowsEmbedderMismatch,
                            DimensionIsCheckedBeforeFingerprint, FailedOpenChangesNothing,
                            MethodsBeforeOpenThrowCacheClosed, MethodsAfterCloseThrowCacheClosed,
                            OpenAfterCloseThrowsCacheClosed, CloseIsIdempotent, TwoOpenHandlesShareOneBacking);

}  // namespace engram::conformance
