#pragma once
// Battery suite "Lineage": the rules L1-L3 of docs/store-contract.md, which let a reader
// notice that the history it followed was rewritten (a restore into a live location, a
// Redis restart from an older RDB, a failover to a lagging replica).
//
// Why. A reader (SemanticCache) keeps in-memory layers at `local_version` and, when the
// counter moves, applies changes_since(local_version). It remembers the record it applied
// last, (version, id, kind), and before trusting the feed it checks that
// changes_since(local_version - 1) still starts with exactly that record. That check only
// works if the store
//   L1  always retains its latest change record (and never returns a feed with holes),
//   L2  never hands out an id twice at one location, also across restore_from, and
//   L3  after restore_from into a location that held a store, moves the counter past every
//       counter that location ever reported and answers nullopt for every older version.
// Without L2/L3, a restored store re-issues the same versions and ids for different rows,
// the reader's check passes, and the reader serves one question's answer for another.
//
// Restoring into the live location needs Factory::live_location() (see battery.hpp); a
// factory without it gets those tests skipped, loudly (GTEST_SKIP plus a line on stderr).
// Thread safety: test code, single-threaded.

#include <limits>

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class Lineage : public StoreTestBase<F> {
 protected:
  using typename StoreTestBase<F>::S;

  // Skips the running test unless the factory can name its live backing.
  bool can_restore_into_live() const { return LiveLocationFactory<F>; }
  std::string no_live_location_reason() const {
    return detail::loud_skip_reason<F>(
        "the factory has no live_location(), so restore_from into the location its live store uses "
        "(lineage rules L2/L3 of docs/store-contract.md) was not tested. Add "
        "`Location live_location()` returning the Location that make() opens.");
  }
  typename S::Location live_location() {
    if constexpr (LiveLocationFactory<F>) return this->factory_.live_location();
    else throw std::logic_error("engram battery: live_location() called on a factory without it");
  }

  // The reader's check (LINEAGE rule L1): does the store still hold, at the reader's version,
  // exactly the record the reader applied last?
  static bool reader_trusts_feed(const S& s, const Change& applied) {
    auto feed = s.changes_since(applied.version - 1, 16);
    return feed && !feed->empty() && feed->front() == applied;
  }

  // The latest change record as seen through `s`: changes_since(counter - 1) must hold
  // exactly one record, with version == counter.
  static std::optional<Change> latest(const S& s) {
    const std::uint64_t c = s.read_version_counter();
    if (c == 0) return std::nullopt;
    auto feed = s.changes_since(c - 1, 1000);
    if (!feed || feed->size() != 1 || feed->front().version != c) return std::nullopt;
    return feed->front();
  }

  // For every v in [0, counter]: changes_since(v) is nullopt or the gap-free run of versions
  // v+1 .. counter. A vector that skips a record it no longer has would let a reader apply
  // half a history.
  static ::testing::AssertionResult feed_has_no_holes(const S& s) {
    const std::uint64_t c = s.read_version_counter();
    for (std::uint64_t v = 0; v <= c; ++v) {
      auto feed = s.changes_since(v, std::numeric_limits<std::size_t>::max());
      if (!feed) continue;
      if (feed->size() != c - v)
        return ::testing::AssertionFailure()
               << "changes_since(" << v << ") returned " << feed->size() << " records while the counter is " << c
               << " (expected " << c - v << " or nullopt)";
      for (std::size_t i = 0; i < feed->size(); ++i)
        if ((*feed)[i].version != v + 1 + i)
          return ::testing::AssertionFailure() << "changes_since(" << v << ")[" << i << "] has version "
                                               << (*feed)[i].version << ", expected " << v + 1 + i;
    }
    return ::testing::AssertionSuccess();
  }
};
TYPED_TEST_SUITE_P(Lineage);

