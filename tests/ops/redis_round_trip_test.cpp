// SQLite -> Redis -> SQLite, through migrate and through export/import, for 100k entries in
// several namespaces with TTLs and quotas, against a real redis-server: verify reports the
// copies identical. The Redis store is opened by URI (with the password from the URI and from
// ENGRAM_REDIS_PASSWORD).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ops_test_data.hpp"
#include "redis_server.hpp"
#include "temp_dir.hpp"
#include "transfer.hpp"
#include "verify.hpp"

namespace {

using namespace engram;
using namespace engram::tool;

const ProgressOptions kQuiet{.enabled = false};

std::string redis_uri(const engram::testing::RedisServer& server, const std::string& prefix, bool with_password) {
  std::string auth;
  if (with_password && !server.password().empty()) {
    auth = ":";
    for (char c : server.password()) {
      if (c == ' ') auth += "%20";
      else if (c == '!') auth += "%21";
      else auth += c;
    }
    auth += "@";
  }
  return "redis://" + auth + "127.0.0.1:" + std::to_string(server.port()) + "/0?prefix=" + prefix;
}

constexpr std::size_t kEntries = 100000;

TEST(RedisRoundTrip, MigrateSqliteToRedisToSqlite) {
  engram::testing::TempDir dir;
  AnyStore src = open_store((dir.path() / "a.db").string());
  engram::testing::fill_ops_store(src, kEntries);
  const auto identity = *src.recorded_identity();

  AnyStore redis = open_store(redis_uri(engram::testing::RedisEnvironment::secured(), "rt-migrate", true));
  const auto to_redis = migrate_entries(src, identity, redis, MigrateOptions{.progress = kQuiet});
  EXPECT_EQ(to_redis.copied, kEntries);
  AnyStore back = open_store((dir.path() / "b.db").string());
  migrate_entries(redis, identity, back, MigrateOptions{.progress = kQuiet});

  for (const AnyStore* copy : {&redis, &back}) {
    const VerifyReport report = verify_stores(src, *copy, {});
    EXPECT_TRUE(report.identical()) << copy->description() << "\n" << report.to_text();
    EXPECT_EQ(report.compared, kEntries);
  }
  EXPECT_EQ(back.get_namespace_quota("support"), 1'000'000u);
}

TEST(RedisRoundTrip, ExportImportSqliteToRedisToSqlite) {
  engram::testing::TempDir dir;
  AnyStore src = open_store((dir.path() / "a.db").string());
  engram::testing::fill_ops_store(src, kEntries, 2);
  const auto identity = *src.recorded_identity();
  auto through_file = [&](const AnyStore& from, AnyStore& to, const std::string& file) {
    std::FILE* out = std::fopen(file.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    export_entries(from, *from.recorded_identity(), out, kQuiet);
    std::fclose(out);
    std::FILE* in = std::fopen(file.c_str(), "rb");
    ASSERT_NE(in, nullptr);
    import_entries(in, file, to, ImportOptions{.progress = kQuiet});
    std::fclose(in);
  };
  // The password from the environment this time.
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the test's only thread; no other thread reads the environment
  ASSERT_EQ(::setenv("ENGRAM_REDIS_PASSWORD", engram::testing::RedisEnvironment::secured().password().c_str(), 1), 0);
  AnyStore redis = open_store(redis_uri(engram::testing::RedisEnvironment::secured(), "rt-export", false));
  through_file(src, redis, (dir.path() / "1.jsonl").string());
  ::unsetenv("ENGRAM_REDIS_PASSWORD");  // NOLINT(concurrency-mt-unsafe): as above
  AnyStore back = open_store((dir.path() / "b.db").string());
  through_file(redis, back, (dir.path() / "2.jsonl").string());
  EXPECT_EQ(*back.recorded_identity(), identity);
  for (const AnyStore* copy : {&redis, &back}) {
    const VerifyReport report = verify_stores(src, *copy, {});
    EXPECT_TRUE(report.identical()) << copy->description() << "\n" << report.to_text();
    EXPECT_EQ(report.compared, kEntries);
  }
}

TEST(RedisRoundTrip, ReadOnlyOpenOfAnUnknownPrefixCreatesNothing) {
  const std::string uri = redis_uri(engram::testing::RedisEnvironment::plain(), "never-written", false);
  EXPECT_THROW(open_store(uri, {.must_exist = true}), StoreError);
  EXPECT_EQ(engram::testing::RedisEnvironment::plain().cli({"KEYS", "{never-written}*"}), "");
}

}  // namespace
