// RedisStore behaviour specific to Redis, against a real redis-server: namespace encoding,
// bit-exact binary data, script reloading, outages and reconnection, snapshots between
// prefixes, authentication, unix sockets, databases, feed retention and fork safety.
// The Store contract itself is proven by the battery (redis_battery_test.cpp).

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engram/errors.hpp"
#include "engram/stores/redis_store.hpp"
#include "redis_server.hpp"

namespace engram {
namespace {

using testing::fresh_prefix;
using testing::RedisEnvironment;
using testing::RedisServer;

constexpr std::string_view kFp = "engram:redis-test:v1";
constexpr std::size_t kDim = 4;

QueryHash hash_of(std::string_view key) {
  QueryHash h;
  std::uint64_t a = 1469598103934665603ull, b = 7;
  for (unsigned char c : key) {
    a = (a ^ c) * 1099511628211ull;
    b = (b ^ c) * 0x9E3779B97F4A7C15ull;
  }
  for (int i = 0; i < 8; ++i) {
    h.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(a >> (8 * i));
    h.bytes[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(b >> (8 * i));
  }
  return h;
}

StoredEntry entry(std::string ns, std::string key, std::size_t dim = kDim) {
  StoredEntry e;
  e.ns = std::move(ns);
  e.query_hash = hash_of(key);
  e.query = "q:" + key;
  e.response = "r:" + key;
  e.embedding.assign(dim, 0.5f);
  e.created_at = e.last_accessed_at = Timestamp(Millis(1'700'000'000'000));
  return e;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}

// operator== would compare NaN embeddings as unequal: compare embeddings by bits instead.
bool same_entry(const StoredEntry& a, const StoredEntry& b) {
  StoredEntry x = a, y = b;
  x.embedding.clear();
  y.embedding.clear();
  return x == y && same_bits(a.embedding, b.embedding);
}

RedisStore open_store(const RedisOptions& o, std::size_t dim = kDim) {
  RedisStore s(o);
  s.open(kFp, dim);
  return s;
}

// Asserts that `f` throws StoreUnavailable with a message carrying a remediation.
template <class F>
void expect_unavailable(F&& f, const char* what) {
  try {
    f();
    ADD_FAILURE() << what << ": no exception while Redis is down";
  } catch (const StoreUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("Remediation:"), std::string::npos) << what << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw something other than StoreUnavailable: " << e.what();
  }
}

TEST(RedisStore, NamespacesNeverCollide) {
  auto s = open_store(RedisEnvironment::plain().options(fresh_prefix()));
  const std::vector<std::string> namespaces = {"",
                                               "a",
                                               "a:b",
                                               "a:",
                                               ":",
                                               "b",
                                               std::string("\0", 1),
                                               std::string("\0\0", 2),
                                               std::string("x\0y", 3),
                                               "61",
                                               "6",
                                               "n:61:ids",
                                               "{x}",
                                               "a b",
                                               "a\nb",
                                               "\xc3\xbc",
                                               "\xe6\x97\xa5\xe6\x9c\xac",
                                               "\xff\xfe",
                                               "ids",
                                               "e:0000000000000000001"};
  std::map<std::string, EntryId> ids;
  for (const auto& ns : namespaces) ids[ns] = s.insert(entry(ns, "same-key"));
  EXPECT_EQ(ids.size(), namespaces.size());
  std::set<EntryId> distinct;
  for (auto& [ns, id] : ids) distinct.insert(id);
  EXPECT_EQ(distinct.size(), namespaces.size()) << "one row per namespace although the hash is the same";
  EXPECT_EQ(s.count(), namespaces.size());
  for (const auto& ns : namespaces) {
    EXPECT_EQ(s.count(ns), 1u) << ::testing::PrintToString(ns);
    auto got = s.get_by_hash(ns, hash_of("same-key"));
    ASSERT_TRUE(got) << ::testing::PrintToString(ns);
    EXPECT_EQ(got->ns, ns);
    EXPECT_EQ(got->id, ids[ns]);
    EXPECT_EQ(s.iter_lru_ids(10, ns), std::vector<EntryId>{ids[ns]});
  }
  auto sorted = namespaces;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(s.list_namespaces(), sorted);

  EXPECT_EQ(s.clear_namespace("a"), 1u);
  EXPECT_EQ(s.clear_namespace(std::string("\0", 1)), 1u);
  EXPECT_EQ(s.count(), namespaces.size() - 2);
  EXPECT_EQ(s.count("a:b"), 1u);
  EXPECT_EQ(s.count(std::string("\0\0", 2)), 1u);
  EXPECT_EQ(s.count(""), 1u);
  EXPECT_FALSE(s.get_by_hash("a", hash_of("same-key")));
  EXPECT_TRUE(s.get_by_hash("a:", hash_of("same-key")));
  EXPECT_TRUE(s.integrity_check());
}

TEST(RedisStore, EveryKeyCarriesThePrefixHashTag) {
  auto& server = RedisEnvironment::plain();
  const std::string prefix = fresh_prefix("tag");
  auto s = open_store(server.options(prefix));
  auto e = entry("tenant:a", "k");
  e.ttl = Millis(5000);
  s.insert(e);
  s.insert(entry("", "k2"));
  s.set_namespace_quota("tenant:a", 3);
  s.write_meta("x", "y");
  std::stringstream keys(server.cli({"KEYS", "*" + prefix + "*"}));
  std::string key;
  int n = 0;
  while (std::getline(keys, key)) {
    ++n;
    EXPECT_EQ(key.rfind("{" + prefix + "}:", 0), 0u) << key;
    // Cluster slots hash only the text between the first '{' and the next '}'.
    EXPECT_EQ(key.find('{', 1), std::string::npos) << key;
  }
  EXPECT_GE(n, 10);
}

TEST(RedisStore, EmbeddingsAndPayloadsAreBitExact) {
  const std::size_t dim = 1536;
  auto s = open_store(RedisEnvironment::plain().options(fresh_prefix()), dim);
  auto e = entry(std::string("n\0s", 3), "bits", dim);
  const std::uint32_t specials[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x7f7fffffu,
                                    0x7f800000u, 0xff800000u, 0x7fc00001u, 0xffbfffffu, 0x3f800000u};
  for (std::size_t i = 0; i < dim; ++i) {
    e.embedding[i] = i < std::size(specials) ? std::bit_cast<float>(specials[i])
                                             : std::bit_cast<float>(static_cast<std::uint32_t>(i * 2654435761u));
  }
  e.query = std::string("what\0is\r\n\x00\xff this?", 17);
  e.response.assign(1 << 20, '\0');
  for (std::size_t i = 0; i < e.response.size(); i += 7) e.response[i] = static_cast<char>(i & 0xff);
  e.metadata = std::string("{\"k\":\"\\u0000\"}");
  e.ttl = Millis(0);
  e.id = s.insert(e);

  auto by_id = s.get_by_id(e.id);
  ASSERT_TRUE(by_id);
  EXPECT_TRUE(same_bits(by_id->embedding, e.embedding));
  EXPECT_TRUE(same_entry(*by_id, e));
  auto by_hash = s.get_by_hash(e.ns, e.query_hash);
  ASSERT_TRUE(by_hash);
  EXPECT_TRUE(same_entry(*by_hash, e));
  int rows = 0;
  s.iter_index_rows([&](const IndexRow& row) {
    ++rows;
    EXPECT_TRUE(same_bits(row.embedding, e.embedding));
    EXPECT_EQ(row.ns, e.ns);
    EXPECT_EQ(row.ttl, e.ttl);
    return true;
  });
  EXPECT_EQ(rows, 1);

  testing::TempDir dir;
  s.snapshot_to(dir / "snap");
  auto restored = RedisStore::restore_from(dir / "snap", RedisEnvironment::plain().options(fresh_prefix()));
  restored.open(kFp, dim);
  auto back = restored.get_by_id(e.id);
  ASSERT_TRUE(back);
  EXPECT_TRUE(same_entry(*back, e));
  EXPECT_TRUE(same_bits(back->embedding, e.embedding));
}

TEST(RedisStore, ReloadsScriptsAfterScriptFlush) {
  auto& server = RedisEnvironment::plain();
  auto s = open_store(server.options(fresh_prefix()));
  const EntryId a = s.insert(entry("ns", "a"));
  EXPECT_EQ(server.cli({"SCRIPT", "FLUSH"}), "OK");
  const EntryId b = s.insert(entry("ns", "b"));  // EVALSHA -> NOSCRIPT -> SCRIPT LOAD -> retry
  EXPECT_NE(a, b);
  EXPECT_EQ(s.count("ns"), 2u);
  EXPECT_EQ(s.read_version_counter(), 2u) << "the retried script ran exactly once";
  EXPECT_EQ(server.cli({"SCRIPT", "FLUSH"}), "OK");
  EXPECT_TRUE(s.delete_by_id(a));
  EXPECT_EQ(server.cli({"SCRIPT", "FLUSH"}), "OK");
  EXPECT_TRUE(s.get_by_hash("ns", hash_of("b")));
  EXPECT_EQ(s.read_version_counter(), 3u);
  EXPECT_TRUE(s.integrity_check());
}

TEST(RedisStore, OutageThrowsStoreUnavailableAndReconnectsByItself) {
  RedisServer server({.password = "", .append_only = true});
  ASSERT_NO_THROW(server.start());
  auto options = server.options(fresh_prefix());
  auto s = open_store(options);
  const EntryId a = s.insert(entry("ns", "a"));
  s.set_namespace_quota("ns", 7);

  server.stop();
  const auto e = entry("ns", "b");
  const std::vector<EntryId> ids = {a};
  expect_unavailable([&] { (void)s.get_by_id(a); }, "get_by_id");
  expect_unavailable([&] { (void)s.get_by_hash("ns", e.query_hash); }, "get_by_hash");
  expect_unavailable([&] { (void)s.insert(e); }, "insert");
  expect_unavailable([&] { (void)s.count(); }, "count");
  expect_unavailable([&] { (void)s.read_version_counter(); }, "read_version_counter");
  expect_unavailable([&] { (void)s.changes_since(0, 10); }, "changes_since");
  expect_unavailable([&] { (void)s.delete_many(ids); }, "delete_many");
  expect_unavailable([&] { s.iter_all([](const StoredEntry&) { return true; }); }, "iter_all");
  expect_unavailable([&] { (void)s.get_namespace_quota("ns"); }, "get_namespace_quota");
  EXPECT_FALSE(s.integrity_check()) << "unreachable Redis cannot vouch for the data";
  {
    RedisStore fresh(options);
    expect_unavailable([&] { fresh.open(kFp, kDim); }, "open while down");
  }

  ASSERT_NO_THROW(server.start());  // same port, same dir: the append-only file is replayed
  ASSERT_TRUE(s.get_by_id(a)) << "the first call after the restart reconnects and succeeds";
  EXPECT_EQ(s.get_namespace_quota("ns"), std::optional<std::size_t>(7));
  const EntryId b = s.insert(e);
  EXPECT_GT(b, a);
  EXPECT_EQ(s.count(), 2u);
  EXPECT_TRUE(s.integrity_check());
}

TEST(RedisStore, ServerRestartBetweenCallsIsInvisible) {
  // After a restart the old socket is dead; the store notices before sending (so it never
  // reports a write as failed that did not fail) and reconnects.
  RedisServer server({.password = "", .append_only = true});
  ASSERT_NO_THROW(server.start());
  auto s = open_store(server.options(fresh_prefix()));
  s.insert(entry("ns", "a"));
  server.stop();
  ASSERT_NO_THROW(server.start());
  EXPECT_NO_THROW(s.insert(entry("ns", "b")));
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(server.cli({"CLIENT", "KILL", "TYPE", "normal"}).empty(), false);
  EXPECT_EQ(s.read_version_counter(), 2u) << "a connection killed by the server is replaced transparently";
}

TEST(RedisStore, SnapshotAndRestoreBetweenPrefixes) {
  auto& server = RedisEnvironment::plain();
  auto src = open_store(server.options(fresh_prefix()));
  for (int i = 0; i < 600; ++i) {  // more than one page
    auto e = entry("ns" + std::to_string(i % 4), "k" + std::to_string(i));
    if (i % 5 == 0) e.ttl = Millis(1000 * i);
    src.insert(e);
  }
  src.set_namespace_quota("ns1", 50);
  src.write_meta("owner", "tests");
  testing::TempDir dir;
  src.snapshot_to(dir / "snap");

  // Into a fresh prefix.
  const auto fresh = server.options(fresh_prefix());
  auto copy = RedisStore::restore_from(dir / "snap", fresh);
  copy.open(kFp, kDim);
  EXPECT_EQ(copy.count(), 600u);
  EXPECT_EQ(copy.read_version_counter(), src.read_version_counter());
  EXPECT_EQ(copy.get_namespace_quota("ns1"), std::optional<std::size_t>(50));
  EXPECT_EQ(copy.read_meta("owner"), std::optional<std::string>("tests"));
  EXPECT_EQ(copy.iter_lru_ids(1000), src.iter_lru_ids(1000));
  EXPECT_TRUE(copy.integrity_check());
  EXPECT_FALSE(copy.changes_since(0, 10)) << "the feed is not restored: old readers must rebuild";
  EXPECT_TRUE(copy.changes_since(copy.read_version_counter(), 10));

  // Over a prefix that already holds data: replaced, and its counter moves past the old one.
  auto busy_options = server.options(fresh_prefix());
  {
    auto busy = open_store(busy_options);
    for (int i = 0; i < 700; ++i) busy.insert(entry("other", "x" + std::to_string(i)));
  }
  auto replaced = RedisStore::restore_from(dir / "snap", busy_options);
  replaced.open(kFp, kDim);
  EXPECT_EQ(replaced.count(), 600u);
  EXPECT_EQ(replaced.count("other"), 0u);
  EXPECT_GT(replaced.read_version_counter(), 700u);
  EXPECT_TRUE(replaced.integrity_check());

  // Garbage is StoreCorrupt, and leaves the destination untouched.
  {
    std::ofstream f(dir / "garbage", std::ios::binary);
    f << "not a snapshot at all, just some bytes that go on for a while......";
  }
  EXPECT_THROW(RedisStore::restore_from(dir / "garbage", busy_options), StoreCorrupt);
  EXPECT_EQ(replaced.count(), 600u);
  EXPECT_THROW(RedisStore::restore_from(dir / "missing", busy_options), CheckpointError);
}

TEST(RedisStore, WrongPasswordIsAClearError) {
  auto& server = RedisEnvironment::secured();
  auto good = server.options(fresh_prefix());
  EXPECT_NO_THROW(open_store(good).insert(entry("ns", "a")));

  auto wrong = good;
  wrong.password = "not the password";
  RedisStore s(wrong);
  try {
    s.open(kFp, kDim);
    ADD_FAILURE() << "a wrong password was accepted";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("authentication"), std::string::npos) << what;
    EXPECT_NE(what.find("Remediation: set RedisOptions::password"), std::string::npos) << what;
    EXPECT_EQ(what.find("not the password"), std::string::npos) << "the password must not leak into messages";
  }

