// Index-level benchmarks: flat scans per element type, HNSW at growing N with recall@1 and
// build time, and the single-core streaming bandwidth every flat scan is compared with.
//
//   stream/read          GB/s of a plain single-core read over 512 MiB (the bw reference)
//   flat/<elem>/<N>x<d>  one top-4 search, single-threaded (and f32 with 2 threads)
//   hnsw/<elem>/<N>x<d>  one top-4 search at ef_search 64 (M 16, ef_construction 200); the
//                        graph is built once with 2 threads (build_s counter)
// Queries: "semantic" = paraphrases of stored vectors at cosine 0.95 (what a semantic hit
// looks like); "random" = unrelated unit vectors (the worst case for HNSW: in 384-d random
// data every neighbour is nearly equidistant). recall = recall@1 against exact f32 search.
//
// "real" rows (when engram_make_corpus has written the corpus, bench/corpus.hpp): all-MiniLM-L6-v2
// embeddings of Debian package summaries (the first ~58k rows real, beyond that synthetic
// mixtures of real rows); queries are embedded paraphrase-like edits of stored summaries
// ("paraphrase", W2-like) or held-out summaries ("held-out", W3-like).
//   real/flat/<elem>/<N>, real/hnsw/<elem>/<N>/<queries>/ef:<ef>
// ENGRAM_BENCH_HNSW_M / ENGRAM_BENCH_HNSW_EFC override M / ef_construction for every graph.
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "bench_common.hpp"
#include "corpus.hpp"
#include "engram/index/vector_index.hpp"

