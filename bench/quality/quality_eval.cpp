// engram_quality_eval: answer quality of SemanticCache on a labelled pair file (bench/quality),
// per embedder, with the guard off and on. See bench/quality/README.md; bench/quality/run builds
// and runs it.
//
// For each pair, through a real SemanticCache<DictStore, AnyEmbedder> with default options
// (so the threshold is the one the cache resolves: the embedder's recommendation): a fresh
// namespace, put(a), then get(b). A hit on a same pair is a true hit, on a different pair a
// false hit. With --both-directions a second namespace also does put(b), get(a), and each
// direction counts as a trial. Then the threshold sweep of tools/calibration on the same pairs.
// Prints markdown tables; --misfires lists the guard's misses (false hits it let through,
// paraphrases it rejected).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "calibrate_command.hpp"
#include "calibration.hpp"
#include "engram/embedders/any_embedder.hpp"
#include "engram/embedders/bert_embedder.hpp"
#include "engram/embedders/hashing_embedder.hpp"
#include "engram/lexical_guard.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/dict_store.hpp"
#include "tool_common.hpp"

namespace {

using engram::tool::LabelledPair;
using engram::tool::Rate;

std::string fixed(double v, int digits) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.*f", digits, v);
  return buf.data();
}
std::string pct(double v) { return fixed(100.0 * v, 1); }
std::string cell(const Rate& r) {
  return pct(r.rate) + " % [" + pct(r.ci.low) + ", " + pct(r.ci.high) + "] (" + std::to_string(r.hits) + "/" +
         std::to_string(r.total) + ")";
}

struct Outcome {
  bool hit = false;
  double similarity = 0;  // of the hit, or the guard-rejected candidate's (from the sweep scores)
};

// The cache run of one configuration.
struct CacheRun {
  std::string embedder;
  bool guard = false;
  double threshold = 0;
  std::vector<Outcome> outcomes;  // per trial
  std::map<std::string, std::uint64_t> guarded_by_reason;
};

using Cache = engram::SemanticCache<engram::DictStore, engram::AnyEmbedder>;

CacheRun run_cache(const std::vector<LabelledPair>& pairs, const engram::AnyEmbedder& embedder, const std::string& name,
                   bool guard, bool both_directions) {
  engram::CacheOptions options;
  options.flush_interval = engram::Millis{0};
  options.guard = guard ? engram::Guard(engram::LexicalGuard{}) : engram::Guard{};  // the default is LexicalGuard
  Cache cache(engram::DictStore{}, embedder, options);
  CacheRun run;
  run.embedder = name;
  run.guard = guard;
  run.threshold = cache.similarity_threshold();
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const LabelledPair& p = pairs[i];
    for (int direction = 0; direction < (both_directions ? 2 : 1); ++direction) {
      const std::string& stored = direction == 0 ? p.a : p.b;
      const std::string& asked = direction == 0 ? p.b : p.a;
      const std::string ns = "pair" + std::to_string(i) + (direction == 0 ? "ab" : "ba");
      cache.put(stored, "answer to: " + stored, engram::PutOptions{.ns = ns});
      const auto hit = cache.get(asked, engram::GetOptions{.ns = ns});
      run.outcomes.push_back(Outcome{hit.has_value(), hit ? hit->similarity : 0.0});
    }
  }
  for (const auto& [reason, count] : cache.stats().total.guarded_by_reason) run.guarded_by_reason[reason] = count;
  return run;
}

struct Summary {
  Rate recall;                          // paraphrases served
  Rate false_hits;                      // adversarial pairs served
  std::map<std::string, Rate> per_cat;  // hit rate per category
};

