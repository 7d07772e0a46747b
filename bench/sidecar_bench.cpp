// Opening a cache from the index sidecar (docs/performance.md, "Open from the sidecar").
//
//   S1  open of 100k x 384 f32, rebuilt from the store (the sidecar off: W5's number)
//   S2  the same with a current sidecar
//   S3  the same with a sidecar 1,000 changes behind the store (kAuto, and kFlat)
//   S4  open of 1M x 384 int8 (flat) with a current sidecar (and the rebuild, once, for scale)
//   S5  open of an HNSW namespace (100k x 384 int8; 1M with ENGRAM_BENCH_HNSW_N) from the sidecar:
//       the graph is not rebuilt, its level 0 is mapped
//   S6  the same for 100k x 384 f32, the layout W5 opens with the defaults
//
// Data as in cache_bench.cpp: "query {i}" -> "response {i}", embeddings from a seeded
// generator, bulk-loaded with insert_many. Each open is timed from the constructor call to
// its return (the store is opened and, for a behind sidecar, the feed applied); p50 over the
// iterations. The sidecar file is in the page cache (it was just written or read), which is
// the case the targets are about: a process restarting on a machine that ran it before.
//
// ENGRAM_BENCH_QUICK=1 shrinks N by 10x. ENGRAM_BENCH_DIR sets where the files go.
// ENGRAM_BENCH_KEEP=1 keeps the stores in ENGRAM_BENCH_DIR/engram-sidecar-bench-kept for the
// next run (delete that directory after a sidecar format change).
// ENGRAM_BENCH_PHASES=1 prints each sidecar open's phases (checks, restore, catch-up) to stderr.
// --pss (before the benchmark flags) measures the proportional set size of 1 and of 4 reader
// processes on one 100k x 384 cache instead, flat and HNSW (see run_pss below).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "bench_common.hpp"
#include "engram/hash.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/sqlite_store.hpp"

namespace engram::bench {
namespace {

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::vector<float> embedding_of(std::string_view text, std::size_t d) {
  std::vector<float> v(d);
  random_unit_vector(v, fnv1a(text));
  return v;
}

class SuppliedEmbedder {
 public:
  explicit SuppliedEmbedder(std::size_t d = 384) : d_(d) {}
  std::size_t dim() const { return d_; }
  std::string fingerprint() const { return "engram:bench:supplied:v1:d" + std::to_string(d_); }
  std::vector<float> embed(std::string_view text) const { return embedding_of(text, d_); }

 private:
  std::size_t d_;
};

using Cache = SemanticCache<SqliteStore, SuppliedEmbedder>;
constexpr std::size_t kDim = 384;

std::string query_text(std::size_t i) { return "query " + std::to_string(i); }

bool keep() { return std::getenv("ENGRAM_BENCH_KEEP") != nullptr; }  // NOLINT(concurrency-mt-unsafe)

std::filesystem::path scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("ENGRAM_BENCH_DIR");  // NOLINT(concurrency-mt-unsafe): before any thread
    if (keep()) {                                        // reuse the stores (and sidecars) of an earlier run
      auto fixed = std::filesystem::path(base && *base ? base : "/tmp") / "engram-sidecar-bench-kept";
      std::filesystem::create_directories(fixed);
      return fixed;
    }
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/engram-sidecar-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return std::filesystem::path(pattern);
  }();
  return dir;
}

void remove_store(const std::filesystem::path& p) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", ".engram-index"}) std::filesystem::remove(p.string() + suffix, ec);
}

StoredEntry make_entry(std::size_t i, std::size_t d) {
  StoredEntry e;
  e.query = query_text(i);
  e.query_hash = hash_query(e.query);
  e.response = "response " + std::to_string(i);
  e.embedding = embedding_of(e.query, d);
  e.created_at = e.last_accessed_at = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
  return e;
}