namespace engram::bench {
namespace {

std::size_t element_bytes(ElementType e) { return e == ElementType::kF32 ? 4 : e == ElementType::kF16 ? 2 : 1; }

// kRandom: i.i.d. Gaussian directions (BENCHMARKS.md's data; intrinsic dimension = d, the
// hardest case for any graph index). kLowDim: normalize(A z + 0.1 e) with z in R^32 and a
// fixed random A (384 x 32): an intrinsic dimension near 32, closer to how real sentence
// embeddings are distributed.
enum class Data { kRandom, kLowDim, kReal };
Data g_data = Data::kRandom;  // set by each benchmark before it touches data

std::vector<float> lowdim_vectors(std::size_t n, std::size_t d, std::uint64_t seed) {
  const std::size_t k = 32;
  std::vector<float> a(d * k);
  Gaussian ga(424242);
  for (float& x : a) x = ga.next();
  std::vector<float> out(n * d), z(k);
  for (std::size_t i = 0; i < n; ++i) {
    Gaussian g(seed * 1'000'003ull + i);
    for (float& x : z) x = g.next();
    float* row = out.data() + i * d;
    for (std::size_t r = 0; r < d; ++r) {
      float v = 0;
      for (std::size_t c = 0; c < k; ++c) v += a[r * k + c] * z[c];
      row[r] = v / std::sqrt(static_cast<float>(k)) + 0.1f * g.next();
    }
    normalize(std::span<float>(row, d));
  }
  return out;
}

const std::vector<float>& dataset(std::size_t n, std::size_t d) {
  static std::map<std::tuple<int, std::size_t, std::size_t>, std::vector<float>> cache;
  auto& v = cache[{static_cast<int>(g_data), n, d}];
  if (v.empty()) {
    if (g_data == Data::kReal) v = synthesize(*load_corpus(), n);
    else v = g_data == Data::kRandom ? unit_vectors(n, d, 1000 + d) : lowdim_vectors(n, d, 2000 + d);
  }
  return v;
}

enum class QueryKind { kSemantic, kRandom };

const std::vector<std::vector<float>>& queries(std::size_t n, std::size_t d, QueryKind kind, std::size_t count) {
  static std::map<std::tuple<int, std::size_t, std::size_t, int, std::size_t>, std::vector<std::vector<float>>> cache;
  auto& qs = cache[{static_cast<int>(g_data), n, d, static_cast<int>(kind), count}];
  if (!qs.empty()) return qs;
  if (g_data == Data::kReal) {
    const Corpus& c = *load_corpus();
    const auto& src = kind == QueryKind::kSemantic ? c.para : c.miss;
    for (std::size_t i = 0; i < count && (i + 1) * d <= src.size(); ++i)
      qs.emplace_back(src.begin() + static_cast<std::ptrdiff_t>(i * d),
                      src.begin() + static_cast<std::ptrdiff_t>((i + 1) * d));
    return qs;
  }
  const auto& data = dataset(n, d);
  std::uint64_t s = 77;
  for (std::size_t i = 0; i < count; ++i) {
    if (kind == QueryKind::kSemantic) {
      const std::size_t j = splitmix64(s) % n;
      qs.push_back(paraphrase(std::span<const float>(data).subspan(j * d, d), 0.95, 5000 + i));
    } else if (g_data == Data::kRandom) {
      std::vector<float> q(d);
      random_unit_vector(q, 9'000'000 + i);
      qs.push_back(std::move(q));
    } else {
      const auto fresh = lowdim_vectors(1, d, 9'000'000 + i);  // a new point of the same shape
      qs.push_back(fresh);
    }
  }
  return qs;
}

std::vector<EntryId> ids_for(std::size_t n) {
  std::vector<EntryId> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<EntryId>(i + 1);
  return ids;
}

// Exact top-1 (flat f32, threaded) for each query.
const std::vector<EntryId>& truth(std::size_t n, std::size_t d, QueryKind kind, std::size_t count) {
  static std::map<std::tuple<int, std::size_t, std::size_t, int, std::size_t>, std::vector<EntryId>> cache;
  auto& t = cache[{static_cast<int>(g_data), n, d, static_cast<int>(kind), count}];
  if (!t.empty()) return t;
  VectorIndex exact(IndexConfig{d, IndexKind::kFlat, ElementType::kF32, HnswParams{}, 2});
  exact.add_batch(ids_for(n), std::span<const float>(dataset(n, d)).first(n * d));
  for (const auto& q : queries(n, d, kind, count)) t.push_back(exact.search(q, 1).at(0).id);
  return t;
}

double recall_at_1(const VectorIndex& index, std::size_t n, std::size_t d, QueryKind kind, std::size_t count) {
  const auto& qs = queries(n, d, kind, count);
  const auto& t = truth(n, d, kind, count);
  std::size_t hits = 0;
  for (std::size_t i = 0; i < qs.size(); ++i) {
    const auto r = index.search(qs[i], 1);
    if (!r.empty() && r[0].id == t[i]) ++hits;
  }
  return static_cast<double>(hits) / static_cast<double>(qs.size());
}

void bm_stream(benchmark::State& state) {
  Latencies lat;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    benchmark::DoNotOptimize(stream_bandwidth_gbs());
    lat.add(Clock::now() - t0);
  }
  Row row{"stream read (1 core)", std::to_string(stream_bandwidth_gbs()).substr(0, 5) + " GB/s"};
  row.bw_frac = 1.0;
  row.ops_s = 0;
  publish(state, lat, row);
  state.counters["GBps"] = stream_bandwidth_gbs();
}

// Each iteration first streams a buffer of the same size as the index's rows, then runs one
// search: the two measurements alternate, so load from other processes hits both alike, and
// bw_frac = p50(stream) / p50(scan) compares them under the same conditions.
void bm_flat(benchmark::State& state, ElementType e, std::size_t n, std::size_t d, std::size_t threads, Data data) {
  g_data = data;
  VectorIndex index(IndexConfig{d, IndexKind::kFlat, e, HnswParams{}, threads});
  index.add_batch(ids_for(n), std::span<const float>(dataset(n, d)).first(n * d));
  const std::size_t bytes = n * d * element_bytes(e);
  const StreamBuffer stream_buf(bytes);
  const std::size_t q_count = 200;
  const auto& qs = queries(n, d, QueryKind::kSemantic, q_count);
  Latencies lat, stream;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto s0 = Clock::now();
    benchmark::DoNotOptimize(stream_buf.pass());
    stream.add(Clock::now() - s0);
    const auto& q = qs[i++ % qs.size()];
    const auto t0 = Clock::now();
    auto r = index.search(q, 4);
    lat.add(Clock::now() - t0);
    benchmark::DoNotOptimize(r.data());
  }
  const double p50_s = lat.percentile(50) / 1e6;
  Row row{data == Data::kReal ? "flat scan [real, paraphrase]" : "flat scan",
          std::string(index.describe()) + (threads > 1 ? " x" + std::to_string(threads) + " threads" : "")};
  row.n = static_cast<double>(n);
  row.d = static_cast<double>(d);
  row.bw_frac = stream.percentile(50) / lat.percentile(50);
  row.recall = recall_at_1(index, n, d, QueryKind::kSemantic, q_count);
  row.bytes_per_entry = static_cast<double>(index.memory_bytes()) / static_cast<double>(n);
  publish(state, lat, row);
  state.counters["GBps"] = static_cast<double>(bytes) / p50_s / 1e9;
  state.counters["stream_GBps"] = static_cast<double>(bytes) / (stream.percentile(50) / 1e6) / 1e9;
}

