// sqlite_bench: per-call cost of the SqliteStore operations the cache sits on (single insert,
// insert_many, version-counter poll, quota read, exact lookup), on a fresh file. Plain main,
// no framework: prints one line per operation with the mean and p50/p99 per call, so that
// before/after ratios can be read from one run on a noisy machine.
//
//   sqlite_bench [dir] [n_inserts] [single|bulk|all]   (defaults: /tmp 20000 all)

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "engram/hash.hpp"
#include "engram/stores/sqlite_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kDim = 384;

engram::StoredEntry make_entry(std::size_t i, std::string_view ns = "bench") {
  engram::StoredEntry e;
  e.ns = ns;
  e.query = "query " + std::to_string(i);
  e.response = "response " + std::to_string(i);
  e.query_hash = engram::hash_bytes(e.ns + '\x1f' + e.query);
  e.embedding.resize(kDim);
  std::uint64_t s = i * 0x9e3779b97f4a7c15ull + 1;
  for (auto& f : e.embedding) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    f = static_cast<float>(s % 2000) / 1000.0f - 1.0f;
  }
  e.metadata = "{}";
  e.created_at = engram::Timestamp(engram::Millis(1'700'000'000'000LL + static_cast<std::int64_t>(i)));
  e.last_accessed_at = e.created_at;
  return e;
}

struct Stats {
  double mean_us, p50_us, p99_us;
};

Stats summarize(std::vector<double>& ns) {
  std::sort(ns.begin(), ns.end());
  double sum = 0;
  for (double v : ns) sum += v;
  return {sum / ns.size() / 1000.0, ns[ns.size() / 2] / 1000.0, ns[ns.size() * 99 / 100] / 1000.0};
}

// CPU time of the calling thread (user + system), in ns: unlike wall time it does not count
// the time other processes held the CPU, so it stays comparable on a loaded machine. It does
// not include the background checkpoint thread.
double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

void report(const char* name, std::vector<double>& ns, double cpu_ns = -1) {
  auto s = summarize(ns);
  std::printf("%-28s n=%-8zu mean %9.3f us  p50 %9.3f us  p99 %9.3f us  (%.0f ops/s)", name, ns.size(), s.mean_us,
              s.p50_us, s.p99_us, 1e6 / s.mean_us);
  if (cpu_ns >= 0) std::printf("  cpu %.3f us/op", cpu_ns / static_cast<double>(ns.size()) / 1000.0);
  std::printf("\n");
}

template <class F>
void time_calls(const char* name, std::size_t n, F&& f) {
  std::vector<double> ns;
  ns.reserve(n);
  const double cpu0 = thread_cpu_ns();
  for (std::size_t i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    f(i);
    auto t1 = Clock::now();
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  report(name, ns, thread_cpu_ns() - cpu0);
}

}  // namespace

