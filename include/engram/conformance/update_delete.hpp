#pragma once
// Battery suite "UpdateDelete": update_access (count + 1, timestamp stored as given even
// when older, nothing else changes, missing id is a no-op), delete_by_id, delete_expired at
// the exact created_at + ttl == now boundary and per namespace, clear_namespace, delete_many (missing and repeated
// ids), rows deleted by every path staying gone after a reopen, and ids never reused after a delete. Thread safety:
// test code, single-threaded.

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class UpdateDelete : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(UpdateDelete);

TYPED_TEST_P(UpdateDelete, UpdateAccessCountsAndStamps) {
  auto s = this->open_store();
  auto e = detail::make_entry("ns", "k", 0);
  e.ttl = Millis(10'000);
  e.id = s.insert(e);
  s.update_access(e.id, detail::at(250));
  e.access_count = 1;
  e.last_accessed_at = detail::at(250);
  EXPECT_TRUE(detail::same_entry(s.get_by_id(e.id), e)) << "only last_accessed_at and access_count change";
  s.update_access(e.id, detail::at(900));
  e.access_count = 2;
  e.last_accessed_at = detail::at(900);
  EXPECT_TRUE(detail::same_entry(s.get_by_id(e.id), e));
  EXPECT_TRUE(detail::same_entry(s.get_by_hash("ns", e.query_hash), e));
}

// Contract row M6: update_access stores `now` as given, even when it is older than the
// stored last_accessed_at (touch_many is the one that keeps the maximum), and the LRU order
// follows the stored value.
TYPED_TEST_P(UpdateDelete, UpdateAccessStoresOlderNowAsGiven) {
  auto s = this->open_store();
  auto e = detail::make_entry("ns", "k", 500);
  e.id = s.insert(e);
  const EntryId other = this->put(s, "ns", "other", 300);
  s.update_access(e.id, detail::at(900));
  s.update_access(e.id, detail::at(250));  // older than both the previous access and created_at
  e.access_count = 2;
  e.last_accessed_at = detail::at(250);
  EXPECT_TRUE(detail::same_entry(s.get_by_id(e.id), e)) << "the older `now` is stored as given, not max()";
  EXPECT_EQ(s.iter_lru_ids(2), (std::vector<EntryId>{e.id, other})) << "LRU order uses the stored, older time";
}

TYPED_TEST_P(UpdateDelete, UpdateAccessOnMissingIdIsNoOp) {
  auto s = this->open_store();
  auto e = detail::make_entry("ns", "k");
  e.id = s.insert(e);
  const auto version = s.read_version_counter();
  EXPECT_NO_THROW(s.update_access(e.id + 1000, detail::at(5)));
  EXPECT_NO_THROW(s.update_access(0, detail::at(5)));
  EXPECT_TRUE(s.delete_by_id(e.id));
  EXPECT_NO_THROW(s.update_access(e.id, detail::at(5))) << "a deleted id is a no-op too";
  EXPECT_FALSE(s.get_by_id(e.id).has_value()) << "update_access must not resurrect a row";
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.read_version_counter(), version + 1);
}

TYPED_TEST_P(UpdateDelete, DeleteByIdRemovesOnce) {
  auto s = this->open_store();
  auto e = detail::make_entry("ns", "k");
  e.id = s.insert(e);
  const EntryId keep = this->put(s, "ns", "keep");
  EXPECT_TRUE(s.delete_by_id(e.id));
  EXPECT_FALSE(s.get_by_id(e.id).has_value());
  EXPECT_FALSE(s.get_by_hash("ns", e.query_hash).has_value());
  EXPECT_EQ(s.count("ns"), 1u);
  EXPECT_FALSE(s.delete_by_id(e.id)) << "second delete of the same id";
  EXPECT_FALSE(s.delete_by_id(0));
  EXPECT_FALSE(s.delete_by_id(-3));
  EXPECT_FALSE(s.delete_by_id(keep + 1000));
  EXPECT_TRUE(s.get_by_id(keep).has_value());
}

