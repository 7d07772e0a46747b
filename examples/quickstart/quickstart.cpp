// The README example, runnable: an LLM call wrapped by engram on a SQLite file.
//   engram_quickstart [DB]   (default: quickstart.db in the current directory)
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "engram/engram.hpp"
#include "engram/stores/sqlite_store.hpp"

namespace {

std::string call_llm(const std::string& question) {  // stands in for a slow remote call
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return "(model answer to: " + question + ")";
}

void ask(engram::SemanticCache<engram::SqliteStore>& cache, const std::string& question) {
  if (auto hit = cache.get(question)) {
    std::printf("%-36s -> %s hit (similarity %.2f): %s\n", question.c_str(), engram::to_string(hit->layer),
                hit->similarity, hit->response.c_str());
    return;
  }
  cache.put(question, call_llm(question), {.metadata = R"({"model":"demo-1"})", .ttl = std::chrono::hours(24)});
  std::printf("%-36s -> miss, asked the model and cached the answer\n", question.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    engram::SemanticCache cache(engram::SqliteStore(argc > 1 ? argv[1] : "quickstart.db"), engram::HashingEmbedder{},
                                engram::CacheOptions{.similarity_threshold = 0.7});
    ask(cache, "How do I reset my password?");
    ask(cache, "how do I reset my password?");  // exact after normalization
    ask(cache, "How can I reset my password");  // paraphrase: semantic
    ask(cache, "What is the capital of France?");

    // Single flight: the computation runs once per key, however many threads ask at once.
    const std::string answer = cache.get_or_compute("What's the weather like?", [] { return call_llm("weather"); });
    std::printf("get_or_compute -> %s\n", answer.c_str());

    const engram::Stats stats = cache.stats();
    std::printf("entries %zu, exact hits %llu, semantic hits %llu, misses %llu\n", stats.total.entries,
                static_cast<unsigned long long>(stats.total.hits_exact),
                static_cast<unsigned long long>(stats.total.hits_semantic),
                static_cast<unsigned long long>(stats.total.misses()));
  } catch (const engram::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