// L1: after every kind of write the latest record is retained, with the right id and kind,
// through this handle, another handle and after a reopen; writes that are not changes do
// not disturb it.
TYPED_TEST_P(Lineage, LatestChangeIsAlwaysRetained) {
  auto s = this->open_store();
  auto other = this->open_store();
  auto expect_latest = [&](const char* step, const std::set<EntryId>& ids, ChangeKind kind) {
    const std::uint64_t c = s.read_version_counter();
    ASSERT_GE(c, 1u) << step;
    for (const auto* h : {&s, &other}) {
      auto feed = h->changes_since(c - 1, 1000);
      ASSERT_TRUE(feed.has_value()) << step << ": changes_since(counter - 1) is nullopt; the latest change record "
                                    << "must always be retained (L1)";
      ASSERT_EQ(feed->size(), 1u) << step;
      EXPECT_EQ(feed->front().version, c) << step;
      EXPECT_TRUE(ids.contains(feed->front().id)) << step << ": latest record names id " << feed->front().id;
      EXPECT_EQ(feed->front().kind, kind) << step << ": latest record is a " << detail::kind_name(feed->front().kind);
    }
  };
  const EntryId a = this->put(s, "ns", "a");
  expect_latest("first insert", {a}, ChangeKind::kUpsert);
  const EntryId b = this->put(s, "ns", "b");
  auto expiring = detail::make_entry("ns", "expiring", 0);
  expiring.ttl = Millis(10);
  const EntryId c = s.insert(expiring);
  std::set<EntryId> gone;
  for (int i = 0; i < 3; ++i) gone.insert(this->put(s, "gone", detail::numbered("g", i)));
  const EntryId e = this->put(s, "ns", "e");
  expect_latest("several inserts", {e}, ChangeKind::kUpsert);
  EXPECT_EQ(this->put(s, "ns", "a", 5), a);
  expect_latest("upsert", {a}, ChangeKind::kUpsert);

  s.update_access(a, detail::at(100));
  s.set_namespace_quota("ns", 3);
  s.write_meta("lineage", "x");
  EXPECT_FALSE(s.delete_by_id(a + 100000));
  expect_latest("writes that are not changes", {a}, ChangeKind::kUpsert);

  EXPECT_TRUE(s.delete_by_id(b));
  expect_latest("delete_by_id", {b}, ChangeKind::kDelete);
  EXPECT_EQ(s.delete_expired(detail::at(10)), 1u);
  expect_latest("delete_expired", {c}, ChangeKind::kDelete);
  EXPECT_EQ(s.clear_namespace("gone"), 3u);
  expect_latest("clear_namespace", gone, ChangeKind::kDelete);
  const EntryId many[] = {e, a, b};
  EXPECT_EQ(s.delete_many(many), 2u);
  expect_latest("delete_many", {e, a}, ChangeKind::kDelete);

  std::vector<StoredEntry> batch = {detail::make_entry("ns", "f"), detail::make_entry("ns", "g"),
                                    detail::make_entry("ns", "f", 9)};
  const auto ids = detail::insert_batch(s, std::span<const StoredEntry>(batch));
  ASSERT_EQ(ids.size(), 3u);
  expect_latest("insert_many (or inserts) ending with an upsert of its first key", {ids[2]}, ChangeKind::kUpsert);
  EXPECT_TRUE(this->feed_has_no_holes(s));

  const std::uint64_t counter = s.read_version_counter();
  s.close();
  other.close();
  auto reopened = this->open_store();
  const auto last = this->latest(reopened);
  ASSERT_TRUE(last.has_value()) << "after a reopen the latest change record must still be retained (L1)";
  EXPECT_EQ(*last, (Change{counter, ids[2], ChangeKind::kUpsert}));
}

// L1 from the reader's side: a reader remembers the record it applied last; as long as the
// history is not rewritten, its check passes after any writes by another handle, and the
// feed it then reads continues exactly where it stopped.
TYPED_TEST_P(Lineage, ReaderCheckPassesWhileHistoryIsUnchanged) {
  auto writer = this->open_store();
  auto reader = this->open_store();
  const EntryId a = this->put(writer, "ns", "a");
  this->put(writer, "ns", "b");
  auto applied = detail::all_changes(reader);
  ASSERT_EQ(applied.size(), 2u);
  Change last = applied.back();

  // Syncs the reader: checks its last record, then applies everything after it.
  auto sync = [&](const char* step) {
    ASSERT_TRUE(this->reader_trusts_feed(reader, last))
        << step << ": changes_since(" << last.version - 1 << ") no longer starts with the record the reader "
        << "applied last (version " << last.version << ", id " << last.id << ", " << detail::kind_name(last.kind)
        << "), although the history was not rewritten";
    const auto feed = detail::all_changes(reader, last.version - 1);
    ASSERT_FALSE(feed.empty());
    for (std::size_t i = 0; i < feed.size(); ++i) EXPECT_EQ(feed[i].version, last.version + i) << step;
    EXPECT_EQ(feed.back().version, reader.read_version_counter()) << step;
    last = feed.back();
  };

  const EntryId c = this->put(writer, "ns", "c");
  EXPECT_TRUE(writer.delete_by_id(a));
  this->put(writer, "ns", "c", 7);
  sync("after inserts, a delete and an upsert");
  EXPECT_EQ(last, (Change{5, c, ChangeKind::kUpsert}));

  writer.update_access(c, detail::at(50));
  writer.write_meta("k", "v");
  writer.set_namespace_quota("ns", 9);
  EXPECT_EQ(reader.read_version_counter(), last.version) << "writes that are not changes do not move the counter";
  sync("after writes that are not changes");

  writer.close();
  auto writer2 = this->open_store();
  EXPECT_TRUE(writer2.delete_by_id(c));
  sync("after a writer reopened and deleted");
  EXPECT_EQ(last, (Change{6, c, ChangeKind::kDelete}));
}

