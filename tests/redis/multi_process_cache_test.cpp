// Cross-process synchronisation of real SemanticCaches, over RedisStore and over SqliteStore
// (one file): every cache lives in its own process (engram_cache_worker, fork + exec), driven
// over pipes. One writer and three readers with different sync intervals: each reader must
// see every kind of write — insert, upsert (new response, new embedding), erase,
// clear_namespace, LRU eviction, TTL vacuum — in both the exact and the semantic layer,
// within its sync interval. A reader that falls behind the retained change feed rebuilds and
// ends up identical. Four processes writing at once lose nothing and get unique ids.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.hpp"
#include "temp_dir.hpp"
#include "worker_process.hpp"

namespace engram {
namespace {

using namespace std::chrono_literals;
using testing::Clock;
using testing::get;
using testing::id_of;
using testing::put;
using testing::split;
using testing::Worker;

enum class Backend { kRedis, kSqlite };

class MultiProcessCache : public ::testing::TestWithParam<Backend> {
 protected:
  // Arguments that put a worker on this test's shared backing.
  std::vector<std::string> backing(std::size_t retention = 100000) {
    std::vector<std::string> args;
    if (GetParam() == Backend::kRedis) {
      auto& server = testing::RedisEnvironment::plain();
      args = {"store=redis", "port=" + std::to_string(server.port()), "prefix=" + prefix_};
    } else {
      args = {"store=sqlite", "path=" + (dir_ / "cache.db").string()};
    }
    args.push_back("retention=" + std::to_string(retention));
    return args;
  }
  std::unique_ptr<Worker> spawn(const std::string& name, long sync_ms, std::size_t retention = 100000) {
    auto args = backing(retention);
    args.push_back("sync_ms=" + std::to_string(sync_ms));
    return std::make_unique<Worker>(name, args);
  }