// Experiments: ENGRAM_SQLITE_CKPT (wal_autocheckpoint pages), ENGRAM_SQLITE_MMAP (bytes),
// ENGRAM_SQLITE_CACHE_KIB override the SqliteOptions defaults; ENGRAM_SQLITE_BATCH sets the
// rows per insert_many call of the bulk row (default 10000).
engram::SqliteOptions bench_options() {
  engram::SqliteOptions o;
  if (const char* v = std::getenv("ENGRAM_SQLITE_CKPT")) o.wal_autocheckpoint_pages = std::strtoull(v, nullptr, 10);
  if (const char* v = std::getenv("ENGRAM_SQLITE_MMAP")) o.mmap_size = std::strtoull(v, nullptr, 10);
  if (const char* v = std::getenv("ENGRAM_SQLITE_CACHE_KIB")) o.cache_size_kib = std::strtoull(v, nullptr, 10);
  return o;
}

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : "/tmp";
  const std::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20000;
  const std::string which = argc > 3 ? argv[3] : "all";
  const auto single = dir / "engram_sqlite_bench_single.db";
  const auto bulk = dir / "engram_sqlite_bench_bulk.db";
  for (const auto& p : {single, bulk}) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      auto q = p;
      q += suffix;
      std::filesystem::remove(q);
    }
  }

  std::vector<engram::StoredEntry> entries;
  entries.reserve(n);
  for (std::size_t i = 0; i < n; ++i) entries.push_back(make_entry(i));

  if (which != "bulk") {
    engram::SqliteStore store(single, bench_options());
    store.open("bench:d384", kDim);
    store.set_namespace_quota("bench", 1'000'000);
    time_calls("insert (single)", n, [&](std::size_t i) { (void)store.insert(entries[i]); });
    time_calls("insert (upsert existing)", n / 4, [&](std::size_t i) { (void)store.insert(entries[i]); });
    volatile std::uint64_t sink = 0;
    time_calls("read_version_counter", 200000, [&](std::size_t) { sink = sink + store.read_version_counter(); });
    time_calls("get_namespace_quota", 200000, [&](std::size_t) { sink = sink + *store.get_namespace_quota("bench"); });
    time_calls("get_by_hash (hit)", 100000, [&](std::size_t i) {
      const auto& e = entries[i % n];
      sink = sink + static_cast<std::uint64_t>(store.get_by_hash(e.ns, e.query_hash)->id);
    });
    time_calls("update_access", 20000, [&](std::size_t i) {
      store.update_access(static_cast<engram::EntryId>(i % n + 1), engram::Timestamp(engram::Millis(1)));
    });
    {
      // Another handle commits between lookups (several processes sharing the file): the
      // reader's page cache is dropped each time, so pages come from mmap or pread.
      engram::SqliteStore other(single, bench_options());
      other.open("bench:d384", kDim);
      std::vector<double> ns;
      for (std::size_t i = 0; i < 5000; ++i) {
        other.update_access(static_cast<engram::EntryId>(i % n + 1), engram::Timestamp(engram::Millis(2)));
        const auto& e = entries[(i * 7919) % n];
        auto t0 = Clock::now();
        sink = sink + static_cast<std::uint64_t>(store.read_version_counter());
        sink = sink + static_cast<std::uint64_t>(store.get_by_hash(e.ns, e.query_hash)->id);
        ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
      }
      report("poll+get after other's commit", ns);
    }
    // The cache's put path: quota read, counter poll, insert (entries made before timing).
    std::vector<engram::StoredEntry> fresh;
    fresh.reserve(n / 4);
    for (std::size_t i = 0; i < n / 4; ++i) fresh.push_back(make_entry(n + i));
    time_calls("put path (quota+poll+insert)", n / 4, [&](std::size_t i) {
      sink = sink + *store.get_namespace_quota("bench") + store.read_version_counter();
      (void)store.insert(fresh[i]);
    });
  }
  if (which != "single") {
    engram::SqliteStore store(bulk, bench_options());
    store.open("bench:d384", kDim);
    // Rows per insert_many call. NOLINTNEXTLINE(concurrency-mt-unsafe): read once, single-threaded
    const char* batch_env = std::getenv("ENGRAM_SQLITE_BATCH");
    const std::size_t batch =
        batch_env != nullptr ? std::max<std::size_t>(1, std::strtoull(batch_env, nullptr, 10)) : 10000;
    std::vector<double> ns;
    const double cpu0 = thread_cpu_ns();
    auto t0 = Clock::now();
    for (std::size_t off = 0; off + batch <= n; off += batch) {
      auto b0 = Clock::now();
      auto ids = store.insert_many(std::span(entries).subspan(off, batch));
      ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - b0).count() / static_cast<double>(batch));
    }
    auto total = std::chrono::duration<double>(Clock::now() - t0).count();
    auto s = summarize(ns);
    const std::size_t whole = n - n % batch;  // rows in complete batches
    const auto rows = static_cast<double>(whole);
    std::printf("%-28s rows=%-8zu %.3f us/row  (%.0f rows/s overall, batches of %zu)  cpu %.3f us/row\n", "insert_many",
                n, s.mean_us, rows / total, batch, (thread_cpu_ns() - cpu0) / rows / 1000.0);
  }
  return 0;
}