Summary summarize(const std::vector<LabelledPair>& pairs, const CacheRun& run, std::size_t trials_per_pair) {
  std::map<std::string, std::pair<std::size_t, std::size_t>> cats;
  std::size_t same_hits = 0;
  std::size_t same_n = 0;
  std::size_t diff_hits = 0;
  std::size_t diff_n = 0;
  for (std::size_t t = 0; t < run.outcomes.size(); ++t) {
    const LabelledPair& p = pairs[t / trials_per_pair];
    const bool hit = run.outcomes[t].hit;
    auto& [h, n] = cats[p.category];
    ++n;
    h += hit ? 1 : 0;
    if (p.same) {
      ++same_n;
      same_hits += hit ? 1 : 0;
    } else {
      ++diff_n;
      diff_hits += hit ? 1 : 0;
    }
  }
  Summary s{engram::tool::make_rate(same_hits, same_n), engram::tool::make_rate(diff_hits, diff_n), {}};
  for (const auto& [name, hn] : cats) s.per_cat[name] = engram::tool::make_rate(hn.first, hn.second);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("engram_quality_eval: answer quality of SemanticCache on a labelled pair file");
  std::string pairs_file;
  std::vector<std::string> embedders{"hashing", "minilm"};
  std::string model_dir;
  bool both_directions = false;
  bool misfires = false;
  std::string svg_dir;
  std::string scores_file;
  bool calibrate = false;
  double table_step = 0.05;
  double target_precision = 0.98;
  app.add_option("pairs", pairs_file, "the pair file (JSON Lines)")->required();
  app.add_option("--embedders", embedders, "hashing and/or minilm")->delimiter(',')->capture_default_str();
  app.add_option("--model-dir", model_dir, "minilm: the model directory (default: default_model_dir)");
  app.add_flag("--both-directions", both_directions, "also put(b), get(a) in a second namespace");
  app.add_flag("--misfires", misfires, "list the guard's misses: false hits it let through, paraphrases it rejected");
  app.add_option("--svg-dir", svg_dir, "write calibrate-<embedder>.svg plots there");
  app.add_option("--scores", scores_file,
                 "write every pair's similarity and guard verdict per embedder to FILE (JSON Lines)");
  app.add_flag("--calibrate", calibrate, "also print `engram calibrate`'s report for each embedder");
  app.add_option("--table-step", table_step, "step of the printed sweep table")->capture_default_str();
  app.add_option("--target-precision", target_precision, "precision the recommended threshold must reach")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const std::vector<LabelledPair> pairs = engram::tool::load_pairs(pairs_file);
    const std::size_t trials = both_directions ? 2 : 1;
    std::vector<std::string> categories;
    for (const LabelledPair& p : pairs) {
      if (std::find(categories.begin(), categories.end(), p.category) == categories.end()) {
        categories.push_back(p.category);
      }
    }
    std::cout << "# engram answer quality on " << pairs_file << "\n\n"
              << pairs.size() << " pairs; through SemanticCache<DictStore> with default options (threshold = the "
              << "embedder's recommendation), one namespace per pair: put(a), get(b)"
              << (both_directions ? " and put(b), get(a)" : "") << ". Guard: engram::LexicalGuard{} or none. "
              << "Rates with 95 % Wilson intervals.\n\n";

    struct Result {
      std::string name;
      std::string fingerprint;
      double threshold;
      Summary off;
      Summary on;
      std::vector<engram::tool::ThresholdResult> sweep_off;
      std::vector<engram::tool::ThresholdResult> sweep_on;
      std::vector<engram::tool::ScoredPair> scored;
      CacheRun run_off;
      CacheRun run_on;
    };
    std::vector<Result> results;
    std::ofstream scores_out;
    if (!scores_file.empty()) scores_out.open(scores_file, std::ios::binary | std::ios::trunc);
    for (const std::string& name : embedders) {
      std::optional<engram::AnyEmbedder> embedder;
      if (name == "hashing") {
        embedder.emplace(engram::HashingEmbedder{});
      } else if (name == "minilm") {
        embedder.emplace(engram::BertEmbedder(model_dir.empty() ? engram::default_model_dir("all-MiniLM-L6-v2")
                                                                : std::filesystem::path(model_dir)));
      } else {
        std::cerr << "engram_quality_eval: unknown embedder '" << name << "'\n";
        return 2;
      }
      Result r{name, embedder->fingerprint(), 0, {}, {}, {}, {}, {}, {}, {}};
      r.run_off = run_cache(pairs, *embedder, name, false, both_directions);
      r.run_on = run_cache(pairs, *embedder, name, true, both_directions);
      r.threshold = r.run_on.threshold;
      r.off = summarize(pairs, r.run_off, trials);
      r.on = summarize(pairs, r.run_on, trials);
      r.scored = engram::tool::score_pairs(pairs, *embedder, engram::LexicalGuard{});
      r.sweep_off = engram::tool::sweep(pairs, r.scored, {}, false);
      r.sweep_on = engram::tool::sweep(pairs, r.scored, {}, true);
      if (!svg_dir.empty()) {
        std::ofstream svg(std::filesystem::path(svg_dir) / ("calibrate-" + name + ".svg"));
        svg << engram::tool::render_svg(pairs, r.scored, r.sweep_off, r.sweep_on,
                                        engram::tool::recommend_threshold(r.sweep_on, target_precision),
                                        "engram calibrate: " + r.fingerprint);
      }
      if (scores_out.is_open()) {
        for (std::size_t i = 0; i < pairs.size(); ++i) {
          scores_out << "{\"embedder\":" << engram::tool::json_string(name) << ",\"line\":" << pairs[i].line
                     << ",\"category\":" << engram::tool::json_string(pairs[i].category)
                     << ",\"same\":" << (pairs[i].same ? "true" : "false")
                     << ",\"similarity\":" << fixed(r.scored[i].similarity, 6)
                     << ",\"guard_accept\":" << (r.scored[i].guard_accept ? "true" : "false")
                     << ",\"guard_reason\":" << engram::tool::json_string(r.scored[i].guard_reason)
                     << ",\"a\":" << engram::tool::json_string(pairs[i].a)
                     << ",\"b\":" << engram::tool::json_string(pairs[i].b) << "}\n";
        }
      }
      if (calibrate) {
        engram::tool::CalibrateOptions options;
        options.pairs_file = pairs_file;
        options.target_precision = target_precision;
        std::cout << "## engram calibrate " << pairs_file << " --embedder " << name << "\n\n";
        engram::tool::run_calibrate(options, *embedder, std::cout, std::cerr);
        std::cout << "\n";
      }
      results.push_back(std::move(r));
    }

    // Table 1: per category at the default threshold, through the cache.
    std::cout << "## At the default threshold, through SemanticCache\n\n| category | pairs |";
    for (const Result& r : results) {
      std::cout << " " << r.name << " @" << fixed(r.threshold, 2) << ", no guard | " << r.name << " @"
                << fixed(r.threshold, 2) << ", LexicalGuard |";
    }
    std::cout << "\n|---|---:|";
    for (std::size_t i = 0; i < results.size(); ++i) std::cout << "---|---|";
    std::cout << "\n";
    const auto count_of = [&](const std::string& category) {
      return std::count_if(pairs.begin(), pairs.end(), [&](const LabelledPair& p) { return p.category == category; });
    };
    for (const std::string& category : categories) {
      const bool same = std::any_of(pairs.begin(), pairs.end(),
                                    [&](const LabelledPair& p) { return p.category == category && p.same; });
      std::cout << "| " << category << (same ? " (recall)" : " (false hits)") << " | " << count_of(category) << " |";
      for (const Result& r : results) {
        std::cout << " " << cell(r.off.per_cat.at(category)) << " | " << cell(r.on.per_cat.at(category)) << " |";
      }
      std::cout << "\n";
    }
    std::cout << "| **all adversarial (false hits)** | " << results.front().off.false_hits.total / trials << " |";
    for (const Result& r : results)
      std::cout << " **" << cell(r.off.false_hits) << "** | **" << cell(r.on.false_hits) << "** |";
    std::cout << "\n| **paraphrase recall** | " << results.front().off.recall.total / trials << " |";
    for (const Result& r : results)
      std::cout << " **" << cell(r.off.recall) << "** | **" << cell(r.on.recall) << "** |";
    std::cout << "\n\n";

    for (const Result& r : results) {
      std::cout << "Guard rejections (" << r.name << ", by reason):";
      for (const auto& [reason, count] : r.run_on.guarded_by_reason) std::cout << " " << reason << " " << count;
      std::cout << "\n";
    }
    std::cout << "\n";

    // Targets (MiniLM + guard at its default threshold).
    for (const Result& r : results) {
      if (r.name != "minilm") continue;
      const double fh = r.on.false_hits.rate;
      const double rec = r.on.recall.rate;
      const double cost = r.off.recall.rate - r.on.recall.rate;
      std::cout << "Targets, MiniLM + LexicalGuard at " << fixed(r.threshold, 2) << ": false hits " << pct(fh)
                << " % (target <= 2 %: " << (fh <= 0.02 ? "met" : "NOT met") << "), paraphrase recall " << pct(rec)
                << " % (target >= 80 %: " << (rec >= 0.80 ? "met" : "NOT met") << "), recall cost of the guard "
                << fixed(100 * cost, 1) << " points (target <= 2: " << (cost <= 0.02 + 1e-12 ? "met" : "NOT met")
                << ")\n\n";
    }

    // Table 2: the sweep (tools/calibration), every table_step.
    for (const Result& r : results) {
      const auto rec_off = engram::tool::recommend_threshold(r.sweep_off, target_precision);
      const auto rec_on = engram::tool::recommend_threshold(r.sweep_on, target_precision);
      std::cout << "## Threshold sweep: " << r.name << " (" << r.fingerprint << ")\n\n"
                << "Lowest threshold with precision >= " << pct(target_precision) << " %: no guard "
                << (rec_off ? fixed(*rec_off, 2) : std::string("none")) << ", LexicalGuard "
                << (rec_on ? fixed(*rec_on, 2) : std::string("none")) << ".\n\n"
                << "| threshold | recall, no guard | precision, no guard | false hits, no guard | recall, guard | "
                   "precision, guard | false hits, guard |\n|---:|---:|---:|---:|---:|---:|---:|\n";
      for (std::size_t i = 0; i < r.sweep_off.size(); ++i) {
        const double t = r.sweep_off[i].threshold;
        const double k = (t - 0.5) / table_step;
        const bool on_grid = std::abs(k - std::round(k)) < 1e-6;
        const bool special = std::abs(t - r.threshold) < 1e-6 || (rec_on && std::abs(t - *rec_on) < 1e-6);
        if (!on_grid && !special) continue;
        const auto& a = r.sweep_off[i];
        const auto& b = r.sweep_on[i];
        std::cout << "| " << fixed(t, 2) << (special ? " *" : "") << " | " << pct(a.recall.rate) << " | "
                  << pct(a.precision.rate) << " | " << pct(a.false_hit_rate.rate) << " | " << pct(b.recall.rate)
                  << " | " << pct(b.precision.rate) << " | " << pct(b.false_hit_rate.rate) << " |\n";
      }
      std::cout << "\n(* the default threshold or the recommendation)\n\n";
    }

    if (misfires) {
      const engram::LexicalGuard guard;
      for (const Result& r : results) {
        std::cout << "## Misfires with LexicalGuard: " << r.name << " @" << fixed(r.threshold, 2) << "\n\n"
                  << "False hits the guard let through (category, similarity, stored a / asked b):\n\n";
        for (std::size_t t = 0; t < r.run_on.outcomes.size(); ++t) {
          const LabelledPair& p = pairs[t / trials];
          if (p.same || !r.run_on.outcomes[t].hit) continue;
          std::cout << "- " << p.category << " " << fixed(r.run_on.outcomes[t].similarity, 3) << ": \"" << p.a
                    << "\" / \"" << p.b << "\" (line " << p.line << ")\n";
        }
        std::cout << "\nParaphrases the guard rejected (reason, similarity):\n\n";
        for (std::size_t t = 0; t < r.run_on.outcomes.size(); ++t) {
          const LabelledPair& p = pairs[t / trials];
          if (!p.same || r.run_on.outcomes[t].hit || !r.run_off.outcomes[t].hit) continue;
          const bool forward = t % trials == 0;
          const auto verdict = forward ? guard(p.b, p.a) : guard(p.a, p.b);
          std::cout << "- " << verdict.reason << " " << fixed(r.run_off.outcomes[t].similarity, 3) << ": \"" << p.a
                    << "\" / \"" << p.b << "\" (line " << p.line << ")\n";
        }
        std::cout << "\nParaphrases the guard would reject at any threshold (all " << r.name << " similarities):\n\n";
        for (std::size_t i = 0; i < pairs.size(); ++i) {
          if (!pairs[i].same || r.scored[i].guard_accept) continue;
          std::cout << "- " << r.scored[i].guard_reason << " " << fixed(r.scored[i].similarity, 3) << ": \""
                    << pairs[i].a << "\" / \"" << pairs[i].b << "\" (line " << pairs[i].line << ")\n";
        }
        std::cout << "\n";
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "engram_quality_eval: " << e.what() << "\n";
    return 1;
  }
}
