// Store workloads in the three phases of MemPalace RFC 001 section 7.3, and the migrate
// benchmark (engram_bench_store_phases; run by bench/run).
//
// Phases, in order, on one SQLite store of N entries (d = 384):
//   loaded      right after the bulk load (insert_many batches of 1000)
//   settled     after the store's own background work has settled: every handle closed (the
//               last connection checkpoints the WAL into the file), then reopened
//   <kind>      after run_maintenance(kind), for every kind the store lists in
//               maintenance_kinds() (read from the store, never guessed), cumulatively
// In each phase: P1 get_by_hash (random keys, per call), P2 iter_index_rows (rows/s), P3 cache
// open (index rebuild) + exact gets through SemanticCache. Every row records the store's
// maintenance_state(): numeric facts as counters (ms_page_count, ms_freelist_count,
// ms_wal_bytes, ms_file_bytes) and the whole state on a "## maintenance_state" line.
// M1: migrate the N entries SQLite -> SQLite with the tool's migrate_entries (rows/s).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "engram/engram.hpp"
#include "engram/stores/any_store.hpp"
#include "transfer.hpp"

namespace {

using namespace engram;
using engram::bench::Clock;
using engram::bench::Latencies;

constexpr std::size_t kDim = 384;
constexpr const char* kFingerprint = "bench:store-phases:d384";

std::size_t n_entries() { return engram::bench::quick() ? 20000 : 100000; }

struct Identity {  // the embedder identity the bench store records; never embeds
  std::size_t dim() const { return kDim; }
  std::string fingerprint() const { return kFingerprint; }
  std::vector<float> embed(std::string_view /*text*/) const { return std::vector<float>(kDim, 0.0f); }
};

StoredEntry entry(std::size_t i, const std::vector<float>& vectors) {
  StoredEntry e;
  e.ns = "ns" + std::to_string(i % 4);
  e.query = "bench question " + std::to_string(i);
  e.query_hash = hash_query(e.query);
  e.response = "bench answer " + std::to_string(i) + std::string(200, 'x');
  e.created_at = e.last_accessed_at = Timestamp(Millis(1'700'000'000'000 + static_cast<std::int64_t>(i)));
  e.embedding.assign(vectors.begin() + static_cast<std::ptrdiff_t>(i * kDim),
                     vectors.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDim));
  return e;
}

struct Fixture {
  std::filesystem::path dir;
  std::string uri;
  std::unique_ptr<AnyStore> store;
  std::vector<std::string> kinds;