// Inserts entries [begin, end) with insert_many.
void bulk_load(const std::filesystem::path& file, std::size_t begin, std::size_t end) {
  SqliteStore store(file);
  store.open(SuppliedEmbedder(kDim).fingerprint(), kDim);
  std::vector<StoredEntry> entries;
  for (std::size_t start = begin; start < end; start += 1000) {
    entries.clear();
    for (std::size_t i = start; i < std::min(end, start + 1000); ++i) entries.push_back(make_entry(i, kDim));
    store.insert_many(entries);
  }
  store.close();
}

CacheOptions base_options(IndexKind kind, ElementType element, bool sidecar) {
  CacheOptions o;
  o.index = kind;
  o.vectors = element;
  if (!sidecar) o.index_path = std::filesystem::path();
  if (std::getenv("ENGRAM_BENCH_PHASES") != nullptr) {  // NOLINT(concurrency-mt-unsafe): read-only use
    // Where each sidecar open went (the sidecar_load event's detail), to stderr.
    o.metrics_hook = [](std::string_view event, const EventAttrs& a) {
      if (event == "sidecar_load") std::cerr << "  sidecar_load: " << a.detail << "\n";
    };
  }
  return o;
}

std::unique_ptr<Cache> open_cache(const std::filesystem::path& file, const CacheOptions& o) {
  return std::make_unique<Cache>(SqliteStore(file), SuppliedEmbedder(kDim), o);
}

std::size_t scaled(std::size_t n) { return quick() ? n / 10 : n; }

// A store of n entries with a current sidecar for (kind, element). Built once per name.
std::filesystem::path prepared(const std::string& name, std::size_t n, IndexKind kind, ElementType element) {
  auto file = scratch_dir() / name;
  if (std::filesystem::exists(file)) return file;
  remove_store(file);
  bulk_load(file, 0, n);
  auto cache = open_cache(file, base_options(kind, element, true));
  cache->persist_index();
  cache->close();
  return file;
}

void publish_open(benchmark::State& state, Latencies& lat, const std::string& workload, const std::string& mode,
                  std::size_t n) {
  Row row{workload, mode};
  row.n = static_cast<double>(n);
  row.d = kDim;
  publish(state, lat, row);
}

// S1 / S2 / S4: opens of a store with a current sidecar, with it or without it.
void open_bench(benchmark::State& state, std::size_t n_full, IndexKind kind, ElementType element, bool sidecar) {
  const std::size_t n = scaled(n_full);
  const std::string name = std::string("s_") + to_string(kind) + "_" + to_string(element) + "_" + std::to_string(n);
  const auto file = prepared(name + ".db", n, kind, element);
  Latencies lat;
  std::string mode;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto cache = open_cache(file, base_options(kind, element, sidecar));
    lat.add(Clock::now() - t0);
    const Stats s = cache->stats();
    if (sidecar && s.sidecar_loads != 1) state.SkipWithError("the sidecar was not loaded");
    mode = cache->health().index_backend + (sidecar ? ", sidecar" : ", rebuild");
    state.PauseTiming();
    cache.reset();  // close: the sidecar is current, nothing is written
    state.ResumeTiming();
  }
  publish_open(state, lat, sidecar ? "S open (sidecar)" : "S open (rebuild)", mode, n);
}

// S3: the sidecar `behind` changes behind the store; the old sidecar is put back before each
// open (the open's close writes a current one).
void open_behind(benchmark::State& state, std::size_t n_full, std::size_t behind, IndexKind kind) {
  const std::size_t n = scaled(n_full);
  const auto file = scratch_dir() / ("behind_" + std::string(to_string(kind)) + "_" + std::to_string(n) + ".db");
  const auto sidecar = std::filesystem::path(file.string() + ".engram-index");
  const auto saved = std::filesystem::path(file.string() + ".saved");
  if (!std::filesystem::exists(saved)) {
    remove_store(file);
    bulk_load(file, 0, n);
    auto cache = open_cache(file, base_options(kind, ElementType::kF32, true));
    cache->persist_index();
    cache->close();
    std::filesystem::copy_file(sidecar, saved);
    bulk_load(file, n, n + behind);  // changes the sidecar does not reflect
  }
  Latencies lat;
  std::string mode;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove(sidecar);
    std::filesystem::copy_file(saved, sidecar);
    state.ResumeTiming();
    const auto t0 = Clock::now();
    auto cache = open_cache(file, base_options(kind, ElementType::kF32, true));
    lat.add(Clock::now() - t0);
    if (cache->stats().sidecar_loads != 1 || cache->size() != n + behind)
      state.SkipWithError("the sidecar was not loaded and caught up");
    mode = cache->health().index_backend + ", sidecar " + std::to_string(behind) + " changes behind";
    state.PauseTiming();
    cache.reset();
    state.ResumeTiming();
  }
  publish_open(state, lat, "S open (sidecar behind)", mode, n);
}

