// Faults: redis-server is killed (SIGKILL) in the middle of a load of puts and gets, then
// restarted on the same port and directory (appendonly yes, appendfsync always).
//  - while it is down, put() throws StoreUnavailable and get() fails open as a miss counted
//    as MissReason::kError; nothing crashes and nothing else is thrown;
//  - after the restart the same caches — in this process and in another one — resume by
//    themselves;
//  - every put that returned successfully before the kill is present afterwards.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engram/embedders/hashing_embedder.hpp"
#include "engram/errors.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/redis_store.hpp"
#include "redis_server.hpp"
#include "worker_process.hpp"

namespace engram {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;

using RedisCache = SemanticCache<RedisStore>;

CacheOptions fault_options() {
  CacheOptions o;
  o.sync_interval = Millis(0);
  o.flush_interval = Millis(50);
  return o;
}

// Puts and gets in a loop on their own thread, recording what happened.
class Load {
 public:
  explicit Load(RedisCache& cache, std::string tag) : cache_(cache), tag_(std::move(tag)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Load() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::size_t puts_ok() const { return puts_ok_.load(); }
  std::size_t puts_unavailable() const { return puts_unavailable_.load(); }
  std::size_t get_misses_while_failing() const { return get_misses_while_failing_.load(); }
  std::vector<std::string> acknowledged() {
    std::lock_guard lock(mu_);
    return acknowledged_;
  }
  std::vector<std::string> unexpected() {
    std::lock_guard lock(mu_);
    return unexpected_;
  }

 private:
  void run() {
    for (std::size_t i = 0; !stop_; ++i) {
      const std::string q = tag_ + " question number " + std::to_string(i);
      bool put_failed = false;
      try {
        cache_.put(q, "answer " + std::to_string(i));
        ++puts_ok_;
        std::lock_guard lock(mu_);
        acknowledged_.push_back(q);
      } catch (const StoreUnavailable&) {
        ++puts_unavailable_;
        put_failed = true;
      } catch (const std::exception& e) {
        std::lock_guard lock(mu_);
        unexpected_.push_back(std::string("put: ") + e.what());
      }
      try {
        // A key acknowledged earlier: served from memory when the store answers, a
        // fail-open miss when it does not.
        std::string probe;
        {
          std::lock_guard lock(mu_);
          if (!acknowledged_.empty()) probe = acknowledged_[i % acknowledged_.size()];
        }
        if (!probe.empty()) {
          auto hit = cache_.get(probe);
          if (!hit && put_failed) ++get_misses_while_failing_;
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mu_);
        unexpected_.push_back(std::string("get threw (fail_open is on): ") + e.what());
      }
      if (put_failed) std::this_thread::sleep_for(1ms);
    }
  }

  RedisCache& cache_;
  std::string tag_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> puts_ok_{0}, puts_unavailable_{0}, get_misses_while_failing_{0};
  std::mutex mu_;
  std::vector<std::string> acknowledged_, unexpected_;
};

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST(RedisFaults, KillAndRestartDuringLoad) {
  RedisServer server({.password = "", .append_only = true});
  ASSERT_NO_THROW(server.start());
  const std::string prefix = testing::fresh_prefix("fault");
  auto options = server.options(prefix);
  options.connect_timeout = Millis(200);

  RedisCache cache(RedisStore(options), HashingEmbedder(64), fault_options());
  testing::Worker other("other-process",
                        {"store=redis", "port=" + std::to_string(server.port()), "prefix=" + prefix, "sync_ms=0"});
  ASSERT_EQ(testing::id_of(testing::put(other, "", "from the other process", "before", -1)).empty(), false);

  Load load(cache, "load");
  ASSERT_TRUE(wait_for([&] { return load.puts_ok() >= 300; }, 30s)) << "load did not start";

  server.stop();  // SIGKILL, mid-load
  ASSERT_TRUE(wait_for([&] { return load.puts_unavailable() >= 20 && load.get_misses_while_failing() >= 5; }, 30s))
      << "puts must fail with StoreUnavailable while Redis is down";
  const auto errors_while_down = cache.stats().total.misses(MissReason::kError);
  EXPECT_GT(errors_while_down, 0u) << "failed gets are counted as MissReason::kError";
  {
    const auto reply = testing::put(other, "", "while down", "x", -1);
    EXPECT_EQ(reply.rfind("err\tStoreUnavailable\t", 0), 0u) << reply;
    EXPECT_EQ(testing::get(other, "", "from the other process"), "miss") << "fails open in the other process too";
  }
  const auto acknowledged_before_restart = load.acknowledged();

  ASSERT_NO_THROW(server.start());  // same port, same dir: the append-only file is replayed
  const auto ok_at_restart = load.puts_ok();
  ASSERT_TRUE(wait_for([&] { return load.puts_ok() >= ok_at_restart + 300; }, 30s))
      << "the cache did not resume by itself after Redis came back";
  load.stop();
  EXPECT_TRUE(load.unexpected().empty()) << load.unexpected().front();

  // The other process resumes too, and sees writes made after the restart.
  EXPECT_EQ(testing::split(testing::put(other, "", "after restart", "y", -1))[0], "ok");
  const auto last = load.acknowledged().back();
  EXPECT_EQ(testing::split(testing::get(other, "", last))[0], "hit") << "the other process follows again";

  // Every acknowledged put survived the kill: check from a cache opened afterwards.
  RedisCache fresh(RedisStore(options), HashingEmbedder(64), fault_options());
  std::size_t missing = 0;
  for (const auto& q : acknowledged_before_restart) {
    auto hit = fresh.get(q);
    if (!hit || hit->layer != Layer::kExact) {
      if (++missing < 5) ADD_FAILURE() << "acknowledged put lost: " << q;
    }
  }
  EXPECT_EQ(missing, 0u) << "of " << acknowledged_before_restart.size() << " acknowledged puts";
  EXPECT_TRUE(testing::split(testing::get(other, "", "from the other process"))[0] == "hit");
  EXPECT_TRUE(RedisStore(options).integrity_check() == false) << "an unopened handle never vouches";
  RedisStore check(options);
  check.open(HashingEmbedder(64).fingerprint(), 64);
  EXPECT_TRUE(check.integrity_check()) << "no half-applied write after the kill";
}

}  // namespace
}  // namespace engram
