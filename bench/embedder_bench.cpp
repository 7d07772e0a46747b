// Embedder benchmarks (issue: real embedders): BertEmbedder with all-MiniLM-L6-v2.
//   E1 embed        single-text latency for texts of 8, 16, 32, 64 and 128 tokens ([CLS] and
//                   [SEP] included), one thread
//   E2 embed_batch  throughput in sentences/s at batch 1, 8 and 32 (16-token texts), on 1 and
//                   2 threads (each thread embeds its own batches)
// The texts come from embedder_texts(), which bench/embedder_reference.py rebuilds word for word,
// so the reference implementation runs the very same inputs. The model is read from
// ENGRAM_MODEL_DIR (default ~/.cache/engram/models)/all-MiniLM-L6-v2; scripts/fetch-model.sh
// puts it there.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "engram/embedders/bert_embedder.hpp"

namespace engram::bench {
namespace {

// Words that are one WordPiece each in the uncased BERT vocabulary, so a text of n words is
// n + 2 tokens. bench/embedder_reference.py holds the same list.
constexpr const char* kWords[] = {"the", "cat", "sat", "on", "a",     "mat",  "and", "we",
                                  "can", "see", "how", "it", "works", "with", "my",  "new"};

std::string text_of_tokens(std::size_t tokens) {
  std::string text;
  for (std::size_t i = 0; i + 2 < tokens; ++i) {
    if (!text.empty()) text += ' ';
    text += kWords[i % std::size(kWords)];
  }
  return text;
}

const BertEmbedder& model() {
  static const BertEmbedder embedder(default_model_dir("all-MiniLM-L6-v2"));
  return embedder;
}

void bm_embed(benchmark::State& state, std::size_t tokens) {
  const BertEmbedder& e = model();
  const std::string text = text_of_tokens(tokens);
  Latencies lat;
  for (auto _ : state) {
    const auto started = Clock::now();
    benchmark::DoNotOptimize(e.embed(text));
    lat.add(Clock::now() - started);
  }
  publish(state, lat, Row{.workload = "E1 embed", .mode = "minilm 1 thread", .n = double(tokens), .d = 384});
}

void bm_embed_batch(benchmark::State& state, std::size_t batch, unsigned threads) {
  const BertEmbedder& e = model();
  const std::vector<std::string> texts(batch, text_of_tokens(16));
  Latencies lat;
  std::size_t sentences = 0;
  double seconds = 0;
  for (auto _ : state) {
    constexpr int kRoundsPerThread = 4;
    const auto started = Clock::now();
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (int r = 0; r < kRoundsPerThread; ++r) benchmark::DoNotOptimize(e.embed_batch(texts));
      });
    }
    for (auto& w : workers) w.join();
    const auto took = Clock::now() - started;
    lat.add(took / kRoundsPerThread);  // per batch, as one thread sees it
    sentences += batch * threads * kRoundsPerThread;
    seconds += std::chrono::duration<double>(took).count();
  }
  publish(state, lat,
          Row{.workload = "E2 embed_batch",
              .mode = "minilm " + std::to_string(threads) + (threads == 1 ? " thread" : " threads"),
              .n = double(batch),
              .d = 384,
              .ops_s = seconds > 0 ? double(sentences) / seconds : 0});
}

const bool registered = [] {
  for (std::size_t tokens : {8, 16, 32, 64, 128})
    benchmark::RegisterBenchmark(("E1/" + std::to_string(tokens)).c_str(), bm_embed, tokens)
        ->Iterations(quick() ? 20 : 200)
        ->Unit(benchmark::kMicrosecond);
  for (unsigned threads : {1u, 2u})
    for (std::size_t batch : {1, 8, 32})
      benchmark::RegisterBenchmark(("E2/" + std::to_string(batch) + "/" + std::to_string(threads)).c_str(),
                                   bm_embed_batch, batch, threads)
          ->Iterations(quick() ? 2 : 10)
          ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
}  // namespace engram::bench

int main(int argc, char** argv) { return engram::bench::run_main(argc, argv); }
