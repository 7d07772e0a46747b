#pragma once
// Battery suite "Refinements": the optional methods the cache uses when a store has them
// (insert_many, touch_many, iter_index_rows, the maintenance trio). Each test exercises the
// refinement when the store provides it (detected with the refinement concepts of
// store.hpp) and otherwise the fallback the cache uses instead (insert in a loop,
// update_access per hit, iter_all), so every test asserts something for every store.
// Thread safety: test code, single-threaded.

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class Refinements : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(Refinements);

TYPED_TEST_P(Refinements, InsertManyReturnsIdsInOrderWithUpsertRules) {
  auto s = this->open_store();
  const EntryId existing = this->put(s, "ns", "existing");
  std::vector<StoredEntry> batch;
  batch.reserve(7);
  for (int i = 0; i < 5; ++i) batch.push_back(detail::make_entry("ns", detail::numbered("k", i), i));
  batch.push_back(detail::make_entry("ns", "existing", 50));  // upsert of a stored row
  batch.push_back(detail::make_entry("other", "k0", 60));     // same key, other namespace
  const std::uint64_t before = s.read_version_counter();
  const auto ids = detail::insert_batch(s, std::span<const StoredEntry>(batch));
  ASSERT_EQ(ids.size(), batch.size()) << "one id per input entry, in input order";
  EXPECT_EQ(ids[5], existing);
  EXPECT_EQ(std::set<EntryId>(ids.begin(), ids.end()).size(), ids.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].id = ids[i];
    EXPECT_TRUE(detail::same_entry(s.get_by_id(ids[i]), batch[i])) << "entry " << i;
  }
  EXPECT_EQ(s.count(), 7u);
  EXPECT_EQ(s.read_version_counter(), before + batch.size()) << "one change per entry";
  const auto changes = detail::all_changes(s, before);
  ASSERT_EQ(changes.size(), batch.size());
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].kind, ChangeKind::kUpsert);
    EXPECT_EQ(changes[i].id, ids[i]) << "changes follow input order";
  }
}

TYPED_TEST_P(Refinements, InsertManyRepeatedKeyResolvesToLastOccurrence) {
  auto s = this->open_store();
  std::vector<StoredEntry> batch = {detail::make_entry("ns", "dup", 1), detail::make_entry("ns", "x", 2),
                                    detail::make_entry("ns", "dup", 3)};
  batch[2].response = "the last one wins";
  const auto ids = detail::insert_batch(s, std::span<const StoredEntry>(batch));
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], ids[2]);
  EXPECT_EQ(s.count(), 2u);
  batch[2].id = ids[2];
  EXPECT_TRUE(detail::same_entry(s.get_by_hash("ns", batch[2].query_hash), batch[2]));
}

