// SqliteStore across processes: concurrent writers, a lock held past the busy timeout, crash
// safety under SIGKILL, and snapshots and reads while another process writes. Real files,
// real processes: every child opens its own handle after fork() and leaves with _exit().

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "engram/errors.hpp"
#include "sqlite_test_util.hpp"
#include "temp_dir.hpp"

namespace engram {
namespace {

using sqlite_test::at;
using sqlite_test::kDim;
using sqlite_test::kFingerprint;
using sqlite_test::make_entry;
using sqlite_test::open_store;
using sqlite_test::Pipe;
using sqlite_test::RawDb;
using sqlite_test::spawn;
using sqlite_test::wait_child;
using testing::TempDir;

// Creates the schema once, so that children race on data, not on the first open.
void init_file(const std::filesystem::path& path) { open_store(path).close(); }

std::string batch_metadata(std::int64_t batch) { return "{\"batch\":" + std::to_string(batch) + "}"; }

std::int64_t batch_of(const StoredEntry& e) {
  const auto pos = e.metadata.find(':');
  return std::stoll(e.metadata.substr(pos + 1));
}

TEST(SqliteProcesses, ConcurrentWritersGetUniqueIdsAndExactCounts) {
  TempDir dir;
  const auto path = dir / "shared.db";
  init_file(path);
  constexpr int kChildren = 3;
  constexpr int kOwn = 300;    // distinct keys per child
  constexpr int kShared = 20;  // keys every child upserts
  std::vector<pid_t> pids;
  pids.reserve(kChildren);
  for (int c = 0; c < kChildren; ++c) {
    pids.push_back(spawn([&, c] {
      SqliteOptions options;
      options.busy_timeout = Millis(20000);
      auto s = open_store(path, options);
      std::vector<StoredEntry> batch;
      for (int i = 0; i < kOwn; ++i) {
        auto e = make_entry("child" + std::to_string(c), std::to_string(i));
        if (i % 3 == 0) {
          batch.push_back(e);
          if (batch.size() == 10) {
            s.insert_many(batch);
            batch.clear();
          }
        } else {
          s.insert(e);
        }
        if (i % 15 == 0) s.insert(make_entry("shared", std::to_string((i / 15) % kShared)));
      }
      if (!batch.empty()) s.insert_many(batch);
    }));
  }
  for (pid_t pid : pids) EXPECT_EQ(wait_child(pid), 0);

  auto s = open_store(path);
  EXPECT_EQ(s.count(), static_cast<std::size_t>(kChildren * kOwn + kShared));
  for (int c = 0; c < kChildren; ++c) EXPECT_EQ(s.count("child" + std::to_string(c)), static_cast<std::size_t>(kOwn));
  EXPECT_EQ(s.count("shared"), static_cast<std::size_t>(kShared));
  std::set<EntryId> ids;
  std::set<std::pair<std::string, std::string>> keys;
  s.iter_all([&](const StoredEntry& e) {
    EXPECT_TRUE(ids.insert(e.id).second) << "duplicate id " << e.id;
    EXPECT_TRUE(keys.insert({e.ns, e.query}).second) << "duplicate key " << e.query;
    return true;
  });
  EXPECT_EQ(ids.size(), s.count());
  // Every insert call is one change; the counter is the last change's version.
  const std::uint64_t inserts = static_cast<std::uint64_t>(kChildren) * (kOwn + kOwn / 15);
  EXPECT_EQ(s.read_version_counter(), inserts);
  auto feed = s.changes_since(0, 1'000'000);
  ASSERT_TRUE(feed.has_value());
  ASSERT_EQ(feed->size(), inserts);
  for (std::size_t i = 0; i < feed->size(); ++i) {
    EXPECT_EQ((*feed)[i].version, i + 1);
    EXPECT_TRUE(ids.count((*feed)[i].id)) << "change for an unknown id";
  }
  EXPECT_TRUE(s.integrity_check());
}

TEST(SqliteProcesses, LockHeldPastTimeoutThrowsStoreUnavailable) {
  TempDir dir;
  const auto path = dir / "busy.db";
  init_file(path);
  SqliteOptions options;
  options.busy_timeout = Millis(150);
  auto s = open_store(path, options);
  const EntryId id = s.insert(make_entry("ns", "before"));

  Pipe ready;
  Pipe hold;  // the child holds its write transaction until this pipe closes
  pid_t pid = spawn([&] {
    ready.close_read();
    hold.close_write();
    RawDb raw(path);
    raw.exec("BEGIN IMMEDIATE");
    raw.exec("INSERT INTO engram_meta(key, value) VALUES ('held', 'uncommitted')");
    ready.send(1);
    std::int64_t ignored = 0;
    hold.receive(ignored);  // blocks until the parent closes its end (or kills us)
    raw.exec("ROLLBACK");
  });
  ready.close_write();
  hold.close_read();
  std::int64_t signal = 0;
  ASSERT_TRUE(ready.receive(signal));

  const auto start = std::chrono::steady_clock::now();
  try {
    s.insert(make_entry("ns", "blocked"));
    ADD_FAILURE() << "insert succeeded while another process held the write lock";
  } catch (const StoreUnavailable& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path.string()), std::string::npos) << m;
    EXPECT_NE(m.find("busy_timeout"), std::string::npos) << m;
    EXPECT_NE(m.find("Remediation:"), std::string::npos) << m;
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100)) << "it waited for the lock";
  EXPECT_THROW(s.delete_by_id(id), StoreUnavailable);
  EXPECT_THROW(s.write_meta("k", "v"), StoreUnavailable);
  // Readers are not blocked by a writer (WAL) and never see its uncommitted row.
  EXPECT_TRUE(s.get_by_id(id).has_value());
  EXPECT_EQ(s.count(), 1u);
  EXPECT_FALSE(s.read_meta("held").has_value());
  EXPECT_EQ(s.read_version_counter(), 1u);
  EXPECT_FALSE(s.get_by_hash("ns", make_entry("ns", "blocked").query_hash).has_value());

  ::kill(pid, SIGKILL);  // a writer that dies releases its lock; its transaction is gone
  EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
  EXPECT_NO_THROW(s.insert(make_entry("ns", "after")));
  EXPECT_EQ(s.count(), 2u);
  EXPECT_FALSE(s.read_meta("held").has_value());
  EXPECT_EQ(s.read_version_counter(), 2u);
  EXPECT_TRUE(s.integrity_check());
}

