#pragma once
// Battery suite "Robustness": volume and adversarial sequences: 10k inserts in a row (and the
// last 5,000 changes of the feed), 12,345 rows seen by every count and iteration, a
// delete_many far larger than any SQL parameter limit, a thousand upserts of one key, long
// namespaces, and a seeded random mix of every write checked against a reference model.
// Thread safety: test code, single-threaded.

#include <map>

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class Robustness : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(Robustness);

TYPED_TEST_P(Robustness, TenThousandInserts) {
  auto s = this->open_store();
  constexpr int kRows = 10'000;
  std::vector<EntryId> ids;
  ids.reserve(kRows);
  for (int i = 0; i < kRows; ++i)
    ids.push_back(this->put(s, detail::numbered("ns", i % 4), detail::numbered("k", i), i));
  EXPECT_EQ(s.count(), static_cast<std::size_t>(kRows));
  EXPECT_EQ(s.count("ns3"), static_cast<std::size_t>(kRows / 4));
  EXPECT_EQ(s.read_version_counter(), static_cast<std::uint64_t>(kRows));
  const auto listed = detail::all_ids(s);
  EXPECT_EQ(listed, ids) << "ids unique and ascending in insertion order";
  EXPECT_EQ(std::set<EntryId>(ids.begin(), ids.end()).size(), ids.size());
  EXPECT_EQ(s.iter_lru_ids(3), (std::vector<EntryId>{ids[0], ids[1], ids[2]}));

  const std::vector<EntryId> half(ids.begin(), ids.begin() + kRows / 2);
  EXPECT_EQ(s.delete_many(half), static_cast<std::size_t>(kRows / 2));
  EXPECT_EQ(s.count(), static_cast<std::size_t>(kRows / 2));
  EXPECT_EQ(s.read_version_counter(), static_cast<std::uint64_t>(kRows + kRows / 2));
  // Contract row V11: the retained log reaches back at least kRetained = 5,000 changes (the
  // most any battery test needs). Ask for exactly the last 5,000: every version, in order,
  // each a delete of one of the removed rows, each row once.
  constexpr std::uint64_t kRetained = 5'000;
  const std::uint64_t counter = s.read_version_counter();
  auto rest = s.changes_since(counter - kRetained, std::numeric_limits<std::size_t>::max());
  ASSERT_TRUE(rest.has_value()) << "changes_since(counter - 5000) is nullopt: the retained log must reach back at "
                                   "least 5,000 changes (contract row V11)";
  ASSERT_EQ(rest->size(), kRetained);
  std::set<EntryId> deleted;
  for (std::size_t i = 0; i < rest->size(); ++i) {
    EXPECT_EQ((*rest)[i].version, counter - kRetained + 1 + i);
    EXPECT_EQ((*rest)[i].kind, ChangeKind::kDelete);
    deleted.insert((*rest)[i].id);
  }
  EXPECT_EQ(deleted, std::set<EntryId>(half.begin(), half.end()));
}

