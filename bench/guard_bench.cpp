// LexicalGuard cost per call (G1-G3): paraphrases that pass every check, pairs rejected by a late
// check, and long texts. Texts are ~12 words, as cache queries usually are.
#include <benchmark/benchmark.h>

#include <string_view>
#include <utility>
#include <vector>

#include "engram/lexical_guard.hpp"

namespace {

using Pairs = std::vector<std::pair<std::string_view, std::string_view>>;

const Pairs kParaphrases = {
    {"How do I reset my password on Gmail if I forgot it?", "I forgot my Gmail password, how can I reset it?"},
    {"What is the best way to learn Python 3.12 quickly?", "how can I learn python 3.12 fast, best way?"},
    {"How much does shipping to Germany cost for a small parcel?",
     "what are the shipping costs to germany for small parcels"},
    {"Is it possible to cancel my order after it has shipped?", "Can I cancel my order once it has been shipped?"},
};

const Pairs kRejects = {
    {"How do I enable dark mode in the settings of my phone?",
     "How do I disable dark mode in the settings of my phone?"},
    {"How do I convert celsius to fahrenheit in a spreadsheet?",
     "How do I convert fahrenheit to celsius in a spreadsheet?"},
    {"Can I cancel my order after it has been shipped to me?",
     "Can't I cancel my order after it has been shipped to me?"},
    {"What is the capital city of France and how big is it?", "What is the capital city of Spain and how big is it?"},
};

const Pairs kMultilingual = {
    {"Wie setze ich mein Passwort für das Konto zurück?", "Passwort für das Konto zurücksetzen, wie geht das?"},
    {"Comment réinitialiser le mot de passe de mon compte ?",
     "réinitialiser le mot de passe du compte, comment faire ?"},
};

void run(benchmark::State& state, const Pairs& pairs) {
  const engram::LexicalGuard guard;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& [a, b] = pairs[i++ % pairs.size()];
    benchmark::DoNotOptimize(guard(a, b));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_G1_Paraphrase(benchmark::State& state) { run(state, kParaphrases); }
void BM_G2_Reject(benchmark::State& state) { run(state, kRejects); }
void BM_G3_NonAscii(benchmark::State& state) { run(state, kMultilingual); }

}  // namespace

BENCHMARK(BM_G1_Paraphrase);
BENCHMARK(BM_G2_Reject);
BENCHMARK(BM_G3_NonAscii);
BENCHMARK_MAIN();