// ---- PSS: 1 vs 4 reader processes on one cache ----------------------------------------

// Proportional set size of `pid` in KiB (/proc/PID/smaps_rollup).
long pss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string key;
  long value = 0;
  std::string unit;
  while (in >> key) {
    if (key == "Pss:") {
      in >> value >> unit;
      return value;
    }
    std::getline(in, unit);
  }
  return -1;
}

// A reader: opens the cache, answers a few hundred semantic and exact gets (every flat row is
// scanned by each semantic get), reports ready on `ready_fd`, then waits to be killed.
// Then again after a second, when the sidecar's background checks have finished (an HNSW graph
// is searched, not scanned, from then on).
[[noreturn]] void reader(const std::filesystem::path& file, int ready_fd, IndexKind kind) {
  {
    CacheOptions o = base_options(kind, ElementType::kF32, true);
    o.flush_interval = Millis(0);
    auto cache = open_cache(file, o);
    for (int pass = 0; pass < 2; ++pass) {
      if (pass == 1) std::this_thread::sleep_for(std::chrono::seconds(1));
      for (std::size_t i = 0; i < 200; ++i) {
        const auto q = query_text(i * 37);
        (void)cache->get(q, {.embedding = embedding_of(q, kDim)});
        (void)cache->get("paraphrase of " + q, {.embedding = paraphrase(embedding_of(q, kDim), 0.95, i)});
      }
    }
    const char byte = cache->stats().sidecar_loads == 1 ? 'y' : 'n';
    if (::write(ready_fd, &byte, 1) != 1) ::_exit(3);
    ::pause();
  }
  ::_exit(0);
}

long readers_pss(const std::filesystem::path& file, IndexKind kind, int k, bool& all_loaded) {
  std::vector<pid_t> pids;
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  for (int i = 0; i < k; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      // A fresh image, so nothing is shared with the parent but the files both map.
      const std::string fd_text = std::to_string(fds[1]);
      ::execl("/proc/self/exe", "engram_bench_sidecar", "--reader", file.c_str(), fd_text.c_str(), to_string(kind),
              nullptr);
      ::_exit(4);
    }
    pids.push_back(pid);
  }
  ::close(fds[1]);
  all_loaded = true;
  for (int i = 0; i < k; ++i) {
    char byte = 0;
    if (::read(fds[0], &byte, 1) != 1) throw std::runtime_error("a reader failed");
    all_loaded = all_loaded && byte == 'y';
  }
  ::close(fds[0]);
  long total = 0;
  for (const pid_t pid : pids) total += pss_kib(pid);
  for (const pid_t pid : pids) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
  return total;
}

