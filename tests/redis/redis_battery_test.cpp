// The compliance battery against RedisStore on a real redis-server: once on a plain server
// and once on one with requirepass (the password travels in RedisOptions). Each test gets a
// fresh key prefix, so tests never see each other's data.

#include <engram/conformance/battery.hpp>

#include "engram/stores/redis_store.hpp"
#include "redis_server.hpp"

namespace {

using engram::RedisOptions;
using engram::RedisStore;
using engram::testing::fresh_prefix;
using engram::testing::RedisEnvironment;
using engram::testing::RedisServer;

template <RedisServer& (*Server)()>
struct RedisFactoryOn {
  using StoreType = RedisStore;
  static constexpr bool kSharedAcrossProcesses = true;

  RedisFactoryOn() : options_(Server().options(fresh_prefix("battery"))) {}
  RedisStore make() { return RedisStore(options_); }
  RedisOptions restore_location() { return Server().options(fresh_prefix("restored")); }
  // The key prefix make() uses, so that the Lineage suite can restore into the live store.
  RedisOptions live_location() { return options_; }

  // Damages the lowest-id row behind the store's back: its embedding no longer has dim
  // floats and it is missing from the LRU index.
  void corrupt() {
    const std::string base = "{" + options_.key_prefix + "}:";
    const std::string first = Server().cli({"ZRANGE", base + "ids", "0", "0"});
    ASSERT_FALSE(first.empty()) << "corrupt() needs at least one row";
    Server().cli({"HSET", base + "e:" + first, "v", "abc"});
    Server().cli({"ZREM", base + "lru", first});
  }

  RedisOptions options_;
};

RedisServer& plain_server() { return RedisEnvironment::plain(); }
RedisServer& secured_server() { return RedisEnvironment::secured(); }

using RedisFactory = RedisFactoryOn<&plain_server>;
using RedisPasswordFactory = RedisFactoryOn<&secured_server>;

}  // namespace

ENGRAM_INSTANTIATE_STORE_BATTERY(Redis, RedisFactory);
ENGRAM_INSTANTIATE_STORE_BATTERY(RedisAuth, RedisPasswordFactory);