struct BuiltHnsw {
  std::unique_ptr<VectorIndex> index;
  double build_s = 0;
};

BuiltHnsw& hnsw(ElementType e, std::size_t n, std::size_t d) {
  static std::map<std::tuple<int, int, std::size_t, std::size_t>, BuiltHnsw> cache;
  auto& b = cache[{static_cast<int>(g_data), static_cast<int>(e), n, d}];
  if (b.index) return b;
  const auto& data = dataset(n, d);
  HnswParams params;
  if (const char* m = std::getenv("ENGRAM_BENCH_HNSW_M")) params.m = std::strtoull(m, nullptr, 10);
  if (const char* efc = std::getenv("ENGRAM_BENCH_HNSW_EFC")) params.ef_construction = std::strtoull(efc, nullptr, 10);
  b.index = std::make_unique<VectorIndex>(IndexConfig{d, IndexKind::kHnsw, e, params, 1},
                                          IndexTuning{.background_build = false, .build_threads = 2});
  const auto t0 = Clock::now();
  b.index->add_batch(ids_for(n), std::span<const float>(data).first(n * d));
  b.build_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return b;
}

void bm_hnsw(benchmark::State& state, ElementType e, std::size_t n, std::size_t d, QueryKind kind, std::size_t ef,
             Data data) {
  g_data = data;
  BuiltHnsw& b = hnsw(e, n, d);
  b.index->set_ef_search(ef);
  const std::size_t q_count = data == Data::kReal ? 2000 : n >= 1'000'000 ? 500 : 1000;
  const auto& qs = queries(n, d, kind, q_count);
  Latencies lat;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& q = qs[i++ % qs.size()];
    const auto t0 = Clock::now();
    auto r = b.index->search(q, 4);
    lat.add(Clock::now() - t0);
    benchmark::DoNotOptimize(r.data());
  }
  std::string what = kind == QueryKind::kSemantic ? "hnsw search" : "hnsw search, random queries";
  if (data == Data::kLowDim) what += " [lowdim data]";
  if (data == Data::kReal)
    what = kind == QueryKind::kSemantic ? "hnsw search [real, paraphrase]" : "hnsw search [real, held-out]";
  Row row{what, std::string(b.index->describe()) + " ef " + std::to_string(ef) + " (build " +
                    std::to_string(static_cast<int>(b.build_s + 0.5)) + " s)"};
  row.n = static_cast<double>(n);
  row.d = static_cast<double>(d);
  row.recall = recall_at_1(*b.index, n, d, kind, q_count);
  row.bytes_per_entry = static_cast<double>(b.index->memory_bytes()) / static_cast<double>(n);
  publish(state, lat, row);
  state.counters["build_s"] = b.build_s;
  state.counters["ef"] = static_cast<double>(ef);
}