TYPED_TEST_P(Refinements, InsertManyOfTenThousand) {
  auto s = this->open_store();
  std::vector<StoredEntry> batch;
  batch.reserve(10'000);
  for (int i = 0; i < 10'000; ++i)
    batch.push_back(detail::make_entry(detail::numbered("bulk", i % 7), detail::numbered("k", i), i));
  const auto ids = detail::insert_batch(s, std::span<const StoredEntry>(batch));
  ASSERT_EQ(ids.size(), batch.size());
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<EntryId>(ids.begin(), ids.end()).size(), ids.size());
  EXPECT_EQ(s.count(), 10'000u);
  EXPECT_EQ(s.read_version_counter(), 10'000u);
  batch[1234].id = ids[1234];
  EXPECT_TRUE(detail::same_entry(s.get_by_id(ids[1234]), batch[1234]));
}

TYPED_TEST_P(Refinements, TouchManyKeepsLatestAccessAndAddsHits) {
  auto s = this->open_store();
  auto a = detail::make_entry("ns", "a", 100);
  a.id = s.insert(a);
  auto b = detail::make_entry("ns", "b", 100);
  b.id = s.insert(b);
  const std::uint64_t version = s.read_version_counter();
  if constexpr (TouchManyStore<typename TypeParam::StoreType>) {
    const std::vector<Touch> touches = {
        {a.id, detail::at(300), 2},
        {b.id, detail::at(50), 4},          // older than the stored access: count only
        {b.id + 1000, detail::at(400), 1},  // unknown id: skipped
        {a.id, detail::at(200), 1},         // out of order: the later stamp stays
    };
    s.touch_many(touches);
    a.last_accessed_at = detail::at(300);
    a.access_count = 3;
    b.access_count = 4;
  } else {
    s.update_access(a.id, detail::at(300));
    a.last_accessed_at = detail::at(300);
    a.access_count = 1;
  }
  EXPECT_TRUE(detail::same_entry(s.get_by_id(a.id), a));
  EXPECT_TRUE(detail::same_entry(s.get_by_id(b.id), b));
  EXPECT_EQ(s.count(), 2u) << "touching an unknown id must not create a row";
  EXPECT_EQ(s.read_version_counter(), version) << "access write-back is not a change";
  EXPECT_EQ(s.iter_lru_ids(10), (std::vector<EntryId>{b.id, a.id}));
}

TYPED_TEST_P(Refinements, IndexRowsMatchFullRows) {
  auto s = this->open_store();
  for (int i = 0; i < 12; ++i) {
    auto e = detail::make_entry(detail::numbered("ns", i % 3), detail::numbered("k", i), i);
    if (i % 2) e.ttl = Millis(i * 100);
    s.insert(e);
  }
  s.delete_by_id(detail::all_ids(s)[5]);
  const auto full = detail::all_entries(s);
  std::vector<IndexRow> rows;
  if constexpr (IndexRowStore<typename TypeParam::StoreType>) {
    s.iter_index_rows([&](const IndexRow& r) {
      rows.push_back(r);
      return true;
    });
    std::size_t visited = 0;
    s.iter_index_rows([&](const IndexRow&) { return ++visited < 4; });
    EXPECT_EQ(visited, 4u) << "iter_index_rows stops when the visitor returns false";
  } else {
    s.iter_all([&](const StoredEntry& e) {
      rows.push_back(IndexRow{e.id, e.ns, e.query_hash, e.created_at, e.ttl, e.embedding});
      return true;
    });
  }
  ASSERT_EQ(rows.size(), full.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].id, full[i].id) << "ascending id order";
    EXPECT_EQ(rows[i].ns, full[i].ns);
    EXPECT_EQ(rows[i].query_hash, full[i].query_hash);
    EXPECT_EQ(rows[i].created_at, full[i].created_at);
    EXPECT_EQ(rows[i].ttl, full[i].ttl);
    EXPECT_TRUE(detail::same_bits(rows[i].embedding, full[i].embedding));
  }
}

TYPED_TEST_P(Refinements, MaintenanceKeepsData) {
  using S = typename TypeParam::StoreType;
  auto s = this->open_store();
  for (int i = 0; i < 50; ++i) this->put(s, "ns", detail::numbered("k", i));
  for (EntryId id : s.iter_lru_ids(20)) s.delete_by_id(id);
  const auto before = detail::all_entries(s);
  const std::uint64_t version = s.read_version_counter();
  if constexpr (MaintainableStore<S>) {
    const auto kinds = s.maintenance_kinds();
    EXPECT_FALSE(kinds.empty()) << "a maintainable store offers at least one kind";
    for (const auto& kind : kinds) EXPECT_NO_THROW(s.run_maintenance(kind)) << kind;
    EXPECT_NO_THROW((void)s.maintenance_state());
    EXPECT_THROW(s.run_maintenance("no-such-maintenance-kind"), InvalidArgument);
  }
  const auto after = detail::all_entries(s);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(detail::same_entry(after[i], before[i]));
  EXPECT_EQ(s.read_version_counter(), version) << "maintenance is not a change";
  EXPECT_TRUE(s.integrity_check());
}

REGISTER_TYPED_TEST_SUITE_P(Refinements, InsertManyReturnsIdsInOrderWithUpsertRules,
                            InsertManyRepeatedKeyResolvesToLastOccurrence, InsertManyOfTenThousand,
                            TouchManyKeepsLatestAccessAndAddsHits, IndexRowsMatchFullRows, MaintenanceKeepsData);

}  // namespace engram::conformance
