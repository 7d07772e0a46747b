// engram demo: a semantic cache in front of a slow "LLM".
//
// The LLM is simulated by a fixed delay per call. The workload mixes first-time questions,
// exact repeats (with different case and spacing), paraphrases, and questions that look alike
// but mean something else ("enable" vs "disable" dark mode): a semantic cache must answer the
// paraphrases and must NOT answer the look-alikes. For each query the demo prints which layer
// answered (exact / semantic / miss), the similarity, the latency and whether that was right;
// at the end the hit rate, the wrong answers served and the time saved.
//
//   engram_demo [--embedder minilm|hashing] [--model-dir DIR] [--db PATH] [--llm-ms N]
//               [--threshold X]
//
// minilm (the default) is BertEmbedder with all-MiniLM-L6-v2 from --model-dir (default:
// engram::default_model_dir, where scripts/fetch-model.sh puts it); when it cannot be loaded
// the demo says why and falls back to HashingEmbedder, which is lexical, not semantic.
//
// Without --db the cache lives in a fresh file in a temporary directory, so every run starts
// cold. Run it twice with the same --db to see the cache survive a restart.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engram/engram.hpp"
#include "engram/stores/sqlite_store.hpp"
#if ENGRAM_DEMO_HAVE_BERT
#include "engram/embedders/bert_embedder.hpp"
#endif

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string embedder = "minilm";
  std::filesystem::path model_dir;
  std::filesystem::path db;
  int llm_ms = 400;
  std::optional<double> threshold;  // default: the embedder's recommended threshold
};

[[noreturn]] void usage(const char* argv0, const std::string& problem) {
  if (!problem.empty()) std::fprintf(stderr, "engram_demo: %s\n", problem.c_str());
  std::fprintf(stderr,
               "usage: %s [--embedder minilm|hashing] [--model-dir DIR] [--db PATH] [--llm-ms N] [--threshold X]\n",
               argv0);
  std::exit(2);  // NOLINT(concurrency-mt-unsafe): argument parsing, before any thread starts
}

// The whole of `text` as a number, or nullopt ("0.7x", "", "abc" are not numbers).
std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(argv[0], flag == "--help" || flag == "-h" ? "" : "missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--embedder" && (value == "minilm" || value == "hashing")) {
      args.embedder = value;
    } else if (flag == "--model-dir") {
      args.model_dir = value;
    } else if (flag == "--db") {
      args.db = value;
    } else if (flag == "--llm-ms") {
      const auto ms = parse_number(value);
      if (!ms || *ms < 0 || *ms > 60000 || *ms != static_cast<int>(*ms))
        usage(argv[0], "--llm-ms wants a whole number of milliseconds in 0..60000, not '" + value + "'");
      args.llm_ms = static_cast<int>(*ms);
    } else if (flag == "--threshold") {
      const auto t = parse_number(value);
      if (!t || *t < -1 || *t > 1)
        usage(argv[0], "--threshold wants a cosine similarity in [-1, 1], not '" + value + "'");
      args.threshold = *t;
    } else {
      std::string problem = "unknown option or value: ";
      problem += flag;
      problem += ' ';
      problem += value;
      usage(argv[0], problem);
    }
  }
  return args;
}

// The expensive call engram saves: a fixed delay, then a canned answer.
std::string slow_llm(const std::string& question, int delay_ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  return "Answer to: " + question;
}

// What a correct semantic cache does with each query.
enum class Expect {
  kMiss,        // first time this question is asked: the LLM must answer
  kHit,         // a repeat or a paraphrase of an earlier question: the cache should answer
  kMustNotHit,  // looks like an earlier question but means something else: a hit is a wrong answer
};

struct Query {
  const char* text;
  Expect expect;
  const char* note;
};

const std::vector<Query> kQueries = {
    {"How do I reset my password?", Expect::kMiss, ""},
    {"What is the capital of France?", Expect::kMiss, ""},
    {"How do I reset my password?", Expect::kHit, "exact repeat"},
    {"how do I RESET my password?  ", Expect::kHit, "exact after normalization"},
    {"I forgot my password, how can I change it?", Expect::kHit, "paraphrase"},
    {"What are your opening hours?", Expect::kMiss, ""},
    {"Which city is the capital of France?", Expect::kHit, "paraphrase"},
    {"When are you open?", Expect::kHit, "paraphrase"},
    {"How do I enable dark mode?", Expect::kMiss, ""},
    {"How do I disable dark mode?", Expect::kMustNotHit, "opposite of enable"},
    {"How do I cancel my subscription?", Expect::kMiss, ""},
    {"I want to stop my subscription, how?", Expect::kHit, "paraphrase"},
    {"Can I get a refund for my order?", Expect::kMiss, ""},
    {"Is it possible to get my money back for an order?", Expect::kHit, "paraphrase"},
    {"Do you ship to Canada?", Expect::kMiss, ""},
    {"Do you ship to Mexico?", Expect::kMustNotHit, "another country"},
    {"What payment methods do you accept?", Expect::kMiss, ""},
    {"Which payment methods can I use?", Expect::kHit, "paraphrase"},
    {"How do I upload a file?", Expect::kMiss, ""},
    {"How do I download a file?", Expect::kMustNotHit, "opposite direction"},
    {"Is Python 3.11 supported?", Expect::kMiss, ""},
    {"Is Python 3.12 supported?", Expect::kMustNotHit, "another version"},
    {"How do I delete my account?", Expect::kMiss, ""},
    {"How can I remove my account?", Expect::kHit, "paraphrase"},
    {"What is your phone number?", Expect::kMiss, ""},
    {"what is your phone number?", Expect::kHit, "exact after normalization"},
    {"How do I reset my password?", Expect::kHit, "exact repeat"},
    {"Do you ship to Canada?", Expect::kHit, "exact repeat"},
};