void register_all() {
  const bool q = quick();
  const int scan_iters = q ? 40 : 300;
  benchmark::RegisterBenchmark("stream/read", bm_stream)->Iterations(1)->Unit(benchmark::kMillisecond);
  struct Flat {
    ElementType e;
    std::size_t n, d, threads;
  };
  const std::vector<Flat> flats = {{ElementType::kF32, 100000, 384, 1},  {ElementType::kF16, 100000, 384, 1},
                                   {ElementType::kInt8, 100000, 384, 1}, {ElementType::kInt8, 100000, 1536, 1},
                                   {ElementType::kF32, 100000, 1536, 1}, {ElementType::kF32, 100000, 384, 2}};
  for (const Flat& f : flats) {
    const std::string name = std::string("flat/") + to_string(f.e) + "/" + std::to_string(f.n) + "x" +
                             std::to_string(f.d) + "/threads:" + std::to_string(f.threads);
    benchmark::RegisterBenchmark(name.c_str(), bm_flat, f.e, f.n, f.d, f.threads, Data::kRandom)
        ->Iterations(scan_iters)
        ->Unit(benchmark::kMicrosecond);
  }
  // ef_search values: the default (64) everywhere, larger ones where recall needs them.
  auto efs_for = [&](std::size_t n) {
    return n >= 100000 && !q ? std::vector<std::size_t>{64, 128, 256} : std::vector<std::size_t>{64};
  };
  auto add_hnsw = [&](ElementType e, std::size_t n, QueryKind kind, Data data = Data::kRandom) {
    for (std::size_t ef : efs_for(n)) {
      const std::string name = std::string("hnsw/") + to_string(e) + "/" + std::to_string(n) + "x384/" +
                               (data == Data::kLowDim ? "lowdim/" : "") +
                               (kind == QueryKind::kSemantic ? "semantic" : "random") + "/ef:" + std::to_string(ef);
      benchmark::RegisterBenchmark(name.c_str(), bm_hnsw, e, n, std::size_t{384}, kind, ef, data)
          ->Iterations(q ? 500 : 3000)
          ->Unit(benchmark::kMicrosecond);
    }
  };
  std::vector<std::size_t> sizes = {1000, 10000};
  if (!q) sizes.push_back(100000);
  for (ElementType e : {ElementType::kF32, ElementType::kInt8})
    for (std::size_t n : sizes)
      for (QueryKind kind : {QueryKind::kSemantic, QueryKind::kRandom}) add_hnsw(e, n, kind);
  // Realistic data (bench/corpus.hpp), when the corpus file exists.
  if (load_corpus()) {
    const std::vector<std::size_t> real_sizes =
        q ? std::vector<std::size_t>{10000} : std::vector<std::size_t>{10000, 100000};
    for (std::size_t n : real_sizes) {
      for (ElementType e : {ElementType::kF32, ElementType::kF16, ElementType::kInt8}) {
        const std::string name = std::string("real/flat/") + to_string(e) + "/" + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), bm_flat, e, n, std::size_t{384}, std::size_t{1}, Data::kReal)
            ->Iterations(scan_iters)
            ->Unit(benchmark::kMicrosecond);
      }
    }
    std::vector<std::size_t> hnsw_sizes = real_sizes;
    if (!q) {
      std::size_t big = 1'000'000;
      if (const char* cap = std::getenv("ENGRAM_BENCH_HNSW_MAX")) big = std::strtoull(cap, nullptr, 10);
      if (big > 100000) hnsw_sizes.push_back(big);
    }
    for (std::size_t n : hnsw_sizes) {
      const std::vector<ElementType> elems =
          n > 100000 ? std::vector<ElementType>{ElementType::kF32, ElementType::kInt8}
                     : std::vector<ElementType>{ElementType::kF32, ElementType::kF16, ElementType::kInt8};
      for (ElementType e : elems) {
        for (QueryKind kind : {QueryKind::kSemantic, QueryKind::kRandom}) {
          for (std::size_t ef :
               n > 100000 ? std::vector<std::size_t>{32, 64, 128} : std::vector<std::size_t>{16, 32, 64, 128}) {
            const std::string name = std::string("real/hnsw/") + to_string(e) + "/" + std::to_string(n) + "/" +
                                     (kind == QueryKind::kSemantic ? "paraphrase" : "held-out") +
                                     "/ef:" + std::to_string(ef);
            benchmark::RegisterBenchmark(name.c_str(), bm_hnsw, e, n, std::size_t{384}, kind, ef, Data::kReal)
                ->Iterations(q ? 500 : 2000)
                ->Unit(benchmark::kMicrosecond);
          }
        }
      }
    }
  }
  // 1M x 384 int8 HNSW: long build (both cores), full runs only; ENGRAM_BENCH_HNSW_MAX caps
  // N (e.g. 200000) when a million is too long for the machine at hand.
  if (!q) {
    std::size_t big = 1'000'000;
    if (const char* cap = std::getenv("ENGRAM_BENCH_HNSW_MAX")) big = std::strtoull(cap, nullptr, 10);
    if (big > 100000)
      for (QueryKind kind : {QueryKind::kSemantic, QueryKind::kRandom}) add_hnsw(ElementType::kInt8, big, kind);
    // The same on low-intrinsic-dimension data (another long build); opt in with
    // ENGRAM_BENCH_LOWDIM=1.
    if (big > 100000 && std::getenv("ENGRAM_BENCH_LOWDIM") != nullptr)
      for (QueryKind kind : {QueryKind::kSemantic, QueryKind::kRandom})
        add_hnsw(ElementType::kInt8, big, kind, Data::kLowDim);
  }
}

}  // namespace
}  // namespace engram::bench

int main(int argc, char** argv) {
  engram::bench::register_all();
  std::printf("engram index benchmarks, kernels: %s\n", engram::VectorIndex::kernel_name());
  return engram::bench::run_main(argc, argv);
}
