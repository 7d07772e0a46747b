// engram demo: a semantic cache in front of a slow "LLM".
//
// The LLM is simulated by a fixed delay per call. The workload mixes first-time questions,
// exact repeats (with different case and spacing) and paraphrases. For each query the demo
// prints which layer answered (exact / semantic / miss), the similarity and the latency; at
// the end the hit rate and the time saved.
//
//   engram_demo [--db PATH] [--llm-ms N] [--threshold X]
//
// Without --db the cache lives in a fresh file in a temporary directory, so every run starts
// cold. Run it twice with the same --db to see the cache survive a restart.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "engram/engram.hpp"
#include "engram/stores/sqlite_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::filesystem::path db;
  int llm_ms = 400;
  double threshold = 0.70;  // HashingEmbedder paraphrases score ~0.75-0.8, unrelated < 0.45
};

Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--db" && has_value) args.db = argv[++i];
    else if (flag == "--llm-ms" && has_value) args.llm_ms = std::atoi(argv[++i]);
    else if (flag == "--threshold" && has_value) args.threshold = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--db PATH] [--llm-ms N] [--threshold X]\n", argv[0]);
      std::exit(2);  // NOLINT(concurrency-mt-unsafe): exits during argument parsing, before any thread starts
    }
  }
  return args;
}

// The expensive call engram saves: a fixed delay, then a canned answer.
std::string slow_llm(const std::string& question, int delay_ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  return "Answer to: " + question;
}

const std::vector<std::string> kQuestions = {
    "How do I reset my password?",
    "What is the capital of France?",
    "How do I reset my password?",    // exact repeat
    "how do I RESET my password?  ",  // exact after normalization
    "How can I reset my password",    // paraphrase
    "What are your opening hours?",
    "What's the capital of France?",  // paraphrase
    "When are you open? What are your opening hours",
    "How do I cancel my subscription?",
    "Can I get a refund for my order?",
    "how do i cancel my subscription",    // punctuation differs: semantic
    "How can I cancel my subscription?",  // paraphrase
    "Do you ship to Canada?",
    "Can I get a refund on my order?",  // paraphrase
    "What payment methods do you accept?",
    "Which payment methods do you accept?",    // paraphrase
    "Do you ship internationally to Canada?",  // paraphrase
    "How do I change my email address?",
    "What is the capital of France?",      // exact repeat
    "How do I change my e-mail address?",  // paraphrase
    "Is there a student discount?",
    "Do you offer a student discount?",  // reworded too much: a miss
    "Where is my order?",
    "where is my order",  // punctuation differs: semantic
    "How do I delete my account?",
    "How can I delete my account?",  // paraphrase
    "What is your phone number?",
    "what is your phone number?",   // exact after normalization
    "How do I reset my password?",  // exact repeat
    "Do you ship to Canada?",       // exact repeat
};

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  std::filesystem::path temp_dir;
  std::filesystem::path db = args.db;
  if (db.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "engram-demo-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    temp_dir = pattern;
    db = temp_dir / "demo.db";
  }

  try {
    engram::SemanticCache cache(engram::SqliteStore(db), engram::HashingEmbedder{},
                                engram::CacheOptions{.similarity_threshold = args.threshold});
    std::printf("engram demo: SqliteStore at %s, HashingEmbedder (d=384), threshold %.2f, LLM %d ms per call\n\n",
                db.c_str(), args.threshold, args.llm_ms);
    std::printf("%-3s %-48s %-9s %-10s %10s\n", "#", "query", "layer", "similarity", "latency");

    int exact = 0, semantic = 0, misses = 0;
    double total_ms = 0;
    for (std::size_t i = 0; i < kQuestions.size(); ++i) {
      const std::string& q = kQuestions[i];
      const auto started = Clock::now();
      auto hit = cache.get(q);
      std::string layer = "miss", similarity = "-";
      if (hit) {
        layer = engram::to_string(hit->layer);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", hit->similarity);
        similarity = buf;
        (hit->layer == engram::Layer::kExact ? exact : semantic)++;
      } else {
        cache.put(q, slow_llm(q, args.llm_ms));
        ++misses;
      }
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
      total_ms += ms;
      std::printf("%-3zu %-48s %-9s %-10s %8.3f ms\n", i + 1, q.c_str(), layer.c_str(), similarity.c_str(), ms);
    }

    const auto n = static_cast<double>(kQuestions.size());
    const double without_cache_ms = n * args.llm_ms;
    std::printf("\n%zu queries: %d exact hits, %d semantic hits, %d misses (LLM calls)\n", kQuestions.size(), exact,
                semantic, misses);
    std::printf("hit rate %.1f %%; time %.0f ms with engram vs %.0f ms without: %.0f ms saved (%.1fx faster)\n",
                100.0 * (exact + semantic) / n, total_ms, without_cache_ms, without_cache_ms - total_ms,
                without_cache_ms / total_ms);
    const engram::Stats stats = cache.stats();
    std::printf("get() latency p50 %.1f us, p99 %.1f us (misses included); entries stored: %zu\n",
                stats.get_latency.p50_us, stats.get_latency.p99_us, stats.total.entries);
    cache.close();
  } catch (const engram::Error& e) {
    std::fprintf(stderr, "engram demo failed: %s\n", e.what());
    return 1;
  }
  if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
  return 0;
}
