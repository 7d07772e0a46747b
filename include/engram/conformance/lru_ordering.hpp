#pragma once
// Battery suite "LruOrdering": iter_lru_ids (oldest last_accessed_at first, ties by the
// lower id, limit n, namespace filter, reordering by update_access) and the ascending-id
// iteration of iter_all / iter_since with early stop by the visitor.
// Thread safety: test code, single-threaded.

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class LruOrdering : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(LruOrdering);

TYPED_TEST_P(LruOrdering, OldestAccessFirst) {
  auto s = this->open_store();
  // Insertion order deliberately differs from access order.
  const EntryId c = this->put(s, "ns", "c", 300);
  const EntryId a = this->put(s, "ns", "a", 100);
  const EntryId d = this->put(s, "ns", "d", 400);
  const EntryId b = this->put(s, "ns", "b", 200);
  EXPECT_EQ(s.iter_lru_ids(10), (std::vector<EntryId>{a, b, c, d}));
}

TYPED_TEST_P(LruOrdering, TiesBrokenByLowerId) {
  auto s = this->open_store();
  const EntryId x1 = this->put(s, "ns", "x1", 50);
  const EntryId y1 = this->put(s, "ns", "y1", 10);
  const EntryId x2 = this->put(s, "ns", "x2", 50);
  const EntryId x3 = this->put(s, "ns", "x3", 50);
  const EntryId y2 = this->put(s, "ns", "y2", 10);
  EXPECT_EQ(s.iter_lru_ids(10), (std::vector<EntryId>{y1, y2, x1, x2, x3}));
}

TYPED_TEST_P(LruOrdering, LimitN) {
  auto s = this->open_store();
  std::vector<EntryId> ids;
  ids.reserve(6);
  for (int i = 0; i < 6; ++i) ids.push_back(this->put(s, "ns", detail::numbered("k", i), i));
  EXPECT_EQ(s.iter_lru_ids(3), (std::vector<EntryId>{ids[0], ids[1], ids[2]}));
  EXPECT_EQ(s.iter_lru_ids(1), std::vector<EntryId>{ids[0]});
  EXPECT_TRUE(s.iter_lru_ids(0).empty());
  EXPECT_EQ(s.iter_lru_ids(100), ids);
}

TYPED_TEST_P(LruOrdering, NamespaceFilter) {
  auto s = this->open_store();
  const EntryId a1 = this->put(s, "a", "k1", 30);
  const EntryId b1 = this->put(s, "b", "k1", 10);
  const EntryId a2 = this->put(s, "a", "k2", 20);
  const EntryId ab = this->put(s, "a:b", "k1", 5);
  EXPECT_EQ(s.iter_lru_ids(10, "a"), (std::vector<EntryId>{a2, a1}));
  EXPECT_EQ(s.iter_lru_ids(1, "a"), std::vector<EntryId>{a2});
  EXPECT_EQ(s.iter_lru_ids(10, "b"), std::vector<EntryId>{b1});
  EXPECT_TRUE(s.iter_lru_ids(10, "missing").empty());
  EXPECT_EQ(s.iter_lru_ids(10, std::nullopt), (std::vector<EntryId>{ab, b1, a2, a1}));
}

TYPED_TEST_P(LruOrdering, UpdateAccessReorders) {
  auto s = this->open_store();
  const EntryId a = this->put(s, "ns", "a", 0);
  const EntryId b = this->put(s, "ns", "b", 1);
  const EntryId c = this->put(s, "ns", "c", 2);
  s.update_access(a, detail::at(100));
  EXPECT_EQ(s.iter_lru_ids(10), (std::vector<EntryId>{b, c, a}));
  s.update_access(c, detail::at(100));  // tie with a: the lower id comes first
  EXPECT_EQ(s.iter_lru_ids(10), (std::vector<EntryId>{b, std::min(a, c), std::max(a, c)}));
  // An upsert stores the new entry's last_accessed_at.
  s.insert(detail::make_entry("ns", "b", 500));
  EXPECT_EQ(s.iter_lru_ids(1), std::vector<EntryId>{std::min(a, c)});
}

TYPED_TEST_P(LruOrdering, IterAllIsAscendingAndComplete) {
  auto s = this->open_store();
  std::vector<StoredEntry> expected;
  for (int i = 0; i < 25; ++i) {
    auto e = detail::make_entry(detail::numbered("ns", i % 4), detail::numbered("k", i), 25 - i);
    e.id = s.insert(e);
    expected.push_back(e);
  }
  EXPECT_TRUE(s.delete_by_id(expected[7].id));
  expected.erase(expected.begin() + 7);
  const auto got = detail::all_entries(s);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(got[i - 1].id, got[i].id) << "iter_all visits ids in ascending order";
    }
    EXPECT_TRUE(detail::same_entry(got[i], expected[i]));
  }
}

TYPED_TEST_P(LruOrdering, IterAllStopsWhenVisitorReturnsFalse) {
  auto s = this->open_store();
  for (int i = 0; i < 10; ++i) this->put(s, "ns", detail::numbered("k", i));
  const auto ids = detail::all_ids(s);
  std::vector<EntryId> seen;
  s.iter_all([&](const StoredEntry& e) {
    seen.push_back(e.id);
    return seen.size() < 3;
  });
  EXPECT_EQ(seen, (std::vector<EntryId>{ids[0], ids[1], ids[2]}));
}

TYPED_TEST_P(LruOrdering, IterSinceVisitsLaterIdsAscending) {
  auto s = this->open_store();
  for (int i = 0; i < 10; ++i) this->put(s, "ns", detail::numbered("k", i));
  const auto ids = detail::all_ids(s);
  auto since = [&](EntryId last) {
    std::vector<EntryId> out;
    s.iter_since(last, [&](const StoredEntry& e) {
      out.push_back(e.id);
      return true;
    });
    return out;
  };
  EXPECT_EQ(since(0), ids);
  EXPECT_EQ(since(-5), ids);
  EXPECT_EQ(since(ids[4]), std::vector<EntryId>(ids.begin() + 5, ids.end()));
  EXPECT_TRUE(since(ids.back()).empty());
  EXPECT_TRUE(since(std::numeric_limits<EntryId>::max()).empty());
  // A last_id that no longer exists still works as a lower bound.
  EXPECT_TRUE(s.delete_by_id(ids[4]));
  EXPECT_EQ(since(ids[4]), std::vector<EntryId>(ids.begin() + 5, ids.end()));
  EXPECT_EQ(since(ids[3]), std::vector<EntryId>(ids.begin() + 5, ids.end()));
}

TYPED_TEST_P(LruOrdering, IterSinceStopsWhenVisitorReturnsFalse) {
  auto s = this->open_store();
  for (int i = 0; i < 10; ++i) this->put(s, "ns", detail::numbered("k", i));
  const auto ids = detail::all_ids(s);
  std::vector<EntryId> seen;
  s.iter_since(ids[2], [&](const StoredEntry& e) {
    seen.push_back(e.id);
    return false;
  });
  EXPECT_EQ(seen, std::vector<EntryId>{ids[3]});
}

REGISTER_TYPED_TEST_SUITE_P(LruOrdering, OldestAccessFirst, TiesBrokenByLowerId, LimitN, NamespaceFilter,
                            UpdateAccessReorders, IterAllIsAscendingAndComplete, IterAllStopsWhenVisitorReturnsFalse,
                            IterSinceVisitsLaterIdsAscending, IterSinceStopsWhenVisitorReturnsFalse);

}  // namespace engram::conformance