// The flat layout (kAuto below its threshold, as the bulk load leaves it) and HNSW, the
// layout a 100k namespace has with the defaults once puts have grown it past auto_threshold.
int run_pss() {
  const std::size_t n = scaled(100000);
  bool all_loaded = true;
  for (const IndexKind kind : {IndexKind::kAuto, IndexKind::kHnsw}) {
    const auto file =
        prepared("pss_" + std::string(to_string(kind)) + "_" + std::to_string(n) + ".db", n, kind, ElementType::kF32);
    bool loaded1 = false, loaded4 = false;
    const long one = readers_pss(file, kind, 1, loaded1);
    const long four = readers_pss(file, kind, 4, loaded4);
    std::cout << (kind == IndexKind::kHnsw ? "hnsw-f32" : "flat-f32") << ", N = " << n << ", d = " << kDim << "\n"
              << "  PSS of 1 reader: " << static_cast<double>(one) / 1024.0 << " MiB (sidecar loaded: " << loaded1
              << ")\n"
              << "  PSS of 4 readers together: " << static_cast<double>(four) / 1024.0
              << " MiB (sidecar loaded: " << loaded4 << ")\n"
              << "  ratio 4 readers / 1 reader: " << static_cast<double>(four) / static_cast<double>(one) << "\n";
    all_loaded = all_loaded && loaded1 && loaded4;
  }
  std::error_code ec;
  if (!keep()) std::filesystem::remove_all(scratch_dir(), ec);
  return all_loaded ? 0 : 1;
}

}  // namespace
}  // namespace engram::bench

int main(int argc, char** argv) {
  using namespace engram;
  using namespace engram::bench;
  if (argc >= 5 && std::strcmp(argv[1], "--reader") == 0)
    reader(argv[2], std::atoi(argv[3]), std::strcmp(argv[4], "hnsw") == 0 ? IndexKind::kHnsw : IndexKind::kAuto);
  if (argc >= 2 && std::strcmp(argv[1], "--pss") == 0) return run_pss();
  benchmark::RegisterBenchmark("S1/open_rebuild_100k", open_bench, std::size_t{100000}, IndexKind::kAuto,
                               ElementType::kF32, false)
      ->Iterations(3)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("S2/open_sidecar_100k", open_bench, std::size_t{100000}, IndexKind::kAuto,
                               ElementType::kF32, true)
      ->Iterations(7)
      ->Unit(benchmark::kMillisecond);
  // kAuto: the catch-up's first put into the 100k flat namespace (over auto_threshold) starts
  // the flat -> HNSW switch (VectorIndex copies every row for the background build); kFlat
  // times the catch-up alone.
  benchmark::RegisterBenchmark("S3/open_sidecar_100k_behind_1000", open_behind, std::size_t{100000}, std::size_t{1000},
                               IndexKind::kAuto)
      ->Iterations(7)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("S3/open_sidecar_100k_behind_1000_flat", open_behind, std::size_t{100000},
                               std::size_t{1000}, IndexKind::kFlat)
      ->Iterations(7)
      ->Unit(benchmark::kMillisecond);
  if (std::getenv("ENGRAM_BENCH_SKIP_1M") == nullptr) {  // NOLINT(concurrency-mt-unsafe)
    benchmark::RegisterBenchmark("S4/open_sidecar_1M_int8", open_bench, std::size_t{1000000}, IndexKind::kFlat,
                                 ElementType::kInt8, true)
        ->Iterations(5)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("S4/open_rebuild_1M_int8", open_bench, std::size_t{1000000}, IndexKind::kFlat,
                                 ElementType::kInt8, false)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
  const char* hnsw_n = std::getenv("ENGRAM_BENCH_HNSW_N");  // NOLINT(concurrency-mt-unsafe)
  const std::size_t n_hnsw = hnsw_n ? std::strtoull(hnsw_n, nullptr, 10) : 100000;
  benchmark::RegisterBenchmark("S5/open_sidecar_hnsw", open_bench, n_hnsw, IndexKind::kHnsw, ElementType::kInt8, true)
      ->Iterations(3)
      ->Unit(benchmark::kMillisecond);
  // The layout W5 opens with the defaults: 100k x 384 f32 in HNSW.
  benchmark::RegisterBenchmark("S6/open_sidecar_hnsw_f32", open_bench, std::size_t{100000}, IndexKind::kHnsw,
                               ElementType::kF32, true)
      ->Iterations(7)
      ->Unit(benchmark::kMillisecond);
  const int rc = run_main(argc, argv);
  std::error_code ec;
  if (!keep()) std::filesystem::remove_all(scratch_dir(), ec);
  return rc;
}
