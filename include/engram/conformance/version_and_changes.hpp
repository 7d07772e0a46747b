#pragma once
// Battery suite "VersionAndChanges": the version counter and the change feed that let other
// processes follow a store. Rules checked: the counter is 0 on a fresh store; every insert,
// every upsert and every removed row is one change with its own version, so the counter
// moves by exactly one per change and equals the latest change's version; update_access,
// touches, quotas, meta and deletes that remove nothing leave it alone; changes_since is
// ascending, honours its limit, names the id and kind of each change, returns nullopt when
// asked about a version ahead of the counter, and is readable from another handle and after
// a reopen.
// Thread safety: test code, single-threaded.

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class VersionAndChanges : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(VersionAndChanges);

TYPED_TEST_P(VersionAndChanges, InsertsAndUpsertsBumpByOne) {
  auto s = this->open_store();
  EXPECT_EQ(s.read_version_counter(), 0u);
  this->put(s, "ns", "a");
  EXPECT_EQ(s.read_version_counter(), 1u);
  this->put(s, "ns", "b");
  EXPECT_EQ(s.read_version_counter(), 2u);
  this->put(s, "ns", "a", 50);  // upsert
  EXPECT_EQ(s.read_version_counter(), 3u) << "an upsert is a change";
  this->put(s, "ns", "a", 50);  // identical upsert
  EXPECT_EQ(s.read_version_counter(), 4u) << "every insert call is a change, even with identical fields";
}

TYPED_TEST_P(VersionAndChanges, SuccessfulDeletesBumpOncePerRow) {
  auto s = this->open_store();
  std::vector<EntryId> ids;
  for (int i = 0; i < 10; ++i) {
    auto e = detail::make_entry(i < 3 ? "clear" : "ns", detail::numbered("k", i), 0);
    if (i >= 3 && i < 5) e.ttl = Millis(10);
    ids.push_back(s.insert(e));
  }
  std::uint64_t v = s.read_version_counter();
  ASSERT_EQ(v, 10u);
  EXPECT_TRUE(s.delete_by_id(ids[9]));
  EXPECT_EQ(s.read_version_counter(), v += 1) << "delete_by_id";
  EXPECT_EQ(s.delete_expired(detail::at(10)), 2u);
  EXPECT_EQ(s.read_version_counter(), v += 2) << "delete_expired: one change per removed row";
  EXPECT_EQ(s.clear_namespace("clear"), 3u);
  EXPECT_EQ(s.read_version_counter(), v += 3) << "clear_namespace: one change per removed row";
  const std::vector<EntryId> many = {ids[5], ids[6], ids[9], ids[5]};
  EXPECT_EQ(s.delete_many(many), 2u);
  EXPECT_EQ(s.read_version_counter(), v += 2) << "delete_many: one change per removed row";
}

TYPED_TEST_P(VersionAndChanges, NonRowWritesAndFailedDeletesDoNotBump) {
  auto s = this->open_store();
  const EntryId id = this->put(s, "ns", "a");
  auto forever = detail::make_entry("ns", "forever");
  s.insert(forever);
  const std::uint64_t v = s.read_version_counter();
  s.update_access(id, detail::at(100));
  s.update_access(id + 1000, detail::at(100));
  s.set_namespace_quota("ns", 5);
  s.write_meta("k", "v");
  EXPECT_FALSE(s.delete_by_id(id + 1000));
  EXPECT_EQ(s.delete_expired(detail::at(1'000'000)), 0u);
  EXPECT_EQ(s.clear_namespace("nothing-here"), 0u);
  const EntryId missing[] = {id + 1000, id + 2000};
  EXPECT_EQ(s.delete_many(missing), 0u);
  if constexpr (TouchManyStore<typename TypeParam::StoreType>) {
    const std::vector<Touch> touches = {{id, detail::at(200), 3}, {id + 1000, detail::at(200), 1}};
    s.touch_many(touches);
  }
  (void)s.count();
  (void)s.iter_lru_ids(5);
  EXPECT_EQ(s.read_version_counter(), v);
  EXPECT_EQ(detail::all_changes(s).size(), v) << "no change records for non-row writes";
}

TYPED_TEST_P(VersionAndChanges, FeedRecordsEveryChangeInOrder) {
  auto s = this->open_store();
  const EntryId a = this->put(s, "ns", "a");
  const EntryId b = this->put(s, "ns", "b");
  EXPECT_EQ(this->put(s, "ns", "a", 9), a);
  EXPECT_TRUE(s.delete_by_id(b));
  const EntryId ids[] = {a};
  EXPECT_EQ(s.delete_many(ids), 1u);
  const EntryId c = this->put(s, "other", "c");
  const std::vector<Change> expected = {
      {1, a, ChangeKind::kUpsert}, {2, b, ChangeKind::kUpsert}, {3, a, ChangeKind::kUpsert},
      {4, b, ChangeKind::kDelete}, {5, a, ChangeKind::kDelete}, {6, c, ChangeKind::kUpsert},
  };
  const auto got = detail::all_changes(s);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i], expected[i]) << "change " << i << ": got version " << got[i].version << " id " << got[i].id << " "
                                   << detail::kind_name(got[i].kind);
  EXPECT_EQ(s.read_version_counter(), got.back().version) << "the counter equals the latest change's version";
}