// L2: ids are never reused, whichever way the highest id disappeared, also across a reopen.
TYPED_TEST_P(Lineage, IdsAreNeverReusedAfterDeletingTheHighest) {
  std::set<EntryId> ever;
  EntryId highest = 0;
  auto fresh = [&](EntryId id, const std::string& step) {
    EXPECT_FALSE(ever.contains(id)) << step << ": id " << id << " was allocated before";
    EXPECT_GT(id, highest) << step << ": a new row's id must exceed every id ever allocated here (L2)";
    ever.insert(id);
    highest = std::max(highest, id);
  };
  {
    auto s = this->open_store();
    for (int round = 0; round < 4; ++round) {
      const std::string ns = detail::numbered("round", round);
      EntryId top = 0;
      for (int i = 0; i < 3; ++i) {
        auto entry = detail::make_entry(ns, detail::numbered("k", i), 0);
        if (i == 2) entry.ttl = Millis(1);
        top = s.insert(entry);
        fresh(top, ns + " insert");
      }
      switch (round) {
        case 0:
          EXPECT_TRUE(s.delete_by_id(top));
          break;
        case 1: {
          const EntryId ids[] = {top};
          EXPECT_EQ(s.delete_many(ids), 1u);
          break;
        }
        case 2:
          EXPECT_EQ(s.clear_namespace(ns), 3u);
          break;
        default:
          EXPECT_EQ(s.delete_expired(detail::at(1), ns), 1u);
          break;
      }
      fresh(this->put(s, ns, "k2"), ns + " re-insert of the deleted key");
      fresh(this->put(s, ns, "new"), ns + " insert of a new key");
      EXPECT_TRUE(s.delete_by_id(highest));
    }
    s.close();
  }
  auto s = this->open_store();
  fresh(this->put(s, "after-reopen", "k"), "after a reopen whose highest id was deleted");
}

// L2 across restore_from into the live location: the id sequence continues from the
// larger of the destination's and the snapshot's, so ids handed out after the snapshot
// (and lost with the restore) are never handed out again.
TYPED_TEST_P(Lineage, RestoreIntoLiveLocationNeverReusesIds) {
  using S = typename TypeParam::StoreType;
  if (!this->can_restore_into_live()) GTEST_SKIP() << this->no_live_location_reason();
  detail::ScratchDir dir;
  EntryId highest = 0;
  std::set<EntryId> kept;
  {
    auto s = this->open_store();
    kept = {this->put(s, "ns", "a"), this->put(s, "ns", "b")};
    s.snapshot_to(dir / "s1");
    this->put(s, "ns", "c");
    highest = this->put(s, "ns", "d");
    EXPECT_TRUE(s.delete_by_id(highest)) << "so that the highest id survives only in the id sequence";
    s.close();
  }
  {
    S restored = S::restore_from(dir / "s1", this->live_location());
    restored.open(kFingerprint, kDim);
    EXPECT_EQ(detail::all_ids(restored), std::vector<EntryId>(kept.begin(), kept.end()))
        << "the live location holds the snapshot's rows after the restore";
    const EntryId c2 = this->put(restored, "ns", "c");
    EXPECT_GT(c2, highest) << "an id allocated before the restore was handed out again (L2)";
    const EntryId e = this->put(restored, "ns", "e");
    EXPECT_GT(e, c2);
    highest = std::max(highest, e);
    restored.close();
  }
  // Every handle on the location agrees, and a second restore of the same snapshot still
  // continues above everything allocated so far.
  {
    auto s = this->open_store();
    EXPECT_GT(this->put(s, "ns", "f"), highest);
    highest = detail::all_ids(s).back();
    s.close();
  }
  S again = S::restore_from(dir / "s1", this->live_location());
  again.open(kFingerprint, kDim);
  EXPECT_GT(this->put(again, "ns", "c"), highest) << "after a second restore into the same location (L2)";
}