  auto none = good;
  none.password.clear();
  RedisStore anonymous(none);
  try {
    anonymous.open(kFp, kDim);
    ADD_FAILURE() << "a server with requirepass accepted a client without password";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("NOAUTH"), std::string::npos) << e.what();
  }
}

TEST(RedisStore, ConnectsOverUnixSocketAndSelectsDatabase) {
  auto& server = RedisEnvironment::plain();
  const std::string prefix = fresh_prefix();
  auto unix_options = server.options(prefix);
  unix_options.unix_socket = server.unix_socket().string();
  unix_options.port = 0;  // ignored with a unix socket
  unix_options.database = 3;
  auto s = open_store(unix_options);
  s.insert(entry("ns", "a"));

  auto tcp_db3 = server.options(prefix);
  tcp_db3.database = 3;
  EXPECT_EQ(open_store(tcp_db3).count(), 1u) << "same server, database and prefix: same cache";
  EXPECT_EQ(open_store(server.options(prefix)).count(), 0u) << "database 0 is another cache";
}

TEST(RedisStore, ChangeFeedIsTrimmedToItsRetention) {
  auto options = RedisEnvironment::plain().options(fresh_prefix());
  options.change_feed_retention = 5;
  auto s = open_store(options);
  for (int i = 0; i < 12; ++i) s.insert(entry("ns", "k" + std::to_string(i)));
  EXPECT_EQ(s.read_version_counter(), 12u);
  EXPECT_FALSE(s.changes_since(0, 100)) << "versions 1..7 are gone";
  EXPECT_FALSE(s.changes_since(6, 100));
  auto tail = s.changes_since(7, 100);
  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->size(), 5u);
  EXPECT_EQ(tail->front().version, 8u);
  EXPECT_EQ(tail->back().version, 12u);
  EXPECT_FALSE(s.changes_since(13, 100)) << "a reader ahead of the counter must rebuild";
  EXPECT_EQ(s.clear_namespace("ns"), 12u);
  EXPECT_EQ(s.read_version_counter(), 24u);
  EXPECT_FALSE(s.changes_since(12, 100));
  EXPECT_EQ(s.changes_since(19, 100)->size(), 5u);
  EXPECT_TRUE(s.integrity_check());
}