TYPED_TEST_P(VersionAndChanges, BulkDeletesListEveryRemovedRow) {
  auto s = this->open_store();
  std::set<EntryId> cleared;
  for (int i = 0; i < 4; ++i) cleared.insert(this->put(s, "gone", detail::numbered("k", i)));
  this->put(s, "kept", "k");
  const std::uint64_t before = s.read_version_counter();
  EXPECT_EQ(s.clear_namespace("gone"), 4u);
  const auto changes = detail::all_changes(s, before);
  ASSERT_EQ(changes.size(), 4u);
  std::set<EntryId> deleted;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].version, before + i + 1);
    EXPECT_EQ(changes[i].kind, ChangeKind::kDelete);
    deleted.insert(changes[i].id);
  }
  EXPECT_EQ(deleted, cleared);
}

TYPED_TEST_P(VersionAndChanges, ChangesSinceHonoursVersionAndLimit) {
  auto s = this->open_store();
  for (int i = 0; i < 7; ++i) this->put(s, "ns", detail::numbered("k", i));
  auto first = s.changes_since(0, 3);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[0].version, 1u);
  EXPECT_EQ((*first)[2].version, 3u);
  auto next = s.changes_since(first->back().version, 3);  // resume where the last page ended
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[0].version, 4u);
  auto tail = s.changes_since(6, 100);
  ASSERT_TRUE(tail.has_value());
  ASSERT_EQ(tail->size(), 1u);
  EXPECT_EQ((*tail)[0].version, 7u);
  auto none = s.changes_since(7, 100);
  ASSERT_TRUE(none.has_value()) << "a reader that is up to date gets an empty feed, not nullopt";
  EXPECT_TRUE(none->empty());
  auto zero = s.changes_since(2, 0);
  ASSERT_TRUE(zero.has_value()) << "limit 0 is an empty page, not nullopt";
  EXPECT_TRUE(zero->empty());
}

TYPED_TEST_P(VersionAndChanges, VersionAheadOfCounterIsNullopt) {
  auto s = this->open_store();
  EXPECT_FALSE(s.changes_since(1, 10).has_value()) << "fresh store, reader claims version 1";
  this->put(s, "ns", "a");
  this->put(s, "ns", "b");
  EXPECT_FALSE(s.changes_since(3, 10).has_value());
  EXPECT_FALSE(s.changes_since(std::numeric_limits<std::uint64_t>::max(), 10).has_value());
  EXPECT_TRUE(s.changes_since(2, 10).has_value());
}

TYPED_TEST_P(VersionAndChanges, ChangesAreVisibleFromAnotherHandle) {
  auto writer = this->open_store();
  auto reader = this->open_store();
  const std::uint64_t seen = reader.read_version_counter();
  const EntryId a = this->put(writer, "ns", "a");
  const EntryId b = this->put(writer, "ns", "b");
  EXPECT_TRUE(writer.delete_by_id(a));
  EXPECT_EQ(reader.read_version_counter(), seen + 3);
  const auto changes = detail::all_changes(reader, seen);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0], (Change{seen + 1, a, ChangeKind::kUpsert}));
  EXPECT_EQ(changes[1], (Change{seen + 2, b, ChangeKind::kUpsert}));
  EXPECT_EQ(changes[2], (Change{seen + 3, a, ChangeKind::kDelete}));
  EXPECT_TRUE(reader.get_by_id(b).has_value()) << "a reader re-reads upserts by id";
}

TYPED_TEST_P(VersionAndChanges, CounterAndFeedPersistAcrossReopen) {
  EntryId a = 0, b = 0;
  {
    auto s = this->open_store();
    a = this->put(s, "ns", "a");
    b = this->put(s, "ns", "b");
    EXPECT_TRUE(s.delete_by_id(a));
    s.close();
  }
  auto s = this->open_store();
  EXPECT_EQ(s.read_version_counter(), 3u);
  const auto changes = detail::all_changes(s);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[1], (Change{2, b, ChangeKind::kUpsert}));
  EXPECT_EQ(changes[2], (Change{3, a, ChangeKind::kDelete}));
  this->put(s, "ns", "c");
  EXPECT_EQ(s.read_version_counter(), 4u) << "the counter continues after a reopen";
}

REGISTER_TYPED_TEST_SUITE_P(VersionAndChanges, InsertsAndUpsertsBumpByOne, SuccessfulDeletesBumpOncePerRow,
                            NonRowWritesAndFailedDeletesDoNotBump, FeedRecordsEveryChangeInOrder,
                            BulkDeletesListEveryRemovedRow, ChangesSinceHonoursVersionAndLimit,
                            VersionAheadOfCounterIsNullopt, ChangesAreVisibleFromAnotherHandle,
                            CounterAndFeedPersistAcrossReopen);

}  // namespace engram::conformance
