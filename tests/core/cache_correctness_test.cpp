// SemanticCache never serves the answer to a different question: races between a get and a
// put, hash collisions, stored rows that no longer match the in-memory state, damaged rows,
// extreme timestamps, and get_or_compute when its value cannot be cached.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "engram/semantic_cache.hpp"
#include "engram/stores/dict_store.hpp"
#include "engram/stores/sqlite_store.hpp"
#include "temp_dir.hpp"

namespace engram {
namespace {

using namespace std::chrono_literals;

// Runs SQL on an engram SQLite file behind the store's back (to damage a row on purpose).
void run_sql(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(handle);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// Item 1 of the wrong-answers issue: a get that reads a row from the store while a put of the
// same query lands must not cache the old text over the new one. Each round opens a fresh
// cache (its response cache is empty, so the get reads the store) and races one get with one
// put; afterwards the cache must answer with the put's response, now and after a sync.
TEST(CacheRaces, GetRacingPutNeverLeavesTheOldResponseCached) {
  testing::TempDir dir;
  const auto db = dir / "race.db";
  const std::string query = "How long does shipping take?";
  {
    SemanticCache cache(SqliteStore(db), HashingEmbedder{});
    cache.put(query, "response 0");
  }
  int stale = 0;
  constexpr int kRounds = 200;
  for (int round = 1; round <= kRounds; ++round) {
    SemanticCache cache(SqliteStore(db), HashingEmbedder{});
    const std::string fresh = "response " + std::to_string(round);
    std::atomic<int> ready{0};
    auto wait_for_both = [&] {
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
    };
    std::thread reader([&] {
      wait_for_both();
      (void)cache.get(query);
    });
    std::thread writer([&] {
      wait_for_both();
      cache.put(query, fresh);
    });
    reader.join();
    writer.join();
    cache.sync();
    const auto hit = cache.get(query);
    ASSERT_TRUE(hit);
    if (hit->response != fresh) ++stale;
  }
  EXPECT_EQ(stale, 0) << stale << " of " << kRounds << " rounds kept serving the overwritten response";
}

// Item 9: an exact hit is not decided by the 128-bit hash alone. A row whose key is the hash of
// one query but whose text is another's (what a crafted collision would produce) is never
// served for the first query, from the store or from the response cache.
TEST(CacheCollisions, RowWithSameHashButOtherQueryIsNeverServedExactly) {
  const HashingEmbedder embedder;
  auto location = DictStore::make_location();
  {
    DictStore raw(location);
    raw.open(embedder.fingerprint(), static_cast<std::size_t>(embedder.dim()));
    StoredEntry row;
    row.query_hash = hash_query("What is the refund policy?");
    row.query = "How do I delete my account?";
    row.response = "Your account is deleted.";
    row.embedding = detail::to_unit_vector(embedder.embed(row.query), static_cast<std::size_t>(embedder.dim()), "test");
    row.created_at = row.last_accessed_at = detail::system_now();
    raw.insert(row);
  }
  SemanticCache cache(DictStore(location), HashingEmbedder{});
  for (int attempt = 0; attempt < 2; ++attempt) {  // first from the store, then from memory
    const auto hit = cache.get("What is the refund policy?");
    EXPECT_FALSE(hit && hit->response == "Your account is deleted.") << "attempt " << attempt;
  }
}

// Item 4: ttl = Millis::max() means "never expires": served, never vacuumed (no overflow).
TEST(CacheTime, HugeTtlNeverExpiresAndNeverOverflows) {
  SemanticCache cache(DictStore{}, HashingEmbedder{});
  cache.put("forever", "kept", {.ttl = Millis::max()});
  ASSERT_TRUE(cache.get("forever"));
  EXPECT_EQ(cache.vacuum(), 0u);
  const auto hit = cache.get("forever");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->response, "kept");
}

// Item 4: rows restored from a file may carry any created_at; ages and expiries saturate.
TEST(CacheTime, ExtremeStoredTimestampsAreHandledWithoutOverflow) {
  const HashingEmbedder embedder;
  const auto dim = static_cast<std::size_t>(embedder.dim());
  auto location = DictStore::make_location();
  {
    DictStore raw(location);
    raw.open(embedder.fingerprint(), dim);
    auto add = [&](const std::string& query, std::int64_t created_ms, std::optional<Millis> ttl) {
      StoredEntry row;
      row.query_hash = hash_query(query);
      row.query = query;
      row.response = "answer to " + query;
      row.embedding = detail::to_unit_vector(embedder.embed(query), dim, "test");
      row.created_at = row.last_accessed_at = Timestamp(Millis(created_ms));
      row.ttl = ttl;
      raw.insert(row);
    };
    add("from the far past", std::numeric_limits<std::int64_t>::min() + 1, std::nullopt);
    add("from the far future", std::numeric_limits<std::int64_t>::max() - 1, Millis::max());
    add("long expired", std::numeric_limits<std::int64_t>::min() + 1, 1h);
  }
  SemanticCache cache(DictStore(location), HashingEmbedder{});
  for (const char* query : {"from the far past", "from the far future"}) {
    const auto hit = cache.get(query);
    ASSERT_TRUE(hit) << query;
    EXPECT_EQ(hit->response, std::string("answer to ") + query);
  }
  EXPECT_FALSE(cache.get("long expired", {.threshold = 1.0}));
  EXPECT_EQ(cache.vacuum(), 1u);
}

// Item 8: a value that cannot be cached is still returned (and reported) under fail-open, and
// the options are checked before the computation runs.
TEST(CacheGetOrCompute, ValueTooLargeToCacheIsReturnedAndReported) {
  int errors = 0;
  CacheOptions options;
  options.max_response_bytes = 1024;
  options.on_error = [&](const std::exception&) { ++errors; };
  SemanticCache cache(DictStore{}, HashingEmbedder{}, options);
  const std::string big(4096, 'x');
  int computed = 0;
  EXPECT_EQ(cache.get_or_compute("big question",
                                 [&] {
                                   ++computed;
                                   return std::string(big);
                                 }),
            big);
  EXPECT_EQ(computed, 1);
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(CacheGetOrCompute, BadOptionsThrowBeforeComputing) {
  SemanticCache cache(DictStore{}, HashingEmbedder{});
  int computed = 0;
  auto compute = [&] {
    ++computed;
    return std::string("value");
  };
  EXPECT_THROW(cache.get_or_compute("q", compute, {.metadata = "not json"}), InvalidArgument);
  EXPECT_THROW(cache.get_or_compute("q", compute, {.ttl = Millis(-5)}), InvalidArgument);
  EXPECT_THROW(cache.get_or_compute("q", compute, {.embedding = std::vector<float>{1.0f}}), InvalidArgument);
  EXPECT_EQ(computed, 0);
}

TEST(CacheGetOrCompute, FailClosedThrowsWhenTheValueCannotBeCached) {
  CacheOptions options;
  options.max_response_bytes = 16;
  options.fail_open = false;
  SemanticCache cache(DictStore{}, HashingEmbedder{}, options);
  EXPECT_THROW(cache.get_or_compute("q", [] { return std::string(64, 'y'); }), InvalidArgument);
}

// Item 10: a row whose embedding is unusable (wrong dimension, NaN) is skipped and counted
// instead of failing every rebuild; the other rows are served and nothing is rebuilt again.
TEST(CacheQuarantine, RowsWithUnusableEmbeddingsAreSkippedCountedAndReportedOnce) {
  testing::TempDir dir;
  const auto db = dir / "damaged.db";
  EntryId short_id = 0, nan_id = 0;
  {
    SemanticCache cache(SqliteStore(db), HashingEmbedder{});
    cache.put("good question", "good answer");
    short_id = cache.put("short vector", "never served");
    nan_id = cache.put("nan vector", "never served either");
  }
  // The NaN row: its own embedding with one component replaced by NaN, written as a blob.
  const HashingEmbedder embedder;
  std::vector<float> poisoned = embedder.embed("nan vector");
  poisoned[0] = std::numeric_limits<float>::quiet_NaN();
  std::string hex;
  for (float x : poisoned) {
    const auto bits = std::bit_cast<std::uint32_t>(x);
    char byte[3];
    for (int shift = 0; shift < 32; shift += 8) {  // little-endian, as the store writes them
      std::snprintf(byte, sizeof byte, "%02X", (bits >> shift) & 0xffu);
      hex += byte;
    }
  }
  run_sql(db, "UPDATE engram_entries SET embedding = zeroblob(12) WHERE id = " + std::to_string(short_id));
  run_sql(db, "UPDATE engram_entries SET embedding = X'" + hex + "' WHERE id = " + std::to_string(nan_id));

  int errors = 0;
  CacheOptions options;
  options.on_error = [&](const std::exception& e) {
    ++errors;
    EXPECT_NE(std::string(e.what()).find("quarantined"), std::string::npos) << e.what();
  };
  // The rows were damaged behind the store's back (no version bump), which the index sidecar
  // written at close cannot know about: this test is about the rebuild, so it has none.
  options.index_path = std::filesystem::path();
  SemanticCache cache(SqliteStore(db), HashingEmbedder{}, options);
  EXPECT_EQ(cache.stats().quarantined, 2u);
  EXPECT_EQ(errors, 2);
  const auto good = cache.get("good question");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->response, "good answer");
  EXPECT_FALSE(cache.get("short vector", {.threshold = 1.0}));
  EXPECT_FALSE(cache.get("nan vector", {.threshold = 1.0}));
  const std::uint64_t rebuilds = cache.stats().rebuilds;
  cache.sync();
  EXPECT_EQ(cache.stats().rebuilds, rebuilds);
  EXPECT_EQ(errors, 2) << "each quarantined row is reported once";

  cache.put("short vector", "fixed");  // rewriting the row lifts the quarantine
  EXPECT_EQ(cache.stats().quarantined, 1u);
  EXPECT_EQ(cache.get("short vector")->response, "fixed");
}

}  // namespace
}  // namespace engram