// More rows than any page cap we know of (Chroma pages at 10,000): count, count(ns),
// iter_all, iter_since, iter_lru_ids and list_namespaces must see every row, not the first
// page. Loaded with insert_many when the store has it, so that the test stays fast.
TYPED_TEST_P(Robustness, MoreThanTenThousandRowsAreAllVisible) {
  auto s = this->open_store();
  constexpr std::size_t kRows = 12'345;
  std::vector<StoredEntry> batch;
  batch.reserve(kRows);
  for (std::size_t i = 0; i < kRows; ++i)
    batch.push_back(detail::make_entry(detail::numbered("ns", static_cast<long long>(i % 3)),
                                       detail::numbered("k", static_cast<long long>(i)), static_cast<std::int64_t>(i)));
  const auto ids = detail::insert_batch(s, std::span<const StoredEntry>(batch));
  ASSERT_EQ(ids.size(), kRows);
  EXPECT_EQ(s.count(), kRows);
  for (int n = 0; n < 3; ++n)
    EXPECT_EQ(s.count(detail::numbered("ns", n)), kRows / 3 + (static_cast<std::size_t>(n) < kRows % 3 ? 1 : 0));
  EXPECT_EQ(s.list_namespaces(), (std::vector<std::string>{"ns0", "ns1", "ns2"}));
  EXPECT_EQ(detail::all_ids(s), ids) << "iter_all visits every row, ascending id";
  std::vector<EntryId> since;
  s.iter_since(ids[99], [&](const StoredEntry& e) {
    since.push_back(e.id);
    return true;
  });
  EXPECT_EQ(since, std::vector<EntryId>(ids.begin() + 100, ids.end())) << "iter_since visits every later row";
  // last_accessed_at grows with the index, so LRU order is insertion order.
  EXPECT_EQ(s.iter_lru_ids(20'000), ids) << "iter_lru_ids(n > count) returns every row";
  EXPECT_EQ(s.iter_lru_ids(11'000), std::vector<EntryId>(ids.begin(), ids.begin() + 11'000));
  std::vector<EntryId> ns1;
  for (std::size_t i = 1; i < kRows; i += 3) ns1.push_back(ids[i]);
  EXPECT_EQ(s.iter_lru_ids(kRows, "ns1"), ns1);
  EXPECT_EQ(s.read_version_counter(), static_cast<std::uint64_t>(kRows));
}

TYPED_TEST_P(Robustness, DeleteManyWithFortyThousandIds) {
  auto s = this->open_store();
  std::vector<EntryId> present;
  present.reserve(100);
  for (int i = 0; i < 100; ++i) present.push_back(this->put(s, "ns", detail::numbered("k", i)));
  const EntryId keep = this->put(s, "ns", "keep");
  std::vector<EntryId> ids;
  for (EntryId id = keep + 1; ids.size() < 40'000; ++id) ids.push_back(id);  // never allocated
  ids.insert(ids.begin() + 20'000, present.begin(), present.end());
  EXPECT_EQ(s.delete_many(ids), present.size());
  EXPECT_EQ(s.count(), 1u);
  EXPECT_TRUE(s.get_by_id(keep).has_value());
}

TYPED_TEST_P(Robustness, ThousandUpsertsOfOneKey) {
  auto s = this->open_store();
  const EntryId first = this->put(s, "ns", "hot", 0);
  for (int i = 1; i < 1000; ++i) ASSERT_EQ(this->put(s, "ns", "hot", i), first);
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(s.read_version_counter(), 1000u);
  EXPECT_EQ(s.get_by_id(first)->created_at, detail::at(999));
  EXPECT_EQ(s.iter_lru_ids(10), std::vector<EntryId>{first});
}

TYPED_TEST_P(Robustness, LongNamespacesAndKeys) {
  auto s = this->open_store();
  std::string ns(4096, 'n');
  ns[100] = ':';
  ns[2000] = '\0';
  auto e = detail::make_entry(ns, std::string(8192, 'k'));
  e.id = s.insert(e);
  EXPECT_TRUE(detail::same_entry(s.get_by_hash(ns, e.query_hash), e));
  EXPECT_EQ(s.list_namespaces(), std::vector<std::string>{ns});
  EXPECT_EQ(s.count(ns.substr(0, 2000)), 0u);
  EXPECT_EQ(s.clear_namespace(ns), 1u);
}

TYPED_TEST_P(Robustness, RandomOperationsMatchReferenceModel) {
  auto s = this->open_store();
  std::map<EntryId, StoredEntry> model;
  std::uint64_t version = 0;
  std::uint64_t x = 0x2545f4914f6cdd1dULL;
  auto next = [&](std::uint64_t n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x % n;
  };
  const char* namespaces[] = {"", "a", "a:b", "b"};
  auto find_key = [&](const std::string& ns, const QueryHash& h) -> StoredEntry* {
    for (auto& [id, e] : model)
      if (e.ns == ns && e.query_hash == h) return &e;
    return nullptr;
  };
  for (int step = 0; step < 3000; ++step) {
    const std::int64_t now = std::int64_t{step} * 10;
    switch (next(10)) {
      case 0:
      case 1:
      case 2:
      case 3: {  // insert or upsert
        auto e = detail::make_entry(namespaces[next(4)], detail::numbered("k", next(60)), now);
        if (next(3) == 0) e.ttl = Millis(static_cast<std::int64_t>(next(500)));
        e.access_count = static_cast<std::int64_t>(next(5));
        StoredEntry* old = find_key(e.ns, e.query_hash);
        const EntryId id = s.insert(e);
        if (old) {
          ASSERT_EQ(id, old->id) << "step " << step;
        }
        e.id = id;
        model[id] = e;
        ++version;
        break;
      }
      case 4:
      case 5: {  // update_access on a random id (sometimes missing)
        const EntryId id = static_cast<EntryId>(next(model.empty() ? 5 : model.rbegin()->first + 5));
        s.update_access(id, detail::at(now));
        if (auto it = model.find(id); it != model.end()) {
          it->second.last_accessed_at = detail::at(now);
          ++it->second.access_count;
        }
        break;
      }
      case 6: {  // delete_by_id
        const EntryId id = static_cast<EntryId>(next(model.empty() ? 5 : model.rbegin()->first + 5));
        const bool removed = model.erase(id) == 1;
        ASSERT_EQ(s.delete_by_id(id), removed) << "step " << step;
        version += removed ? 1 : 0;
        break;
      }
      case 7: {  // delete_expired, sometimes scoped
        std::optional<std::string_view> ns;
        if (next(2) == 0) ns = namespaces[next(4)];
        std::size_t expected = 0;
        for (auto it = model.begin(); it != model.end();) {
          if ((!ns || it->second.ns == *ns) && it->second.expired_at(detail::at(now))) {
            it = model.erase(it);
            ++expected;
          } else {
            ++it;
          }
        }
        ASSERT_EQ(s.delete_expired(detail::at(now), ns), expected) << "step " << step;
        version += expected;
        break;
      }
      case 8: {  // delete_many of a few ids
        std::vector<EntryId> ids;
        ids.reserve(4);
        for (int i = 0; i < 4; ++i)
          ids.push_back(static_cast<EntryId>(next(model.empty() ? 5 : model.rbegin()->first + 5)));
        std::size_t expected = 0;
        for (EntryId id : ids) expected += model.erase(id);
        ASSERT_EQ(s.delete_many(ids), expected) << "step " << step;
        version += expected;
        break;
      }
      default: {  // rarely, clear a namespace
        if (next(8) != 0) break;
        const std::string ns = namespaces[next(4)];
        std::size_t expected = 0;
        for (auto it = model.begin(); it != model.end();) {
          if (it->second.ns == ns) {
            it = model.erase(it);
            ++expected;
          } else {
            ++it;
          }
        }
        ASSERT_EQ(s.clear_namespace(ns), expected) << "step " << step;
        version += expected;
        break;
      }
    }
    if (step % 500 == 499 || step == 2999) {
      ASSERT_EQ(s.count(), model.size()) << "step " << step;
      ASSERT_EQ(s.read_version_counter(), version) << "step " << step;
      const auto got = detail::all_entries(s);
      ASSERT_EQ(got.size(), model.size());
      auto it = model.begin();
      for (const auto& e : got) EXPECT_TRUE(detail::same_entry(e, (it++)->second)) << "step " << step;
      std::vector<std::pair<Timestamp, EntryId>> lru;
      std::set<std::string> names;
      for (const auto& [id, e] : model) {
        lru.emplace_back(e.last_accessed_at, id);
        names.insert(e.ns);
      }
      std::sort(lru.begin(), lru.end());
      std::vector<EntryId> lru_ids;
      lru_ids.reserve(lru.size());
      for (const auto& p : lru) lru_ids.push_back(p.second);
      EXPECT_EQ(s.iter_lru_ids(model.size() + 1), lru_ids) << "step " << step;
      EXPECT_EQ(s.list_namespaces(), std::vector<std::string>(names.begin(), names.end())) << "step " << step;
      for (const char* ns : namespaces) {
        std::size_t n = 0;
        for (const auto& [id, e] : model) n += e.ns == ns ? 1 : 0;
        EXPECT_EQ(s.count(ns), n) << "ns '" << ns << "' at step " << step;
      }
      EXPECT_TRUE(s.integrity_check());
    }
  }
}

REGISTER_TYPED_TEST_SUITE_P(Robustness, TenThousandInserts, MoreThanTenThousandRowsAreAllVisible,
                            DeleteManyWithFortyThousandIds, ThousandUpsertsOfOneKey, LongNamespacesAndKeys,
                            RandomOperationsMatchReferenceModel);

}  // namespace engram::conformance