  Fixture() {
    const char* base = std::getenv("ENGRAM_BENCH_DIR");  // NOLINT(concurrency-mt-unsafe): single-threaded setup
    dir = std::filesystem::path(base ? base : std::filesystem::temp_directory_path().string()) /
          ("engram-store-phases-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    uri = "sqlite:" + (dir / "phases.db").string();
  }
  ~Fixture() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  Fixture(Fixture&&) = delete;
  Fixture& operator=(Fixture&&) = delete;

  void reopen() {
    if (store) store->close();
    store = std::make_unique<AnyStore>(open_store(uri));
    store->open(kFingerprint, kDim);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void record_state(benchmark::State& state, const std::string& what) {
  const auto ms = fixture().store->maintenance_state();
  std::string line = "## maintenance_state " + what + ":";
  for (const auto& [k, v] : ms) {
    line += " " + k + "=" + v;
    if (k == "page_count" || k == "freelist_count" || k == "wal_bytes" || k == "file_bytes")
      state.counters["ms_" + k] = std::strtod(v.c_str(), nullptr);
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

void bulk_load(benchmark::State& state) {
  Fixture& f = fixture();
  const std::size_t n = n_entries();
  const auto vectors = engram::bench::unit_vectors(n, kDim, 7);
  Latencies lat;
  for (auto _ : state) {
    f.reopen();
    std::vector<StoredEntry> batch;
    batch.reserve(1000);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(entry(i, vectors));
      if (batch.size() == 1000 || i + 1 == n) {
        const auto t0 = Clock::now();
        f.store->insert_many(batch);
        lat.add(Clock::now() - t0);
        batch.clear();
      }
    }
  }
  engram::bench::Row row{.workload = "P0 bulk load (insert_many x1000)", .mode = "sqlite, loaded"};
  row.n = static_cast<double>(n);
  row.d = kDim;
  row.ops_s = static_cast<double>(n) / lat.total_s();
  engram::bench::publish(state, lat, row);
  record_state(state, "loaded");
}

void enter_phase(const std::string& phase) {
  Fixture& f = fixture();
  if (phase == "loaded") return;
  if (phase == "settled") {
    f.store->close();  // the last connection checkpoints the WAL into the file
    f.store.reset();
    f.reopen();
    return;
  }
  f.store->run_maintenance(phase);
}

void phase_workloads(benchmark::State& state, const std::string& phase, bool first_of_phase) {
  Fixture& f = fixture();
  if (first_of_phase) enter_phase(phase);
  const std::size_t n = n_entries();
  const std::string mode = "sqlite, after " + phase;
  // P1: point lookups by hash.
  Latencies lookups;
  std::uint64_t seed = 11;
  for (auto _ : state) {
    for (int i = 0; i < 5000; ++i) {
      const std::size_t j = engram::bench::splitmix64(seed) % n;
      const std::string q = "bench question " + std::to_string(j);
      const QueryHash h = hash_query(q);
      const auto t0 = Clock::now();
      auto e = f.store->get_by_hash("ns" + std::to_string(j % 4), h);
      lookups.add(Clock::now() - t0);
      benchmark::DoNotOptimize(e);
    }
  }
  engram::bench::Row row{.workload = "P1 get_by_hash", .mode = mode};
  row.n = static_cast<double>(n);
  row.d = kDim;
  engram::bench::publish(state, lookups, row);
  record_state(state, phase);
}

void phase_index_rows(benchmark::State& state, const std::string& phase) {
  Fixture& f = fixture();
  Latencies lat;
  std::size_t rows = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    f.store->iter_index_rows([&](const IndexRow&) {
      ++rows;
      return true;
    });
    lat.add(Clock::now() - t0);
  }
  engram::bench::Row row{.workload = "P2 iter_index_rows (full scan)", .mode = "sqlite, after " + phase};
  row.n = static_cast<double>(n_entries());
  row.d = kDim;
  row.ops_s = static_cast<double>(rows) / lat.total_s();  // rows per second
  engram::bench::publish(state, lat, row);
  record_state(state, phase);
}

void phase_cache(benchmark::State& state, const std::string& phase) {
  Fixture& f = fixture();
  Latencies gets;
  double open_s = 0;
  for (auto _ : state) {
    f.store->close();
    f.store.reset();
    const auto t0 = Clock::now();
    SemanticCache cache(open_store(f.uri), Identity{});
    open_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::uint64_t seed = 5;
    for (int i = 0; i < 5000; ++i) {
      const std::size_t j = engram::bench::splitmix64(seed) % n_entries();
      const auto t1 = Clock::now();
      auto hit = cache.get("bench question " + std::to_string(j), {.ns = "ns" + std::to_string(j % 4)});
      gets.add(Clock::now() - t1);
      benchmark::DoNotOptimize(hit);
    }
    cache.close();
    f.reopen();
  }
  state.counters["open_rebuild_s"] = open_s;
  engram::bench::Row row{.workload = "P3 cache exact get (after open)", .mode = "sqlite, after " + phase};
  row.n = static_cast<double>(n_entries());
  row.d = kDim;
  engram::bench::publish(state, gets, row);
  record_state(state, phase);
}

void migrate_bench(benchmark::State& state) {
  Fixture& f = fixture();
  Latencies lat;
  std::uint64_t copied = 0;
  for (auto _ : state) {
    const std::string dst_uri = "sqlite:" + (f.dir / "migrated.db").string();
    std::filesystem::remove(f.dir / "migrated.db");
    AnyStore dst = open_store(dst_uri);
    const auto t0 = Clock::now();
    const auto r = engram::tool::migrate_entries(*f.store, *f.store->recorded_identity(), dst,
                                                 engram::tool::MigrateOptions{.progress = {.enabled = false}});
    lat.add(Clock::now() - t0);
    copied = r.copied;
  }
  engram::bench::Row row{.workload = "M1 migrate sqlite -> sqlite", .mode = "batches of 1000, rows/s"};
  row.n = static_cast<double>(copied);
  row.d = kDim;
  row.ops_s = static_cast<double>(copied) / lat.total_s();
  engram::bench::publish(state, lat, row);
  std::fprintf(stderr, "## migrate: %llu rows in %.3f s = %.0f rows/s\n", static_cast<unsigned long long>(copied),
               lat.total_s(), row.ops_s);
}

}  // namespace

int main(int argc, char** argv) {
  // The phases come from the store itself: its maintenance kinds, read from a fresh store.
  {
    AnyStore probe = open_store("sqlite:" + (fixture().dir / "probe.db").string());
    probe.open(kFingerprint, kDim);
    fixture().kinds = probe.maintenance_kinds();
  }
  benchmark::RegisterBenchmark("P0/bulk_load", bulk_load)->Iterations(1)->Unit(benchmark::kMillisecond);
  std::vector<std::string> phases = {"loaded", "settled"};
  phases.insert(phases.end(), fixture().kinds.begin(), fixture().kinds.end());
  for (const std::string& phase : phases) {
    benchmark::RegisterBenchmark(("P1/get_by_hash/" + phase).c_str(), [phase](benchmark::State& s) {
      phase_workloads(s, phase, true);
    })->Iterations(1);
    benchmark::RegisterBenchmark(("P2/iter_index_rows/" + phase).c_str(), [phase](benchmark::State& s) {
      phase_index_rows(s, phase);
    })->Iterations(1);
    benchmark::RegisterBenchmark(("P3/cache_get/" + phase).c_str(), [phase](benchmark::State& s) {
      phase_cache(s, phase);
    })->Iterations(1);
  }
  benchmark::RegisterBenchmark("M1/migrate_sqlite_sqlite", migrate_bench)->Iterations(1)->Unit(benchmark::kMillisecond);
  return engram::bench::run_main(argc, argv);
}