TEST(RedisStore, ForkedChildUsesItsOwnConnection) {
  auto s = open_store(RedisEnvironment::plain().options(fresh_prefix()));
  s.insert(entry("ns", "parent-1"));
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    try {
      for (int i = 0; i < 50; ++i) s.insert(entry("ns", "child-" + std::to_string(i)));
      if (s.count("ns") < 51) code = 2;
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  for (int i = 0; i < 50; ++i) s.insert(entry("ns", "parent-x" + std::to_string(i)));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(s.count("ns"), 101u) << "parent and child interleaved on one socket would corrupt replies";
  EXPECT_TRUE(s.integrity_check());
}

TEST(RedisStore, IntegrityCheckFindsDamage) {
  auto& server = RedisEnvironment::plain();
  struct Damage {
    const char* name;
    std::vector<std::string> (*command)(const std::string& base);
  };
  const Damage damages[] = {
      {"embedding truncated",
       [](const std::string& b) {
         return std::vector<std::string>{"HSET", b + "e:0000000000000000002", "v", "abc"};
       }},
      {"row missing from lru",
       [](const std::string& b) {
         return std::vector<std::string>{"ZREM", b + "lru", "0000000000000000002"};
       }},
      {"namespace count off",
       [](const std::string& b) {
         return std::vector<std::string>{"HINCRBY", b + "nsc", "ns", "1"};
       }},
      {"row deleted behind our back",
       [](const std::string& b) {
         return std::vector<std::string>{"DEL", b + "e:0000000000000000003"};
       }},
      {"feed record lost",
       [](const std::string& b) {
         return std::vector<std::string>{"ZREMRANGEBYRANK", b + "feed", "-1", "-1"};
       }},
      {"hash index redirected",
       [](const std::string& b) {
         return std::vector<std::string>{"HSET", b + "n:6e73:hx", std::string(16, 'z'), "0000000000000000001"};
       }},
  };
  for (const auto& d : damages) {
    const std::string prefix = fresh_prefix();
    auto s = open_store(server.options(prefix));
    for (int i = 0; i < 5; ++i) s.insert(entry("ns", "k" + std::to_string(i)));
    ASSERT_TRUE(s.integrity_check());
    server.cli(d.command("{" + prefix + "}:"));
    EXPECT_FALSE(s.integrity_check()) << d.name;
  }
  // A key of the wrong type is reported as StoreCorrupt by the call that trips over it.
  const std::string prefix = fresh_prefix();
  auto s = open_store(server.options(prefix));
  server.cli({"SET", "{" + prefix + "}:ids", "oops"});
  EXPECT_THROW((void)s.count(), StoreCorrupt);
  EXPECT_THROW((void)s.insert(entry("ns", "k")), StoreCorrupt);
  EXPECT_FALSE(s.integrity_check());
}

TEST(RedisStore, InvalidOptionsAreRejected) {
  auto bad = [](auto mutate) {
    RedisOptions o;
    mutate(o);
    EXPECT_THROW(RedisStore{o}, InvalidArgument);
  };
  bad([](RedisOptions& o) { o.key_prefix = ""; });
  bad([](RedisOptions& o) { o.key_prefix = "a{b"; });
  bad([](RedisOptions& o) { o.key_prefix = "a}b"; });
  bad([](RedisOptions& o) { o.port = 0; });
  bad([](RedisOptions& o) { o.port = 70000; });
  bad([](RedisOptions& o) { o.connect_timeout = Millis(0); });
  bad([](RedisOptions& o) { o.command_timeout = Millis(-1); });
  bad([](RedisOptions& o) { o.change_feed_retention = 0; });
  bad([](RedisOptions& o) { o.database = -1; });
  EXPECT_NO_THROW(RedisStore{RedisOptions{}}) << "construction does not connect";
}

TEST(RedisStore, MovedFromHandleIsClosed) {
  auto s = open_store(RedisEnvironment::plain().options(fresh_prefix()));
  s.insert(entry("ns", "a"));
  RedisStore t = std::move(s);
  EXPECT_EQ(t.count(), 1u);
  EXPECT_THROW((void)s.count(), CacheClosed);  // NOLINT(bugprone-use-after-move): on purpose
  EXPECT_FALSE(s.integrity_check());
  s.close();
}

}  // namespace
}  // namespace engram
