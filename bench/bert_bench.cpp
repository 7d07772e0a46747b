// engram_bench_bert: BertEmbedder (all-MiniLM-L6-v2) latency and throughput.
//   BM_BertEmbed/<tokens>          one embed() of a text of exactly <tokens> tokens ([CLS]/[SEP]
//                                  included); counters p50_us, p99_us over the iterations
//   BM_BertBatch/<batch>/threads:N embed_batch() of <batch> 16-token texts; items_per_second is
//                                  sentences/s over all threads
// The model comes from scripts/fetch-model.sh (ENGRAM_MODEL_DIR or ~/.cache/engram/models).
// OpenBLAS runs single-threaded per call (ENGRAM_BLAS_THREADS overrides).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engram/embedders/bert_embedder.hpp"

namespace {

const engram::BertEmbedder* model() {
  static const std::unique_ptr<engram::BertEmbedder> m = [] {
    try {
      return std::make_unique<engram::BertEmbedder>(engram::default_model_dir("all-MiniLM-L6-v2"));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "engram_bench_bert: %s\n", e.what());
      return std::unique_ptr<engram::BertEmbedder>();
    }
  }();
  return m.get();
}

// A text of exactly `tokens` tokens: [CLS] + (tokens - 2) common words + [SEP].
std::string text_of(std::size_t tokens) {
  static const char* kWords[] = {"how", "do", "i", "reset", "my", "password", "on", "the", "new", "phone"};
  std::string s;
  for (std::size_t i = 0; i + 2 < tokens; ++i) s += std::string(i ? " " : "") + kWords[i % 10];
  return s;
}

void BM_BertEmbed(benchmark::State& state) {
  const auto* m = model();
  if (m == nullptr) return state.SkipWithError("model not installed: run scripts/fetch-model.sh");
  const std::string text = text_of(static_cast<std::size_t>(state.range(0)));
  if (m->tokenize(text).size() != static_cast<std::size_t>(state.range(0))) return state.SkipWithError("token count");
  std::vector<double> us;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(m->embed(text));
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
}
BENCHMARK(BM_BertEmbed)
    ->Arg(8)
    ->Arg(10)
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Arg(128)
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond);

void BM_BertBatch(benchmark::State& state) {
  const auto* m = model();
  if (m == nullptr) return state.SkipWithError("model not installed: run scripts/fetch-model.sh");
  const std::vector<std::string> texts(static_cast<std::size_t>(state.range(0)), text_of(16));
  for (auto _ : state) benchmark::DoNotOptimize(m->embed_batch(texts));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BertBatch)
    ->Arg(1)
    ->Arg(8)
    ->Arg(32)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