// L3: restore_from into the live location moves the counter past every counter the
// location reported and makes every older version unreplayable; later writes continue
// with ordinary records.
TYPED_TEST_P(Lineage, RestoreIntoLiveLocationStartsANewHistory) {
  using S = typename TypeParam::StoreType;
  if (!this->can_restore_into_live()) GTEST_SKIP() << this->no_live_location_reason();
  detail::ScratchDir dir;
  std::uint64_t snapshot_counter = 0, old_counter = 0;
  {
    auto s = this->open_store();
    std::vector<EntryId> ids;
    ids.reserve(5);
    for (int i = 0; i < 5; ++i) ids.push_back(this->put(s, "ns", detail::numbered("k", i)));
    EXPECT_TRUE(s.delete_by_id(ids[1]));
    snapshot_counter = s.read_version_counter();
    s.snapshot_to(dir / "snap");
    for (int i = 5; i < 9; ++i) this->put(s, "ns", detail::numbered("k", i));
    EXPECT_TRUE(s.delete_by_id(ids[0]));
    old_counter = s.read_version_counter();
    ASSERT_GT(old_counter, snapshot_counter);
    s.close();
  }
  S restored = S::restore_from(dir / "snap", this->live_location());
  restored.open(kFingerprint, kDim);
  auto second = this->open_store();  // any other handle on the location sees the same
  const std::uint64_t n = restored.read_version_counter();
  EXPECT_GT(n, old_counter) << "after restore_from into a live location the counter must exceed every counter the "
                               "location reported before (L3): snapshot's "
                            << snapshot_counter << ", location's " << old_counter;
  EXPECT_EQ(second.read_version_counter(), n);
  for (const auto* h : {&restored, &second}) {
    std::vector<std::uint64_t> replayable;  // one failure listing every offending version
    for (std::uint64_t v = 0; v < n; ++v)
      if (h->changes_since(v, 100).has_value()) replayable.push_back(v);
    EXPECT_TRUE(replayable.empty())
        << "after the restore changes_since(v) must be nullopt for every v < the new counter " << n
        << " (L3), in particular for the old counter " << old_counter
        << " and old counter - 1, so that every attached reader rebuilds; it returned a "
        << "vector for " << replayable.size() << " versions, the first "
        << (replayable.empty() ? 0 : replayable.front());
    auto up_to_date = h->changes_since(n, 100);
    ASSERT_TRUE(up_to_date.has_value()) << "a reader at the new counter is up to date";
    EXPECT_TRUE(up_to_date->empty());
  }
  EXPECT_EQ(restored.count(), 4u) << "the snapshot's rows";

  const EntryId x = this->put(restored, "ns", "x");
  EXPECT_EQ(restored.read_version_counter(), n + 1) << "writes after the restore continue at N + 1";
  EXPECT_EQ(detail::all_changes(second, n), (std::vector<Change>{{n + 1, x, ChangeKind::kUpsert}}));
  EXPECT_TRUE(second.delete_by_id(x));
  EXPECT_EQ(detail::all_changes(restored, n),
            (std::vector<Change>{{n + 1, x, ChangeKind::kUpsert}, {n + 2, x, ChangeKind::kDelete}}));
  EXPECT_TRUE(restored.integrity_check());
  restored.close();
  second.close();

  // Restoring again, with nothing written in between, still moves the counter forward.
  S again = S::restore_from(dir / "snap", this->live_location());
  again.open(kFingerprint, kDim);
  EXPECT_GT(again.read_version_counter(), n + 2) << "a second restore into the same location (L3)";
  EXPECT_FALSE(again.changes_since(n + 1, 100).has_value());
}

// Restoring into a new location may keep the snapshot's counter (L3), but its feed must not
// miss records and its ids continue above the snapshot's (L2); writes then follow L1.
TYPED_TEST_P(Lineage, RestoreIntoNewLocationKeepsAnHonestFeed) {
  using S = typename TypeParam::StoreType;
  detail::ScratchDir dir;
  auto s = this->open_store();
  EntryId highest = 0;
  for (int i = 0; i < 6; ++i) highest = this->put(s, "ns", detail::numbered("k", i));
  EXPECT_TRUE(s.delete_by_id(highest));
  const std::uint64_t snapshot_counter = s.read_version_counter();
  s.snapshot_to(dir / "snap");
  S restored = S::restore_from(dir / "snap", this->factory_.restore_location());
  restored.open(kFingerprint, kDim);
  const std::uint64_t c = restored.read_version_counter();
  EXPECT_GE(c, snapshot_counter);
  EXPECT_TRUE(this->feed_has_no_holes(restored));
  const EntryId id = this->put(restored, "ns", "new");
  EXPECT_GT(id, highest) << "(L2)";
  EXPECT_EQ(detail::all_changes(restored, c), (std::vector<Change>{{c + 1, id, ChangeKind::kUpsert}}));
}

