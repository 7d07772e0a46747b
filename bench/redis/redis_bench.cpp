// Multi-process and Redis benchmarks (Google Benchmark). Starts its own redis-server on a free
// loopback port (like the tests); SQLite runs on a file in a temporary directory.
//
//   BM_WriteVisibleToReader/<store>   time from the start of a put in one process until a
//                                     reader process (sync_interval 0, polling) serves it:
//                                     p50_us / p99_us counters
//   BM_GetCounterUnchanged/<store>    an exact hit with sync_interval 0 while nobody writes:
//                                     the price of the counter check on every get
//   BM_GetNoCounterCheck/<store>      the same hit with a long sync_interval (no store I/O)
//   BM_SemanticHit/<store>            a paraphrase: embed + search + counter check
//   BM_RedisStoreGetByHash            one RedisStore::get_by_hash round trip (script)
//   BM_RedisStoreInsert               one RedisStore::insert (upsert script)
//   BM_RedisMemoryPerRow              Redis used_memory per row (dim 384, short texts)

#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engram/embedders/hashing_embedder.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/redis_store.hpp"
#include "engram/stores/sqlite_store.hpp"
#include "redis_server_process.hpp"
#include "temp_dir.hpp"

namespace {

using engram::Millis;
using Clock = std::chrono::steady_clock;

engram::testing::RedisServer& server() {
  static engram::testing::RedisServer* s = [] {
    auto* srv = new engram::testing::RedisServer();  // lives until exit (PDEATHSIG kills it)
    srv->start();
    return srv;
  }();
  return *s;
}

engram::testing::TempDir& scratch() {
  static engram::testing::TempDir dir;
  return dir;
}

enum Backend { kSqlite = 0, kRedis = 1 };

// Makes store handles on one fresh backing.
struct Backing {
  explicit Backing(Backend b) : backend(b) {
    static int n = 0;
    ++n;
    if (b == kRedis) {
      redis = server().options(engram::testing::fresh_prefix("bench"));
    } else {
      sqlite_path = (scratch() / ("bench-" + std::to_string(n) + ".db")).string();
    }
  }
  template <class F>
  auto with_store(F&& f) {
    if (backend == kRedis) return f(engram::RedisStore(redis));
    return f(engram::SqliteStore(sqlite_path));
  }
  Backend backend;
  engram::RedisOptions redis;
  std::string sqlite_path;
};

engram::CacheOptions options(Millis sync) {
  engram::CacheOptions o;
  o.sync_interval = sync;
  return o;
}

std::int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// Reader process: polls get() for key-0, key-1, ... and writes the monotonic time it first
// served each one into `fd`.
template <class Store>
void reader_process(Store store, int ready_fd, int fd, int keys) {
  // Threshold 1.0: only the exact key counts (probe k is semantically close to probe k-1).
  auto o = options(Millis(0));
  o.similarity_threshold = 1.0;
  engram::SemanticCache cache(std::move(store), engram::HashingEmbedder{}, o);
  char ok = 1;
  if (::write(ready_fd, &ok, 1) != 1) ::_exit(3);
  for (int k = 0; k < keys; ++k) {
    const std::string q = "visibility probe number " + std::to_string(k);
    while (!cache.get(q)) {
    }
    std::int64_t t = mono_ns();
    if (::write(fd, &t, sizeof t) != sizeof t) ::_exit(4);
  }
  cache.close();
}

void BM_WriteVisibleToReader(benchmark::State& state) {
  Backing backing(static_cast<Backend>(state.range(0)));
  constexpr int kKeys = 200;
  backing.with_store([](auto s) {  // create the schema before the reader starts
    engram::SemanticCache c(std::move(s), engram::HashingEmbedder{});
    return 0;
  });
  std::vector<double> latencies_us;
  for (auto _ : state) {
    int ready[2], times[2];
    if (::pipe(ready) != 0 || ::pipe(times) != 0) {
      state.SkipWithError("pipe failed");
      return;
    }
    const pid_t pid = ::fork();  // before this process has any cache (and so any thread)
    if (pid == 0) {
      try {
        backing.with_store([&](auto s) {
          reader_process(std::move(s), ready[1], times[1], kKeys);
          return 0;
        });
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(times[1]);
    char byte;
    if (::read(ready[0], &byte, 1) != 1) {
      state.SkipWithError("reader did not start");
      return;
    }
    std::vector<std::int64_t> started(kKeys);
    backing.with_store([&](auto s) {
      engram::SemanticCache writer(std::move(s), engram::HashingEmbedder{}, options(Millis(0)));
      for (int k = 0; k < kKeys; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the reader is polling
        started[static_cast<std::size_t>(k)] = mono_ns();
        writer.put("visibility probe number " + std::to_string(k), "answer " + std::to_string(k));
      }
      return 0;
    });
    for (int k = 0; k < kKeys; ++k) {
      std::int64_t seen = 0;
      if (::read(times[0], &seen, sizeof seen) != sizeof seen) {
        state.SkipWithError("reader died");
        break;
      }
      latencies_us.push_back(static_cast<double>(seen - started[static_cast<std::size_t>(k)]) / 1000.0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(ready[0]);
    ::close(times[0]);
    backing = Backing(backing.backend);  // the next round on a fresh backing
    backing.with_store([](auto s) {
      engram::SemanticCache c(std::move(s), engram::HashingEmbedder{});
      return 0;
    });
  }
  state.counters["p50_us"] = percentile(latencies_us, 0.50);
  state.counters["p99_us"] = percentile(latencies_us, 0.99);
  state.counters["writes"] = static_cast<double>(latencies_us.size());
}
BENCHMARK(BM_WriteVisibleToReader)->Arg(kSqlite)->Arg(kRedis)->Iterations(3)->Unit(benchmark::kMillisecond);

void exact_hits(benchmark::State& state, Millis sync) {
  Backing backing(static_cast<Backend>(state.range(0)));
  backing.with_store([&](auto s) {
    engram::SemanticCache cache(std::move(s), engram::HashingEmbedder{}, options(sync));
    cache.put("How do I reset my password?", "Use the reset link.");
    for (auto _ : state) benchmark::DoNotOptimize(cache.get("How do I reset my password?"));
    if (cache.stats().total.hits_exact < static_cast<std::uint64_t>(state.iterations()))
      state.SkipWithError("not a hit");
    return 0;
  });
}
void BM_GetCounterUnchanged(benchmark::State& state) { exact_hits(state, Millis(0)); }
void BM_GetNoCounterCheck(benchmark::State& state) { exact_hits(state, Millis(3'600'000)); }
BENCHMARK(BM_GetCounterUnchanged)->Arg(kSqlite)->Arg(kRedis)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GetNoCounterCheck)->Arg(kSqlite)->Arg(kRedis)->Unit(benchmark::kMicrosecond);

void BM_SemanticHit(benchmark::State& state) {
  Backing backing(static_cast<Backend>(state.range(0)));
  backing.with_store([&](auto s) {
    engram::SemanticCache cache(std::move(s), engram::HashingEmbedder{}, options(Millis(0)));
    for (int i = 0; i < 1000; ++i) cache.put("filler question " + std::to_string(i), "filler");
    cache.put("How do I reset my password?", "Use the reset link.");
    for (auto _ : state) benchmark::DoNotOptimize(cache.get("how do I reset my password, please?"));
    if (cache.stats().total.hits_semantic < static_cast<std::uint64_t>(state.iterations()))
      state.SkipWithError("not a hit");
    return 0;
  });
}
BENCHMARK(BM_SemanticHit)->Arg(kSqlite)->Arg(kRedis)->Unit(benchmark::kMicrosecond);

engram::StoredEntry bench_entry(int i) {
  engram::StoredEntry e;
  e.ns = "bench";
  e.query = "benchmark question number " + std::to_string(i);
  e.query_hash = engram::hash_query(e.query);
  e.response = "an answer of about the length of a short completion, number " + std::to_string(i);
  e.embedding = engram::HashingEmbedder{}.embed(e.query);
  e.created_at = e.last_accessed_at = engram::Timestamp(Millis(1'700'000'000'000LL + i));
  return e;
}

void BM_RedisStoreGetByHash(benchmark::State& state) {
  engram::RedisStore store(server().options(engram::testing::fresh_prefix("bench")));
  store.open(engram::HashingEmbedder{}.fingerprint(), 384);
  auto e = bench_entry(1);
  store.insert(e);
  for (auto _ : state) benchmark::DoNotOptimize(store.get_by_hash(e.ns, e.query_hash));
}
BENCHMARK(BM_RedisStoreGetByHash)->Unit(benchmark::kMicrosecond);

void BM_RedisStoreInsert(benchmark::State& state) {
  engram::RedisStore store(server().options(engram::testing::fresh_prefix("bench")));
  store.open(engram::HashingEmbedder{}.fingerprint(), 384);
  std::vector<engram::StoredEntry> entries;
  for (int i = 0; i < 1000; ++i) entries.push_back(bench_entry(i));
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(store.insert(entries[i++ % entries.size()]));
}
BENCHMARK(BM_RedisStoreInsert)->Unit(benchmark::kMicrosecond);

std::int64_t used_memory() {
  const std::string info = server().cli({"INFO", "memory"});
  const auto at = info.find("used_memory:");
  return std::stoll(info.substr(at + 12));
}

void BM_RedisMemoryPerRow(benchmark::State& state) {
  constexpr int kRows = 10'000;
  for (auto _ : state) {
    engram::RedisStore store(server().options(engram::testing::fresh_prefix("mem")));
    store.open(engram::HashingEmbedder{}.fingerprint(), 384);
    std::vector<engram::StoredEntry> entries;
    for (int i = 0; i < kRows; ++i) entries.push_back(bench_entry(i));
    const auto before = used_memory();
    for (std::size_t at = 0; at < entries.size(); at += 500) {
      store.insert_many(std::span(entries).subspan(at, std::min<std::size_t>(500, entries.size() - at)));
    }
    const auto after = used_memory();
    state.counters["bytes_per_row"] = static_cast<double>(after - before) / kRows;
    state.counters["embedding_bytes"] = 384 * 4;
    store.clear_namespace("bench");
  }
}
BENCHMARK(BM_RedisMemoryPerRow)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
