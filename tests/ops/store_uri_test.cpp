// parse_store_uri and open_store: every form of the three schemes, and clear errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "engram/errors.hpp"
#include "engram/stores/any_store.hpp"
#include "engram/stores/store_uri.hpp"
#include "temp_dir.hpp"

namespace {

using engram::parse_store_uri;
using engram::StoreKind;

TEST(StoreUri, SqliteForms) {
  EXPECT_EQ(parse_store_uri("sqlite:c.db").path, "c.db");
  EXPECT_EQ(parse_store_uri("sqlite:///tmp/c.db").path, "/tmp/c.db");
  EXPECT_EQ(parse_store_uri("c.db").kind, StoreKind::kSqlite);
  EXPECT_EQ(parse_store_uri("/var/lib/x/c.db").path, "/var/lib/x/c.db");
  EXPECT_EQ(parse_store_uri("./a:b.db").path, "./a:b.db");  // a '/' before the colon: a path
  EXPECT_EQ(parse_store_uri("sqlite:a:b.db").path, "a:b.db");
  EXPECT_EQ(engram::describe(parse_store_uri("c.db")), "sqlite:c.db");
}

TEST(StoreUri, RedisForms) {
  auto u = parse_store_uri("redis://cache-1");
  EXPECT_EQ(u.kind, StoreKind::kRedis);
  EXPECT_EQ(u.host, "cache-1");
  EXPECT_EQ(u.port, 6379);
  EXPECT_EQ(u.database, 0);
  EXPECT_EQ(u.prefix, "engram");
  EXPECT_TRUE(u.password.empty());

  u = parse_store_uri("redis://:p%40ss@10.0.0.2:6380/3?prefix=support%3Av2");
  EXPECT_EQ(u.password, "p@ss");
  EXPECT_EQ(u.host, "10.0.0.2");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.database, 3);
  EXPECT_EQ(u.prefix, "support:v2");
  EXPECT_EQ(engram::describe(u), "redis://10.0.0.2:6380/3?prefix=support:v2");  // never the password

  u = parse_store_uri("redis://alice:pw@[::1]:7000?db=2");
  EXPECT_EQ(u.username, "alice");
  EXPECT_EQ(u.password, "pw");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 7000);
  EXPECT_EQ(u.database, 2);
}

TEST(StoreUri, DictForms) {
  EXPECT_EQ(parse_store_uri("dict:").kind, StoreKind::kDict);
  EXPECT_EQ(parse_store_uri("dict:").path, "");
  EXPECT_EQ(parse_store_uri("dict:shared").path, "shared");
}

TEST(StoreUri, ErrorsNameTheProblem) {
  auto message = [](const char* text) {
    try {
      (void)parse_store_uri(text);
    } catch (const engram::InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message("").find("empty"), std::string::npos);
  EXPECT_NE(message("ftp://host/x").find("unknown scheme 'ftp'"), std::string::npos);
  EXPECT_NE(message("redis:host").find("redis://"), std::string::npos);
  EXPECT_NE(message("redis://").find("no host"), std::string::npos);
  EXPECT_NE(message("redis://h:0").find("outside 1..65535"), std::string::npos);
  EXPECT_NE(message("redis://h:65536").find("outside"), std::string::npos);
  EXPECT_NE(message("redis://h:63O9").find("'63O9' is not a decimal number"), std::string::npos);
  EXPECT_NE(message("redis://h:-1").find("not a decimal number"), std::string::npos);
  EXPECT_NE(message("redis://h:").find("empty port"), std::string::npos);
  EXPECT_NE(message("redis://h/x").find("database number 'x'"), std::string::npos);
  EXPECT_NE(message("redis://h?prefix=").find("empty prefix"), std::string::npos);
  EXPECT_NE(message("redis://h?prefix=a{b}").find("'{'"), std::string::npos);
  EXPECT_NE(message("redis://h?colour=red").find("unknown parameter 'colour'"), std::string::npos);
  EXPECT_NE(message("redis://:%zz@h").find("malformed %-escape"), std::string::npos);
  EXPECT_NE(message("redis://:%4@h").find("truncated"), std::string::npos);
  EXPECT_NE(message("redis://[::1").find("unterminated"), std::string::npos);
  EXPECT_NE(message("sqlite:").find("no file path"), std::string::npos);
  // A password never appears in a message.
  EXPECT_EQ(message("redis://:secret@h:99999").find("secret"), std::string::npos);
  EXPECT_EQ(message("redis://bob:secret@h/x").find("secret"), std::string::npos);
}

TEST(OpenStore, ReadOnlyNeverCreates) {
  engram::testing::TempDir dir;
  const auto path = dir.path() / "typo.db";
  EXPECT_THROW(engram::open_store("sqlite:" + path.string(), {.must_exist = true}), engram::StoreError);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_THROW(engram::open_store("dict:never-made", {.must_exist = true}), engram::StoreError);
  // Without must_exist the store is made on open().
  auto store = engram::open_store(path.string());
  EXPECT_FALSE(store.recorded_identity());
  store.open("fp", 4);
  EXPECT_EQ(store.recorded_identity(), (engram::StoreIdentity{"fp", 4}));
  store.close();
  auto again = engram::open_store(path.string(), {.must_exist = true});
  EXPECT_EQ(again.open_recorded(), (engram::StoreIdentity{"fp", 4}));
  EXPECT_STREQ(again.backend(), "sqlite");
}

TEST(OpenStore, NamedDictStoresAreShared) {
  auto a = engram::open_store("dict:shared-test");
  a.open("fp", 2);
  engram::StoredEntry e;
  e.query_hash.bytes[0] = 1;
  e.embedding = {1.0f, 0.0f};
  a.insert(e);
  auto b = engram::open_store("dict:shared-test", {.must_exist = true});
  b.open_recorded();
  EXPECT_EQ(b.count(), 1u);
  auto fresh = engram::open_store("dict:");
  fresh.open("fp", 2);
  EXPECT_EQ(fresh.count(), 0u);
}

TEST(AnyStore, FallbacksForAStoreWithoutRefinements) {
  auto store = engram::open_store("dict:");
  EXPECT_TRUE(store.has_bulk_insert());
  EXPECT_FALSE(store.has_maintenance());
  store.open("fp", 2);
  EXPECT_EQ(store.maintenance_kinds(), std::vector<std::string>{"integrity_check"});
  EXPECT_EQ(store.maintenance_state().at("backend"), "dict");
  EXPECT_NO_THROW(store.run_maintenance("integrity_check"));
  EXPECT_THROW(store.run_maintenance("compact"), engram::InvalidArgument);
  engram::AnyStore moved = std::move(store);
  EXPECT_THROW((void)store.count(), engram::CacheClosed);  // NOLINT(bugprone-use-after-move): tested on purpose
  EXPECT_EQ(moved.count(), 0u);
}

}  // namespace