// The reader scenario of LINEAGE.md, upsert flavour: the reader applied (2, id b, upsert);
// the location is restored to a snapshot taken at version 1 and a writer inserts another
// question. Under the old bug that write is again (2, id b, upsert) and the reader would
// serve b's answer for it; the counter must instead move past 2 and the reader's check
// must fail.
TYPED_TEST_P(Lineage, ReaderRejectsReplayedUpsertAfterRestore) {
  using S = typename TypeParam::StoreType;
  if (!this->can_restore_into_live()) GTEST_SKIP() << this->no_live_location_reason();
  detail::ScratchDir dir;
  auto reader = this->open_store();  // stays open across the restore, like an idle process
  Change applied{};
  {
    auto writer = this->open_store();
    this->put(writer, "faq", "what are your opening hours");
    writer.snapshot_to(dir / "s1");
    const EntryId b = this->put(writer, "faq", "how do I reset my password");
    const auto feed = detail::all_changes(reader);
    ASSERT_FALSE(feed.empty());
    applied = feed.back();
    ASSERT_EQ(applied, (Change{2, b, ChangeKind::kUpsert}));
    writer.close();
  }
  {
    S restored = S::restore_from(dir / "s1", this->live_location());
    restored.open(kFingerprint, kDim);
    this->put(restored, "faq", "what is the shipping time");
    restored.close();
  }
  EXPECT_GT(reader.read_version_counter(), applied.version)
      << "the reader must see the counter move past its version, or it never looks at the feed (L3)";
  EXPECT_FALSE(this->reader_trusts_feed(reader, applied))
      << "after the restore, changes_since(" << applied.version - 1 << ") still starts with the record the reader "
      << "applied (version " << applied.version << ", id " << applied.id << ", upsert) although it now describes "
      << "another row: the reader would serve the wrong answer (L2/L3)";
}

// The same with a delete as the reader's last record: (4, id b, delete) is replayed by
// "insert c, delete b" after restoring a snapshot taken at version 2.
TYPED_TEST_P(Lineage, ReaderRejectsReplayedDeleteAfterRestore) {
  using S = typename TypeParam::StoreType;
  if (!this->can_restore_into_live()) GTEST_SKIP() << this->no_live_location_reason();
  detail::ScratchDir dir;
  auto reader = this->open_store();
  Change applied{};
  EntryId b = 0;
  {
    auto writer = this->open_store();
    this->put(writer, "faq", "a");
    b = this->put(writer, "faq", "b");
    writer.snapshot_to(dir / "s1");
    this->put(writer, "faq", "c");
    EXPECT_TRUE(writer.delete_by_id(b));
    ASSERT_TRUE(this->reader_trusts_feed(reader, Change{4, b, ChangeKind::kDelete}));
    applied = this->latest(reader).value_or(Change{});
    ASSERT_EQ(applied, (Change{4, b, ChangeKind::kDelete}));
    writer.close();
  }
  {
    S restored = S::restore_from(dir / "s1", this->live_location());
    restored.open(kFingerprint, kDim);
    this->put(restored, "faq", "c");
    EXPECT_TRUE(restored.delete_by_id(b));
    restored.close();
  }
  EXPECT_GT(reader.read_version_counter(), applied.version) << "(L3)";
  EXPECT_FALSE(this->reader_trusts_feed(reader, applied))
      << "after the restore, changes_since(" << applied.version - 1 << ") still starts with (" << applied.version
      << ", " << applied.id << ", delete): the reader cannot tell the rewritten history from its own (L3)";
}

REGISTER_TYPED_TEST_SUITE_P(Lineage, LatestChangeIsAlwaysRetained, ReaderCheckPassesWhileHistoryIsUnchanged,
                            IdsAreNeverReusedAfterDeletingTheHighest, RestoreIntoLiveLocationNeverReusesIds,
                            RestoreIntoLiveLocationStartsANewHistory, RestoreIntoNewLocationKeepsAnHonestFeed,
                            ReaderRejectsReplayedUpsertAfterRestore, ReaderRejectsReplayedDeleteAfterRestore);

}  // namespace engram::conformance
