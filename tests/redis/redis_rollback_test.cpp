// A reader must not follow a rewritten history. redis-server restarts from an older RDB (what a
// crash without AOF, or a failover to a lagging replica, does): the counter and the id
// sequence go back, and new writes reuse versions and ids — here with exactly the same
// (version, id, kind) records as the ones the reader applied before, the case a record check
// alone cannot see. The reader, idle through all of it, must answer from the new history.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "engram/embedders/hashing_embedder.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/redis_store.hpp"
#include "redis_server.hpp"

namespace engram {
namespace {

using testing::RedisServer;
using RedisCache = SemanticCache<RedisStore>;

TEST(RedisRollback, IdleReaderRebuildsAfterRestartFromAnOlderRdb) {
  RedisServer server;
  server.start();
  const RedisOptions options = server.options("rollback");
  RedisCache reader(RedisStore(options), HashingEmbedder{});
  {
    RedisCache writer(RedisStore(options), HashingEmbedder{});
    writer.put("what is the capital of germany", "Berlin");  // version 1, id 1
    server.cli({"SAVE"});                                    // the RDB the server will come back with
    std::filesystem::copy_file(server.dir() / "dump.rdb", server.dir() / "older.rdb");
    writer.put("who is the ceo", "Alice");                            // version 2, id 2
    writer.put("how do I reset my password", "Use the reset link.");  // version 3, id 3
  }
  ASSERT_EQ(reader.get("who is the ceo")->response, "Alice");
  ASSERT_EQ(reader.get("how do I reset my password")->response, "Use the reset link.");

  server.stop();  // SIGKILL: no save on the way down
  std::filesystem::copy_file(server.dir() / "older.rdb", server.dir() / "dump.rdb",
                             std::filesystem::copy_options::overwrite_existing);
  server.start();
  {
    RedisCache writer(RedisStore(options), HashingEmbedder{});
    writer.put("what is the shipping time", "Two days.");  // version 2, id 2 again
    writer.put("which plan am I on", "The free plan.");    // version 3, id 3 again
    writer.put("where is my invoice", "Under Billing.");   // version 4: the reader must sync
  }

  const auto shipping = reader.get("what is the shipping time");
  ASSERT_TRUE(shipping);
  EXPECT_EQ(shipping->response, "Two days.");
  EXPECT_EQ(reader.get("which plan am I on")->response, "The free plan.");
  EXPECT_FALSE(reader.get("who is the ceo", {.threshold = 1.0})) << "a row the store no longer holds";
  EXPECT_FALSE(reader.get("how do I reset my password", {.threshold = 1.0}));
  EXPECT_GE(reader.stats().rebuilds, 2u);
}

}  // namespace
}  // namespace engram