struct Tally {
  int exact = 0, semantic = 0, misses = 0, wrong = 0, missed_paraphrases = 0;
  double total_ms = 0;
};

template <class Embedder>
int run(Embedder embedder, const std::string& label, std::optional<double> threshold, const std::filesystem::path& db,
        int llm_ms) {
  // Default options but the threshold: the embedder's recommendation unless --threshold, and
  // the default LexicalGuard, which refuses look-alikes with another meaning.
  engram::SemanticCache cache(engram::SqliteStore(db), std::move(embedder),
                              engram::CacheOptions{.similarity_threshold = threshold});
  std::printf("engram demo: SqliteStore at %s\n  embedder %s, threshold %.2f%s, LLM %d ms per call\n\n", db.c_str(),
              label.c_str(), cache.similarity_threshold(), threshold ? "" : " (the embedder's recommendation)", llm_ms);
  std::printf("%-3s %-52s %-9s %-7s %10s  %s\n", "#", "query", "layer", "sim", "latency", "verdict");

  Tally t;
  for (std::size_t i = 0; i < kQueries.size(); ++i) {
    const Query& q = kQueries[i];
    const auto started = Clock::now();
    const auto hit = cache.get(q.text);
    std::string layer = "miss", similarity = "-";
    if (hit) {
      layer = engram::to_string(hit->layer);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", hit->similarity);
      similarity = buf;
      (hit->layer == engram::Layer::kExact ? t.exact : t.semantic)++;
    } else {
      cache.put(q.text, slow_llm(q.text, llm_ms));
      ++t.misses;
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    t.total_ms += ms;
    std::string verdict = "ok";
    if (hit && q.expect == Expect::kMustNotHit) {
      verdict = "WRONG ANSWER: served \"" + hit->matched_query + "\"'s response";
      ++t.wrong;
    } else if (!hit && q.expect == Expect::kHit) {
      verdict = "missed";
      ++t.missed_paraphrases;
    }
    if (*q.note) verdict += std::string(" (") + q.note + ")";
    std::printf("%-3zu %-52s %-9s %-7s %7.3f ms  %s\n", i + 1, q.text, layer.c_str(), similarity.c_str(), ms,
                verdict.c_str());
  }

  const auto n = static_cast<double>(kQueries.size());
  const double without_cache_ms = n * llm_ms;
  std::printf("\n%zu queries: %d exact hits, %d semantic hits, %d misses (LLM calls)\n", kQueries.size(), t.exact,
              t.semantic, t.misses);
  std::printf(
      "wrong answers served: %d (look-alike questions with another meaning that hit); repeats and "
      "paraphrases missed: %d\n",
      t.wrong, t.missed_paraphrases);
  std::printf("hit rate %.1f %%; time %.0f ms with engram vs %.0f ms without: %.0f ms saved (%.1fx faster)\n",
              100.0 * (t.exact + t.semantic) / n, t.total_ms, without_cache_ms, without_cache_ms - t.total_ms,
              without_cache_ms / t.total_ms);
  const engram::Stats stats = cache.stats();
  std::string refused;
  for (const auto& [reason, count] : stats.total.guarded_by_reason)
    refused += (refused.empty() ? "" : ", ") + reason + " " + std::to_string(count);
  std::printf("the guard refused %llu look-alike candidates above the threshold (%s)\n",
              static_cast<unsigned long long>(stats.total.misses(engram::MissReason::kGuarded)),
              refused.empty() ? "none" : refused.c_str());
  std::printf("get() latency p50 %.1f us, p99 %.1f us (misses included, embedding too); entries stored: %zu\n",
              stats.get_latency.p50_us, stats.get_latency.p99_us, stats.total.entries);
  cache.close();
  return 0;
}

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

  int status = 1;
  try {
    bool use_hashing = args.embedder == "hashing";
#if ENGRAM_DEMO_HAVE_BERT
    if (!use_hashing) {
      const std::filesystem::path dir =
          args.model_dir.empty() ? engram::default_model_dir("all-MiniLM-L6-v2") : args.model_dir;
      std::optional<engram::BertEmbedder> minilm;
      try {
        minilm.emplace(dir);
      } catch (const engram::Error& e) {
        std::printf(
            "engram demo: cannot load all-MiniLM-L6-v2 (%s)\n  falling back to HashingEmbedder; "
            "run scripts/fetch-model.sh for the real model\n\n",
            e.what());
        use_hashing = true;
      }
      if (minilm)
        status = run(std::move(*minilm), "BertEmbedder all-MiniLM-L6-v2 (d=384)", args.threshold, db, args.llm_ms);
    }
#else
    if (!use_hashing) {
      std::printf("engram demo: built without BertEmbedder (ENGRAM_WITH_BERT=OFF); using HashingEmbedder\n\n");
      use_hashing = true;
    }
#endif
    // 0.70 for HashingEmbedder unless --threshold: its paraphrases score ~0.75-0.8, unrelated < 0.45.
    if (use_hashing)
      status = run(engram::HashingEmbedder{}, "HashingEmbedder (d=384, lexical)", args.threshold.value_or(0.70), db,
                   args.llm_ms);
  } catch (const engram::Error& e) {
    std::fprintf(stderr, "engram demo failed: %s\n", e.what());
    status = 1;
  }
  if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
  return status;
}