  testing::TempDir dir_;
  std::string prefix_ = testing::fresh_prefix("mp");
};

// Runs `check` on each reader at the end of its sync interval after `written` (readers are
// ordered by interval): a reader must show a write by the time its interval has passed.
struct Reader {
  std::unique_ptr<Worker> worker;
  Millis interval;
};
void for_each_reader_after_interval(std::vector<Reader>& readers, Clock::time_point written,
                                    const std::function<void(Worker&)>& check) {
  for (auto& r : readers) {
    std::this_thread::sleep_until(written + r.interval + (r.interval.count() > 0 ? 5ms : 0ms));
    SCOPED_TRACE(r.worker->name());
    check(*r.worker);
  }
}

TEST_P(MultiProcessCache, ReadersSeeEveryKindOfWriteWithinTheirSyncInterval) {
  auto writer = spawn("writer", 0);
  std::vector<Reader> readers;
  readers.push_back({spawn("reader-0ms", 0), Millis(0)});
  readers.push_back({spawn("reader-50ms", 50), Millis(50)});
  readers.push_back({spawn("reader-200ms", 200), Millis(200)});
  for (auto& r : readers) ASSERT_EQ(get(*r.worker, "ns1", "alpha"), "miss");  // warm: synced, empty

  // Insert: exact and semantic.
  const std::string a = id_of(put(*writer, "ns1", "alpha", "resp-a1", 1));
  for_each_reader_after_interval(readers, Clock::now(), [&](Worker& w) {
    EXPECT_EQ(get(w, "ns1", "alpha"), "hit\texact\t" + a + "\tresp-a1");
    EXPECT_EQ(get(w, "ns1", "alpha, paraphrased", 1), "hit\tsemantic\t" + a + "\tresp-a1");
  });

  // Upsert with a new response and a new embedding: same id, both layers follow.
  EXPECT_EQ(id_of(put(*writer, "ns1", "alpha", "resp-a2", 2)), a);
  for_each_reader_after_interval(readers, Clock::now(), [&](Worker& w) {
    EXPECT_EQ(get(w, "ns1", "alpha"), "hit\texact\t" + a + "\tresp-a2");
    EXPECT_EQ(get(w, "ns1", "alpha, paraphrased", 2), "hit\tsemantic\t" + a + "\tresp-a2");
    EXPECT_EQ(get(w, "ns1", "alpha, paraphrased", 1), "miss") << "the old embedding must be gone";
  });

  // Erase.
  const std::string b = id_of(put(*writer, "ns1", "beta", "resp-b", 3));
  const std::string c = id_of(put(*writer, "ns2", "gamma", "resp-c", 4));
  for_each_reader_after_interval(readers, Clock::now(), [&](Worker& w) {
    EXPECT_EQ(get(w, "ns1", "beta"), "hit\texact\t" + b + "\tresp-b");
    EXPECT_EQ(get(w, "ns2", "gamma, again", 4), "hit\tsemantic\t" + c + "\tresp-c");
  });
  EXPECT_EQ(writer->call("erase\tns1\tbeta"), "ok\t1");
  for_each_reader_after_interval(readers, Clock::now(), [&](Worker& w) {
    EXPECT_EQ(get(w, "ns1", "beta"), "miss");
    EXPECT_EQ(get(w, "ns1", "beta, paraphrased", 3), "miss");
    EXPECT_EQ(get(w, "ns1", "alpha"), "hit\texact\t" + a + "\tresp-a2") << "the neighbour survives";
  });

  // clear_namespace.
  EXPECT_EQ(writer->call("clear\tns2"), "ok\t1");
  for_each_reader_after_interval(readers, Clock::now(), [&](Worker& w) {
    EXPECT_EQ(get(w, "ns2", "gamma"), "miss");
    EXPECT_EQ(get(w, "ns2", "gamma, again", 4), "miss");
    EXPECT_EQ(w.call("size\tns2"), "ok\t0");
  });

  // LRU eviction under a quota the writer sets (persisted in the store).
  EXPECT_EQ(writer->call("quota\tns3\t3"), "ok");
  std::vector<std::string> d;
  for (int i = 0; i < 5; ++i) {
    d.push_back(id_of(put(*writer, "ns3", "delta" + std::to_string(i), "resp-d" + std::to_string(i), 10 + i)));
    std::this_thread::sleep_for(3ms);  // distinct last_accessed_at: eviction order is by time
  }
  for_each_reader_after_interval(readers, Clock::now(), [&](Worker& w) {
    for (int i = 0; i < 5; ++i) {
      const std::string q = "delta" + std::to_string(i);
      if (i < 2) {
        EXPECT_EQ(get(w, "ns3", q), "miss") << q << " was evicted";
        EXPECT_EQ(get(w, "ns3", q + "?", 10 + i), "miss") << q << " was evicted";
      } else {
        EXPECT_EQ(get(w, "ns3", q), "hit\texact\t" + d[static_cast<std::size_t>(i)] + "\tresp-d" + std::to_string(i));
        EXPECT_EQ(get(w, "ns3", q + "?", 10 + i),
                  "hit\tsemantic\t" + d[static_cast<std::size_t>(i)] + "\tresp-d" + std::to_string(i));
      }
    }
    EXPECT_EQ(w.call("size\tns3"), "ok\t3");
  });

  // TTL: expired entries stop hitting at once; vacuum then removes them everywhere.
  const std::string e = id_of(put(*writer, "ns4", "epsilon", "resp-e", 20, 400));
  for_each_reader_after_interval(
      readers, Clock::now(), [&](Worker& w) { EXPECT_EQ(get(w, "ns4", "epsilon"), "hit\texact\t" + e + "\tresp-e"); });
  std::this_thread::sleep_for(450ms);
  for (auto& r : readers) EXPECT_EQ(get(*r.worker, "ns4", "epsilon"), "miss") << r.worker->name();
  EXPECT_EQ(writer->call("vacuum"), "ok\t1");
  for_each_reader_after_interval(readers, Clock::now(), [&](Worker& w) {
    EXPECT_EQ(get(w, "ns4", "epsilon, paraphrased", 20), "miss");
    EXPECT_EQ(w.call("size\tns4"), "ok\t0");
  });

  // In the end every process holds the same entries.
  const std::vector<std::pair<std::string, std::string>> keys = {
      {"ns1", "alpha"},  {"ns1", "beta"},   {"ns2", "gamma"},  {"ns3", "delta0"}, {"ns3", "delta1"},
      {"ns3", "delta2"}, {"ns3", "delta3"}, {"ns3", "delta4"}, {"ns4", "epsilon"}};
  std::vector<std::string> expected;
  expected.reserve(keys.size());
  for (auto& [ns, q] : keys) expected.push_back(get(*writer, ns, q));
  for (auto& r : readers) {
    EXPECT_EQ(r.worker->call("sync"), "ok");
    EXPECT_EQ(r.worker->call("size\t*"), writer->call("size\t*")) << r.worker->name();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(get(*r.worker, keys[i].first, keys[i].second), expected[i])
          << r.worker->name() << " " << keys[i].second;
    }
  }
}

TEST_P(MultiProcessCache, ReaderBehindTheRetainedFeedRebuildsAndMatches) {
  constexpr std::size_t kRetention = 5;
  auto writer = spawn("writer", 0, kRetention);
  auto reader = spawn("reader", 0, kRetention);
  ASSERT_EQ(get(*reader, "ns", "bulk-0"), "miss");
  const auto before = split(reader->call("stats"));
  ASSERT_EQ(before.size(), 4u);

  auto ids = split(writer->call("bulk\tns\tbulk\t40"));  // 40 changes, far beyond 5
  ASSERT_EQ(ids.size(), 41u);
  EXPECT_EQ(id_of(put(*writer, "ns", "bulk-7", "changed", -1)), ids[8]);
  EXPECT_EQ(writer->call("erase\tns\tbulk-9"), "ok\t1");

  EXPECT_EQ(get(*reader, "ns", "bulk-0"), "hit\texact\t" + ids[1] + "\tresponse bulk-0");
  const auto after = split(reader->call("stats"));
  EXPECT_GT(std::stoull(after[2]), std::stoull(before[2])) << "the reader fell behind the feed, so it rebuilt";
  EXPECT_EQ(reader->call("size\tns"), "ok\t39");
  for (int i = 0; i < 40; ++i) {
    const std::string q = "bulk-" + std::to_string(i);
    EXPECT_EQ(get(*reader, "ns", q), get(*writer, "ns", q)) << q;
  }
  EXPECT_EQ(get(*reader, "ns", "bulk-7"), "hit\texact\t" + ids[8] + "\tchanged");
}

TEST_P(MultiProcessCache, FourConcurrentWritersLoseNothing) {
  constexpr int kEach = 150, kCommon = 40;
  std::vector<std::unique_ptr<Worker>> writers;
  writers.reserve(4);
  for (int i = 0; i < 4; ++i) writers.push_back(spawn("writer-" + std::to_string(i), 0));
  // Everyone at once: own keys, then keys all four write (upserts racing on one key).
  for (int i = 0; i < 4; ++i)
    writers[static_cast<std::size_t>(i)]->send("bulk\tshared\tw" + std::to_string(i) + "\t" + std::to_string(kEach));
  for (auto& w : writers) w->send("bulk\tshared\tcommon\t" + std::to_string(kCommon));
  std::set<std::string> own_ids;
  std::vector<std::vector<std::string>> common(4);
  for (std::size_t i = 0; i < 4; ++i) {
    auto own = split(writers[i]->receive());
    ASSERT_EQ(own.size(), static_cast<std::size_t>(kEach + 1)) << writers[i]->name() << ": " << own[0];
    own_ids.insert(own.begin() + 1, own.end());
    auto com = split(writers[i]->receive());
    ASSERT_EQ(com.size(), static_cast<std::size_t>(kCommon + 1)) << com[0];
    common[i].assign(com.begin() + 1, com.end());
  }
  EXPECT_EQ(own_ids.size(), 4u * kEach) << "ids are unique across processes";
  for (std::size_t i = 1; i < 4; ++i) EXPECT_EQ(common[i], common[0]) << "one key, one id, whoever wrote first";
  for (const auto& id : common[0]) EXPECT_EQ(own_ids.count(id), 0u);

  const std::string total = "ok\t" + std::to_string(4 * kEach + kCommon);
  for (auto& w : writers) {
    EXPECT_EQ(w->call("sync"), "ok");
    EXPECT_EQ(w->call("size\tshared"), total) << w->name();
    for (int i = 0; i < 4; ++i) {
      for (int k = 0; k < kEach; k += 7) {
        const std::string q = "w" + std::to_string(i) + "-" + std::to_string(k);
        EXPECT_EQ(split(get(*w, "shared", q))[0], "hit") << w->name() << " lost " << q;
      }
    }
  }
  auto fresh = spawn("late-reader", 0);
  EXPECT_EQ(fresh->call("size\tshared"), total) << "a cache opened afterwards loads every row";
}

INSTANTIATE_TEST_SUITE_P(Stores, MultiProcessCache, ::testing::Values(Backend::kRedis, Backend::kSqlite),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kRedis ? std::string("Redis") : std::string("Sqlite");
                         });

}  // namespace
}  // namespace engram