// A child inserts numbered batches (one insert_many each, every row tagged with its batch).
// Around each insert_many it reports on a pipe "starting batch b" and, after insert_many
// returned (i.e. after COMMIT), "batch b committed". The parent SIGKILLs it at a random
// moment, 20 times over the same file. Afterwards the rows must be exactly whole batches
// 1..n with no gap, where n is the last batch reported committed, or the one after it only if
// that batch had been started (it committed but the child died before reporting): never a
// partial batch, never a reported batch missing, never a batch that was not started.
TEST(SqliteProcesses, SigkillMidBatchNeverLosesOrHalfWritesABatch) {
  TempDir dir;
  const auto path = dir / "crash.db";
  init_file(path);
  constexpr int kRounds = 20;
  constexpr int kBatch = 150;
  std::mt19937 rng(12345);
  std::int64_t committed = 0;  // batches known to be in the file
  int killed_in_flight = 0;    // rounds killed between "starting" and "committed"
  int in_flight_survived = 0;  // ... where the batch turned out committed anyway

  for (int round = 0; round < kRounds; ++round) {
    Pipe reports;
    const std::int64_t first = committed + 1;
    pid_t pid = spawn([&] {
      reports.close_read();
      auto s = open_store(path);
      for (std::int64_t b = first;; ++b) {
        std::vector<StoredEntry> batch;
        batch.reserve(kBatch);
        for (int i = 0; i < kBatch; ++i)
          batch.push_back(make_entry("crash", std::to_string(b) + "/" + std::to_string(i), batch_metadata(b)));
        reports.send(2 * b);  // starting b
        s.insert_many(batch);
        reports.send(2 * b + 1);  // b committed
      }
    });
    reports.close_write();
    const int wait_commits = 1 + static_cast<int>(rng() % 4);
    std::int64_t last_committed = committed;
    std::int64_t last_started = committed;
    std::int64_t v = 0;
    auto note = [&](std::int64_t report) {
      if (report % 2 == 0) last_started = report / 2;
      else last_committed = report / 2;
    };
    for (int done = 0; done < wait_commits && reports.receive(v);) {
      note(v);
      if (v % 2 == 1) ++done;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    ::kill(pid, SIGKILL);
    ASSERT_EQ(wait_child(pid), 128 + SIGKILL) << "the writer must die by SIGKILL, not exit on its own";
    while (reports.receive(v)) note(v);  // reports written before the kill
    ASSERT_GE(last_committed, committed + 1) << "round " << round;
    const bool in_flight = last_started == last_committed + 1;
    ASSERT_TRUE(in_flight || last_started == last_committed) << "round " << round;

    auto s = open_store(path);
    ASSERT_TRUE(s.integrity_check()) << "round " << round;
    std::map<std::int64_t, std::size_t> rows_per_batch;
    s.iter_all([&](const StoredEntry& e) {
      ++rows_per_batch[batch_of(e)];
      return true;
    });
    ASSERT_FALSE(rows_per_batch.empty());
    const std::int64_t present = rows_per_batch.rbegin()->first;
    if (in_flight) {
      ++killed_in_flight;
      EXPECT_TRUE(present == last_committed || present == last_committed + 1)
          << "round " << round << ": batches up to " << present << " present, last committed " << last_committed;
      if (present == last_committed + 1) ++in_flight_survived;
    } else {
      EXPECT_EQ(present, last_committed) << "round " << round << ": killed between batches";
    }
    EXPECT_EQ(rows_per_batch.size(), static_cast<std::size_t>(present)) << "a gap in the batches";
    for (const auto& [batch, rows] : rows_per_batch) {
      EXPECT_EQ(rows, static_cast<std::size_t>(kBatch)) << "batch " << batch << " is partial";
    }
    EXPECT_EQ(s.count(), static_cast<std::size_t>(present * kBatch));
    EXPECT_EQ(s.read_version_counter(), static_cast<std::uint64_t>(present * kBatch))
        << "counter and rows committed together";
    auto feed = s.changes_since(0, 1'000'000);
    ASSERT_TRUE(feed.has_value());
    EXPECT_EQ(feed->size(), static_cast<std::size_t>(present * kBatch)) << "one change per committed row";
    committed = present;
    if (::testing::Test::HasFailure()) break;
  }
  // How often the kill landed inside insert_many (rolled back or not) is reported, not
  // asserted: it depends on timing. In practice most rounds are.
  RecordProperty("rounds_killed_in_flight", killed_in_flight);
  RecordProperty("in_flight_batches_committed", in_flight_survived);
  RecordProperty("batches_committed", static_cast<int>(committed));
  std::printf("crash test: %d of %d kills landed inside insert_many, %d of those had committed\n", killed_in_flight,
              kRounds, in_flight_survived);
}

TEST(SqliteProcesses, SnapshotsAndReadsWhileAnotherProcessWrites) {
  TempDir dir;
  const auto path = dir / "live.db";
  init_file(path);
  constexpr int kBatch = 50;
  constexpr int kBatches = 400;
  Pipe started;
  pid_t pid = spawn([&] {
    started.close_read();
    auto s = open_store(path);
    for (int b = 1; b <= kBatches; ++b) {
      std::vector<StoredEntry> batch;
      batch.reserve(kBatch);
      for (int i = 0; i < kBatch; ++i)
        batch.push_back(make_entry("w", std::to_string(b) + "/" + std::to_string(i), batch_metadata(b)));
      s.insert_many(batch);
      if (b == 1) started.send(1);
    }
  });
  started.close_write();
  std::int64_t v = 0;
  ASSERT_TRUE(started.receive(v));

  auto reader = open_store(path);
  int snapshots = 0;
  std::set<std::size_t> seen_counts;
  for (int i = 0; i < 8; ++i) {
    // Reads see whole transactions only.
    const auto n = reader.count();
    EXPECT_EQ(n % kBatch, 0u) << "a reader saw part of a batch";
    seen_counts.insert(n);
    const auto snap = dir / ("snap-" + std::to_string(i) + ".db");
    reader.snapshot_to(snap);
    ++snapshots;
    auto copy = open_store(snap);
    EXPECT_TRUE(copy.integrity_check());
    const auto rows = copy.count();
    EXPECT_EQ(rows % kBatch, 0u) << "a snapshot holds part of a batch";
    EXPECT_EQ(copy.read_version_counter(), rows) << "a snapshot's counter matches its rows";
    auto feed = copy.changes_since(0, 1'000'000);
    ASSERT_TRUE(feed.has_value());
    EXPECT_EQ(feed->size(), rows);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(wait_child(pid), 0);
  EXPECT_EQ(reader.count(), static_cast<std::size_t>(kBatch * kBatches));
  EXPECT_EQ(snapshots, 8);
  RecordProperty("distinct_counts_seen", static_cast<int>(seen_counts.size()));
}

// LINEAGE.md L2/L3 across processes: another process has the destination open (WAL, its own
// connection and version cache) while restore_from replaces the content. Afterwards it must
// see a counter above the one it saw, get nullopt for its old position (so it rebuilds), and
// receive a fresh id for its next insert.
TEST(SqliteProcesses, RestoreUnderAnAttachedProcessMovesItsLineageForward) {
  TempDir dir;
  const auto live_path = dir / "live.db";
  {
    auto src = open_store(dir / "src.db");
    src.insert(make_entry("snap", "a"));
    src.insert(make_entry("snap", "b"));
    src.snapshot_to(dir / "snap.db");
  }
  EntryId highest = 0;
  {
    auto live = open_store(live_path);
    for (int i = 0; i < 6; ++i) highest = live.insert(make_entry("old", std::to_string(i)));
    ASSERT_TRUE(live.delete_by_id(highest));
  }
  Pipe up, down;
  const pid_t pid = spawn([&] {
    up.close_read();
    down.close_write();
    auto s = open_store(live_path);
    const auto before = s.read_version_counter();
    up.send(static_cast<std::int64_t>(before));
    std::int64_t go = 0;
    if (!down.receive(go)) throw std::runtime_error("parent went away");
    up.send(static_cast<std::int64_t>(s.read_version_counter()));
    up.send(s.changes_since(before - 1, 10).has_value() ? 1 : 0);
    up.send(s.insert(make_entry("new", "child")));
    up.send(static_cast<std::int64_t>(s.count()));
  });
  up.close_write();
  down.close_read();
  std::int64_t before = 0;
  ASSERT_TRUE(up.receive(before));
  EXPECT_EQ(before, 7);
  (void)SqliteStore::restore_from(dir / "snap.db", live_path);
  down.send(1);
  std::int64_t after = 0, replayable = -1, id = 0, count = 0;
  ASSERT_TRUE(up.receive(after));
  ASSERT_TRUE(up.receive(replayable));
  ASSERT_TRUE(up.receive(id));
  ASSERT_TRUE(up.receive(count));
  EXPECT_EQ(wait_child(pid), 0);
  EXPECT_GT(after, before) << "the attached process saw the counter go back";
  EXPECT_EQ(replayable, 0) << "the attached process could replay a history that was replaced";
  EXPECT_GT(id, highest) << "the attached process was handed an id allocated before the restore";
  EXPECT_EQ(count, 3);
  auto s = open_store(live_path);
  EXPECT_EQ(s.read_version_counter(), static_cast<std::uint64_t>(after) + 1);
  EXPECT_TRUE(s.integrity_check());
}

TEST(SqliteProcesses, VersionCounterPollSeesOtherProcesses) {
  TempDir dir;
  const auto path = dir / "poll.db";
  auto s = open_store(path);
  EXPECT_EQ(s.read_version_counter(), 0u);
  EXPECT_EQ(s.read_version_counter(), 0u);
  pid_t pid = spawn([&] {
    auto child = open_store(path);
    child.insert(make_entry("ns", "from child"));
    child.insert(make_entry("ns", "from child 2"));
  });
  ASSERT_EQ(wait_child(pid), 0);
  EXPECT_EQ(s.read_version_counter(), 2u);
  auto feed = s.changes_since(0, 10);
  ASSERT_TRUE(feed.has_value());
  ASSERT_EQ(feed->size(), 2u);
  EXPECT_TRUE(s.get_by_id((*feed)[1].id).has_value());
}

TEST(SqliteProcesses, CachedPollNeverMissesAnotherProcessesCommit) {
  // The parent polls as fast as it can (mostly from the cache) while a child commits one row
  // at a time and reports each version it committed. Every reported version must be visible
  // to the next poll, and polls never go backwards.
  TempDir dir;
  const auto path = dir / "race.db";
  auto s = open_store(path);
  constexpr int kWrites = 300;
  Pipe committed;
  pid_t pid = spawn([&] {
    committed.close_read();
    auto child = open_store(path);
    for (int i = 0; i < kWrites; ++i) {
      child.insert(make_entry("race", std::to_string(i)));
      committed.send(i + 1);
    }
  });
  committed.close_write();
  std::uint64_t last = 0;
  std::int64_t reported = 0;
  while (committed.receive(reported)) {
    // The child's commit is complete before it reports: the very next poll must see it.
    const std::uint64_t seen = s.read_version_counter();
    ASSERT_GE(seen, static_cast<std::uint64_t>(reported));
    ASSERT_GE(seen, last);
    last = seen;
    for (int spin = 0; spin < 50; ++spin) {
      const std::uint64_t again = s.read_version_counter();
      ASSERT_GE(again, last);
      last = again;
    }
  }
  ASSERT_EQ(wait_child(pid), 0);
  EXPECT_EQ(s.read_version_counter(), static_cast<std::uint64_t>(kWrites));
  EXPECT_GT(s.poll_stats().version_cached, 0u);
}

}  // namespace
}  // namespace engram