TYPED_TEST_P(UpdateDelete, DeleteExpiredBoundaryIsInclusive) {
  auto s = this->open_store();
  auto e = detail::make_entry("ns", "ttl", 1000);
  e.ttl = Millis(500);
  e.id = s.insert(e);
  auto forever = detail::make_entry("ns", "forever", 0);
  forever.id = s.insert(forever);
  EXPECT_EQ(s.delete_expired(detail::at(1499)), 0u) << "1 ms before created_at + ttl: not expired";
  EXPECT_TRUE(s.get_by_id(e.id).has_value());
  EXPECT_EQ(s.delete_expired(detail::at(1500)), 1u) << "at created_at + ttl exactly: expired";
  EXPECT_FALSE(s.get_by_id(e.id).has_value());
  EXPECT_EQ(s.delete_expired(detail::at(1'000'000'000)), 0u) << "no ttl never expires";
  EXPECT_TRUE(s.get_by_id(forever.id).has_value());
}

TYPED_TEST_P(UpdateDelete, DeleteExpiredUsesCreatedAtNotLastAccess) {
  auto s = this->open_store();
  auto e = detail::make_entry("ns", "k", 0);
  e.ttl = Millis(100);
  e.id = s.insert(e);
  s.update_access(e.id, detail::at(90));  // a hit does not extend the lifetime
  auto zero = detail::make_entry("ns", "zero", 50);
  zero.ttl = Millis(0);
  zero.id = s.insert(zero);
  EXPECT_EQ(s.delete_expired(detail::at(49)), 0u);
  EXPECT_EQ(s.delete_expired(detail::at(50)), 1u) << "ttl 0 expires at its created_at";
  EXPECT_EQ(s.delete_expired(detail::at(100)), 1u);
  EXPECT_EQ(s.count(), 0u);
}

TYPED_TEST_P(UpdateDelete, DeleteExpiredScopedToNamespace) {
  auto s = this->open_store();
  std::vector<EntryId> a_ids, b_ids;
  for (int i = 0; i < 3; ++i) {
    auto a = detail::make_entry("a", detail::numbered("k", i), 0);
    a.ttl = Millis(10);
    a_ids.push_back(s.insert(a));
    auto b = detail::make_entry("b", detail::numbered("k", i), 0);
    b.ttl = Millis(10);
    b_ids.push_back(s.insert(b));
  }
  auto fresh = detail::make_entry("a", "fresh", 0);
  fresh.ttl = Millis(1'000'000);
  const EntryId fresh_id = s.insert(fresh);
  EXPECT_EQ(s.delete_expired(detail::at(10), std::string_view("a")), 3u);
  EXPECT_EQ(s.count("a"), 1u);
  EXPECT_TRUE(s.get_by_id(fresh_id).has_value());
  EXPECT_EQ(s.count("b"), 3u) << "an ns-scoped delete_expired must not touch other namespaces";
  EXPECT_EQ(s.delete_expired(detail::at(10), std::string_view("missing")), 0u);
  EXPECT_EQ(s.delete_expired(detail::at(10)), 3u);
  EXPECT_EQ(s.count(), 1u);
}

TYPED_TEST_P(UpdateDelete, ClearNamespaceTouchesNothingElse) {
  auto s = this->open_store();
  for (int i = 0; i < 4; ++i) this->put(s, "gone", detail::numbered("k", i));
  auto keep = detail::make_entry("kept", "k", 3);
  keep.id = s.insert(keep);
  s.update_access(keep.id, detail::at(77));
  keep.access_count = 1;
  keep.last_accessed_at = detail::at(77);
  s.set_namespace_quota("gone", 10);
  s.set_namespace_quota("kept", 20);
  s.write_meta("m", "v");
  EXPECT_EQ(s.clear_namespace("gone"), 4u);
  EXPECT_EQ(s.count("gone"), 0u);
  EXPECT_TRUE(detail::same_entry(s.get_by_id(keep.id), keep));
  EXPECT_EQ(s.get_namespace_quota("gone"), std::optional<std::size_t>(10)) << "a quota outlives clear_namespace";
  EXPECT_EQ(s.get_namespace_quota("kept"), std::optional<std::size_t>(20));
  EXPECT_EQ(s.read_meta("m"), std::optional<std::string>("v"));
  EXPECT_EQ(s.clear_namespace("gone"), 0u);
  EXPECT_EQ(s.clear_namespace("never-existed"), 0u);
}

TYPED_TEST_P(UpdateDelete, DeleteManyCountsOnlyRemovedRows) {
  auto s = this->open_store();
  const EntryId a = this->put(s, "ns", "a");
  const EntryId b = this->put(s, "other", "b");
  const EntryId c = this->put(s, "ns", "c");
  const EntryId gone = this->put(s, "ns", "gone");
  EXPECT_TRUE(s.delete_by_id(gone));
  const std::vector<EntryId> ids = {a, gone, b, a, 0, c + 1000, -1};
  EXPECT_EQ(s.delete_many(ids), 2u) << "missing, repeated and invalid ids are not counted";
  EXPECT_FALSE(s.get_by_id(a).has_value());
  EXPECT_FALSE(s.get_by_id(b).has_value());
  EXPECT_TRUE(s.get_by_id(c).has_value());
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(s.delete_many(std::span<const EntryId>{}), 0u);
  EXPECT_EQ(s.delete_many(ids), 0u);
}

TYPED_TEST_P(UpdateDelete, IdsAreNeverReused) {
  std::set<EntryId> allocated;
  EntryId highest = 0;
  {
    auto s = this->open_store();
    const EntryId a = this->put(s, "ns", "a");
    const EntryId b = this->put(s, "ns", "b");
    const EntryId c = this->put(s, "ns", "c");
    allocated = {a, b, c};
    highest = std::max({a, b, c});
    EXPECT_TRUE(s.delete_by_id(c));
    EXPECT_TRUE(s.delete_by_id(b));
    const EntryId d = this->put(s, "ns", "d");
    EXPECT_GT(d, highest) << "deleting the newest rows must not let their ids come back";
    EXPECT_TRUE(s.delete_by_id(a));
    const EntryId a2 = this->put(s, "ns", "a");  // same (ns, hash) as a deleted row
    EXPECT_FALSE(allocated.contains(a2)) << "re-inserting a deleted key gets a new id";
    EXPECT_GT(a2, d);
    allocated.insert({d, a2});
    highest = a2;
    EXPECT_EQ(s.clear_namespace("ns"), 2u);
    s.close();
  }
  auto s = this->open_store();
  const EntryId e = this->put(s, "ns", "e");
  EXPECT_GT(e, highest) << "ids keep increasing across a reopen of an emptied store";
}

// Rows removed by each delete path stay gone for a new handle after a reopen: no lookup,
// count, namespace list or iteration brings them back, and their delete records persist.
TYPED_TEST_P(UpdateDelete, DeletedRowsStayGoneAfterReopen) {
  std::vector<StoredEntry> deleted;
  EntryId kept = 0;
  std::uint64_t counter = 0;
  {
    auto s = this->open_store();
    kept = this->put(s, "keep", "k");
    auto by_id = detail::make_entry("ns", "by-id");
    by_id.id = s.insert(by_id);
    auto expiring = detail::make_entry("ns", "expiring", 0);
    expiring.ttl = Millis(5);
    expiring.id = s.insert(expiring);
    auto cleared = detail::make_entry("cleared", "c");
    cleared.id = s.insert(cleared);
    auto many = detail::make_entry("ns", "many");
    many.id = s.insert(many);
    EXPECT_TRUE(s.delete_by_id(by_id.id));
    EXPECT_EQ(s.delete_expired(detail::at(5)), 1u);
    EXPECT_EQ(s.clear_namespace("cleared"), 1u);
    const EntryId ids[] = {many.id};
    EXPECT_EQ(s.delete_many(ids), 1u);
    deleted = {by_id, expiring, cleared, many};
    counter = s.read_version_counter();
    s.close();
  }
  auto s = this->open_store();
  for (const auto& e : deleted) {
    EXPECT_FALSE(s.get_by_id(e.id).has_value()) << "row " << e.id << " came back after a reopen";
    EXPECT_FALSE(s.get_by_hash(e.ns, e.query_hash).has_value()) << "row " << e.id << " came back after a reopen";
  }
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(s.count("cleared"), 0u);
  EXPECT_EQ(s.list_namespaces(), std::vector<std::string>{"keep"});
  EXPECT_EQ(detail::all_ids(s), std::vector<EntryId>{kept});
  EXPECT_EQ(s.iter_lru_ids(10), std::vector<EntryId>{kept});
  EXPECT_EQ(s.read_version_counter(), counter);
  const auto tail = detail::all_changes(s, counter - 4);
  ASSERT_EQ(tail.size(), 4u);
  for (std::size_t i = 0; i < tail.size(); ++i) {
    EXPECT_EQ(tail[i].kind, ChangeKind::kDelete);
    EXPECT_EQ(tail[i].id, deleted[i].id);
  }
}

REGISTER_TYPED_TEST_SUITE_P(UpdateDelete, UpdateAccessCountsAndStamps, UpdateAccessStoresOlderNowAsGiven,
                            UpdateAccessOnMissingIdIsNoOp, DeleteByIdRemovesOnce, DeletedRowsStayGoneAfterReopen,
                            DeleteExpiredBoundaryIsInclusive, DeleteExpiredUsesCreatedAtNotLastAccess,
                            DeleteExpiredScopedToNamespace, ClearNamespaceTouchesNothingElse,
                            DeleteManyCountsOnlyRemovedRows, IdsAreNeverReused);

}  // namespace engram::conformance
