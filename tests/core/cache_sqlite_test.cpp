// SemanticCache on the embedded default, SqliteStore on a real file: persistence across
// reopen, embedder checks, damaged files, and a second process sharing the file.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "engram/semantic_cache.hpp"
#include "engram/stores/sqlite_store.hpp"
#include "temp_dir.hpp"

namespace engram {
namespace {

using namespace std::chrono_literals;
using Cache = SemanticCache<SqliteStore, HashingEmbedder>;

// Runs `body` in a child process; returns its exit status (0 = success).
template <class Body>
int run_in_child(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 1;
    try {
      code = body() ? 0 : 3;
    } catch (...) {
      code = 2;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class CacheOnSqlite : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::filesystem::path db_ = dir_ / "cache.db";
};

TEST_F(CacheOnSqlite, EntriesSurviveReopenAndAnswerExactly) {
  EntryId id = 0;
  {
    Cache cache(SqliteStore(db_), HashingEmbedder{});
    id = cache.put("How do I reset my password?", "Use the reset link.", {.ns = "support"});
    ASSERT_TRUE(cache.get("How do I reset my password?", {.ns = "support"}));
  }
  Cache reopened(SqliteStore(db_), HashingEmbedder{});
  EXPECT_EQ(reopened.size(), 1u);
  auto hit = reopened.get("how do i reset my password?", {.ns = "support"});
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->layer, Layer::kExact);
  EXPECT_EQ(hit->id, id);
  EXPECT_EQ(hit->response, "Use the reset link.");
  EXPECT_TRUE(reopened.get("How can I reset my password", {.ns = "support", .threshold = 0.7}));
}

TEST_F(CacheOnSqlite, AccessesAreWrittenBackAtClose) {
  EntryId id = 0;
  {
    Cache cache(SqliteStore(db_), HashingEmbedder{});
    id = cache.put("q", "r");
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(cache.get("q"));
  }
  SqliteStore store(db_);
  store.open(HashingEmbedder{}.fingerprint(), 384);
  EXPECT_EQ(store.get_by_id(id)->access_count, 5);
}

TEST_F(CacheOnSqlite, ReopenWithAnotherEmbedderIsRefused) {
  {
    Cache cache(SqliteStore(db_), HashingEmbedder{});
    cache.put("q", "r");
  }
  EXPECT_THROW(Cache(SqliteStore(db_), HashingEmbedder{128}), DimensionMismatch);
  struct OtherModel {
    std::size_t dim() const { return 384; }
    std::string fingerprint() const { return "other-model:v2"; }
    std::vector<float> embed(std::string_view t) const { return HashingEmbedder{}.embed(t); }
  };
  EXPECT_THROW((SemanticCache<SqliteStore, OtherModel>(SqliteStore(db_), OtherModel{})), EmbedderMismatch);
  Cache again(SqliteStore(db_), HashingEmbedder{});  // the file is untouched
  EXPECT_TRUE(again.get("q"));
}

TEST_F(CacheOnSqlite, GarbageOrTruncatedFileIsStoreCorrupt) {
  {
    std::ofstream garbage(db_, std::ios::binary);
    for (int i = 0; i < 8192; ++i) garbage.put(static_cast<char>((i * 7919) % 251));
  }
  EXPECT_THROW(Cache(SqliteStore(db_), HashingEmbedder{}), StoreCorrupt);

  const auto good = dir_ / "good.db";
  {
    Cache cache(SqliteStore(good), HashingEmbedder{});
    for (int i = 0; i < 300; ++i) cache.put("question " + std::to_string(i), std::string(500, 'x'));
    cache.flush();
  }
  const auto size = std::filesystem::file_size(good);
  ASSERT_GT(size, 8192u);
  std::filesystem::resize_file(good, size / 3);
  EXPECT_THROW(
      {
        Cache cache(SqliteStore(good), HashingEmbedder{});
        // Opening may succeed on the intact first pages; reading the rest must not.
        if (!cache.health().integrity_ok) throw StoreCorrupt("integrity check failed");
      },
      StoreCorrupt);
}

// The parents below fork while their cache is open; flush_interval 0 keeps them free of
// background threads, which fork() must not be mixed with.
TEST_F(CacheOnSqlite, QuotaSetByAnotherProcessApplies) {
  Cache cache(SqliteStore(db_), HashingEmbedder{}, {.flush_interval = Millis(0)});
  cache.put("first", "r", {.ns = "t"});
  const int status = run_in_child([&] {
    Cache other(SqliteStore(db_), HashingEmbedder{});
    other.set_namespace_quota("t", 2);
    return true;
  });
  ASSERT_EQ(status, 0);
  EXPECT_EQ(cache.namespace_quota("t"), 2u);
  cache.put("second", "r", {.ns = "t"});
  cache.put("third", "r", {.ns = "t"});
  cache.put("fourth", "r", {.ns = "t"});
  EXPECT_EQ(cache.size("t"), 2u);
  EXPECT_FALSE(cache.get("first", {.ns = "t", .threshold = 0.99}));
  EXPECT_TRUE(cache.get("fourth", {.ns = "t"}));
}

TEST_F(CacheOnSqlite, SecondProcessSeesInsertsUpdatesAndDeletes) {
  Cache reader(SqliteStore(db_), HashingEmbedder{}, {.flush_interval = Millis(0)});
  ASSERT_EQ(run_in_child([&] {
              Cache writer(SqliteStore(db_), HashingEmbedder{});
              writer.put("capital of France?", "Paris");
              writer.put("capital of Italy?", "Rome");
              return true;
            }),
            0);
  EXPECT_EQ(reader.get("capital of France?")->response, "Paris");
  ASSERT_EQ(run_in_child([&] {
              Cache writer(SqliteStore(db_), HashingEmbedder{});
              writer.put("capital of France?", "Paris, on the Seine");
              return writer.erase("capital of Italy?");
            }),
            0);
  EXPECT_EQ(reader.get("capital of France?")->response, "Paris, on the Seine");
  EXPECT_FALSE(reader.get("capital of Italy?", {.threshold = 0.95}));
  EXPECT_EQ(reader.size(), 1u);
}

TEST_F(CacheOnSqlite, SnapshotIsAUsableCache) {
  const auto backup = dir_ / "backup.db";
  {
    Cache cache(SqliteStore(db_), HashingEmbedder{});
    cache.put("q", "r", {.ns = "n", .metadata = R"({"model":"m"})"});
    cache.snapshot_to(backup);
    cache.put("after the snapshot", "r");
  }
  Cache restored(SqliteStore(backup), HashingEmbedder{});
  EXPECT_EQ(restored.size(), 1u);
  auto hit = restored.get("q", {.ns = "n"});
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->metadata, R"({"model":"m"})");
}

TEST_F(CacheOnSqlite, HealthNamesTheBackend) {
  Cache cache(SqliteStore(db_), HashingEmbedder{});
  const Health h = cache.health();
  EXPECT_TRUE(h.healthy) << h.message;
  EXPECT_EQ(h.store_backend, "sqlite");
  EXPECT_GT(h.schema_version, 0);
}

TEST_F(CacheOnSqlite, MaintenanceRunsThroughTheCacheAndKeepsData) {
  Cache cache(SqliteStore(db_), HashingEmbedder{});
  for (int i = 0; i < 50; ++i) cache.put("question " + std::to_string(i), "answer");
  for (int i = 0; i < 25; ++i) cache.erase("question " + std::to_string(i));
  const auto kinds = cache.maintenance_kinds();
  for (const char* kind : {"analyze", "compact", "checkpoint"}) {
    ASSERT_NE(std::find(kinds.begin(), kinds.end(), kind), kinds.end()) << kind;
    cache.run_maintenance(kind);
  }
  EXPECT_THROW(cache.run_maintenance("defragment-the-moon"), InvalidArgument);
  EXPECT_EQ(cache.size(), 25u);
  EXPECT_TRUE(cache.get("question 30"));
  EXPECT_TRUE(cache.health().integrity_ok);
}

}  // namespace
}  // namespace engram
