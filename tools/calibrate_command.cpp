// `engram calibrate` (see calibrate_command.hpp).
#include "calibrate_command.hpp"
#include "tool_common.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "engram/lexical_guard.hpp"

namespace engram::tool {
namespace {

std::string fixed(double v, int digits) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.*f", digits, v);
  return buf.data();
}

std::string percent(double v) { return fixed(100.0 * v, 1) + "%"; }

std::string with_interval(const Rate& r) {
  return percent(r.rate) + " [" + percent(r.ci.low) + ", " + percent(r.ci.high) + "]";
}

std::string json_number(double v) { return fixed(v, 6); }

void json_rate(std::ostream& out, const Rate& r) {
  out << "{\"count\":" << r.hits << ",\"of\":" << r.total << ",\"rate\":" << json_number(r.rate) << ",\"ci95\":["
      << json_number(r.ci.low) << "," << json_number(r.ci.high) << "]}";
}

void json_row(std::ostream& out, const ThresholdResult& r) {
  out << "{\"threshold\":" << json_number(r.threshold) << ",\"guard\":" << (r.guarded ? "true" : "false")
      << ",\"hits\":" << r.hits << ",\"true_hits\":" << r.true_hits << ",\"false_hits\":" << r.false_hits
      << ",\"guard_rejections\":" << r.guard_rejections << ",\"hit_rate\":";
  json_rate(out, r.hit_rate);
  out << ",\"precision\":";
  json_rate(out, r.precision);
  out << ",\"recall\":";
  json_rate(out, r.recall);
  out << ",\"false_hit_rate\":";
  json_rate(out, r.false_hit_rate);
  out << ",\"categories\":{";
  bool first = true;
  for (const auto& [name, c] : r.categories) {
    out << (first ? "" : ",") << json_string(name) << ":{\"same\":" << (c.same ? "true" : "false") << ",\"hit\":";
    json_rate(out, c.hit);
    out << "}";
    first = false;
  }
  out << "}}";
}

void json_optional(std::ostream& out, std::optional<double> v) {
  if (v) {
    out << json_number(*v);
  } else {
    out << "null";
  }
}

const ThresholdResult* row_at(const std::vector<ThresholdResult>& rows, double t) {
  for (const ThresholdResult& r : rows) {
    if (std::abs(r.threshold - t) < 1e-9) return &r;
  }
  return nullptr;
}

void print_table(std::ostream& out, const std::vector<ThresholdResult>& off, const std::vector<ThresholdResult>& on) {
  out << "| threshold |";
  if (!off.empty()) out << " hit rate (off) | precision (off) | recall (off) | false hits (off) |";
  if (!on.empty()) out << " hit rate (on) | precision (on) | recall (on) | false hits (on) |";
  out << "\n|---:|";
  const std::size_t columns = (off.empty() ? 0 : 4) + (on.empty() ? 0 : 4);
  for (std::size_t i = 0; i < columns; ++i) out << "---:|";
  out << "\n";
  const std::size_t n = std::max(off.size(), on.size());
  for (std::size_t i = 0; i < n; ++i) {
    const ThresholdResult& any = off.empty() ? on[i] : off[i];
    out << "| " << fixed(any.threshold, 2) << " |";
    for (const auto* rows : {&off, &on}) {
      if (rows->empty()) continue;
      const ThresholdResult& r = (*rows)[i];
      out << " " << percent(r.hit_rate.rate) << " | " << percent(r.precision.rate) << " | " << percent(r.recall.rate)
          << " | " << percent(r.false_hit_rate.rate) << " |";
    }
    out << "\n";
  }
}

void print_categories(std::ostream& out, const ThresholdResult* off, const ThresholdResult* on) {
  const ThresholdResult* any = off != nullptr ? off : on;
  if (any == nullptr) return;
  out << "| category | pairs | measures |";
  if (off != nullptr) out << " guard off |";
  if (on != nullptr) out << " guard on |";
  out << "\n|---|---:|---|";
  if (off != nullptr) out << "---:|";
  if (on != nullptr) out << "---:|";
  out << "\n";
  for (const auto& [name, c] : any->categories) {
    out << "| " << name << " | " << c.hit.total << " | " << (c.same ? "recall" : "false-hit rate") << " |";
    for (const ThresholdResult* r : {off, on}) {
      if (r == nullptr) continue;
      out << " " << with_interval(r->categories.at(name).hit) << " |";
    }
    out << "\n";
  }
}

}  // namespace

int run_calibrate(const CalibrateOptions& options, const AnyEmbedder& embedder, std::ostream& out, std::ostream& err) {
  if (!(options.target_precision > 0.0 && options.target_precision <= 1.0)) {
    err << "engram calibrate: --target-precision must be in (0, 1]\n";
    return 2;
  }
  if (options.guard != "on" && options.guard != "off" && options.guard != "both") {
    err << "engram calibrate: --guard must be on, off or both\n";
    return 2;
  }
  try {
    (void)sweep_thresholds(options.range);
  } catch (const std::exception& e) {
    err << "engram calibrate: " << e.what() << "\n";
    return 2;
  }
  try {
    const std::vector<LabelledPair> pairs = load_pairs(options.pairs_file);
    const bool want_off = options.guard != "on";
    const bool want_on = options.guard != "off";
    Guard guard;
    if (want_on) guard = LexicalGuard{};
    const std::vector<ScoredPair> scored = score_pairs(pairs, embedder, guard);
    std::vector<ThresholdResult> off;
    std::vector<ThresholdResult> on;
    if (want_off) off = sweep(pairs, scored, options.range, false);
    if (want_on) on = sweep(pairs, scored, options.range, true);
    const std::optional<double> recommended_off = recommend_threshold(off, options.target_precision);
    const std::optional<double> recommended_on = recommend_threshold(on, options.target_precision);
    const std::optional<double> recommended = want_on ? recommended_on : recommended_off;
    std::size_t same = 0;
    for (const LabelledPair& p : pairs) same += p.same ? 1 : 0;

    if (!options.svg_file.empty()) {
      std::ofstream svg(options.svg_file, std::ios::binary | std::ios::trunc);
      svg << render_svg(pairs, scored, off, on, recommended,
                        "engram calibrate: " + embedder.fingerprint() + " on " + options.pairs_file);
      svg.close();
      if (!svg) {
        err << "engram calibrate: cannot write " << options.svg_file << "\n";
        return 1;
      }
    }

    const ThresholdResult* at_off = recommended ? row_at(off, *recommended) : nullptr;
    const ThresholdResult* at_on = recommended ? row_at(on, *recommended) : nullptr;
    if (options.json) {
      out << "{\"pairs_file\":" << json_string(options.pairs_file) << ",\"pairs\":" << pairs.size()
          << ",\"same_pairs\":" << same << ",\"different_pairs\":" << pairs.size() - same
          << ",\"embedder\":" << json_string(embedder.fingerprint())
          << ",\"embedder_recommended_threshold\":" << json_number(embedder.recommended_threshold())
          << ",\"target_precision\":" << json_number(options.target_precision)
          << ",\"guard\":" << json_string(options.guard) << ",\"recommended_threshold\":";
      json_optional(out, recommended);
      out << ",\"recommended_threshold_guard_off\":";
      json_optional(out, want_off ? recommended_off : std::nullopt);
      out << ",\"recommended_threshold_guard_on\":";
      json_optional(out, want_on ? recommended_on : std::nullopt);
      out << ",\"at_recommended\":[";
      bool first = true;
      for (const ThresholdResult* r : {at_off, at_on}) {
        if (r == nullptr) continue;
        out << (first ? "" : ",");
        json_row(out, *r);
        first = false;
      }
      out << "],\"sweep\":[";
      first = true;
      for (const auto* rows : {&off, &on}) {
        for (const ThresholdResult& r : *rows) {
          out << (first ? "" : ",");
          json_row(out, r);
          first = false;
        }
      }
      out << "]}\n";
      return 0;
    }

    out << "engram calibrate: " << pairs.size() << " pairs (" << same << " same, " << pairs.size() - same
        << " different) from " << options.pairs_file << "\n";
    out << "embedder: " << embedder.fingerprint()
        << " (its recommended threshold: " << fixed(embedder.recommended_threshold(), 2) << ")\n";
    out << "guard: " << (want_on ? "LexicalGuard (default options)" : "none")
        << (want_on && want_off ? ", and none" : "") << "\n\n";
    print_table(out, off, on);
    out << "\n";
    const char* basis = want_on ? "with the guard" : "without a guard";
    if (recommended) {
      const ThresholdResult& r = want_on ? *at_on : *at_off;
      out << "recommended threshold: " << fixed(*recommended, 2) << " (the lowest reaching precision "
          << percent(options.target_precision) << " " << basis << ": precision " << with_interval(r.precision)
          << ", recall " << with_interval(r.recall) << ", false-hit rate " << with_interval(r.false_hit_rate) << ")\n";
      if (want_on && want_off) {
        out << "without the guard: "
            << (recommended_off
                    ? "precision " + percent(options.target_precision) + " from " + fixed(*recommended_off, 2)
                    : "no threshold in the range reaches precision " + percent(options.target_precision))
            << "\n";
      }
      out << "\nper category at " << fixed(*recommended, 2) << " (95 % Wilson intervals):\n\n";
      print_categories(out, at_off, at_on);
    } else {
      const std::vector<ThresholdResult>& rows = want_on ? on : off;
      const ThresholdResult* best = nullptr;
      for (const ThresholdResult& r : rows) {
        if (r.hits > 0 && (best == nullptr || r.precision.rate > best->precision.rate)) best = &r;
      }
      out << "no threshold in [" << fixed(options.range.min, 2) << ", " << fixed(options.range.max, 2)
          << "] reaches precision " << percent(options.target_precision) << " " << basis;
      if (best != nullptr)
        out << " (best: " << percent(best->precision.rate) << " at " << fixed(best->threshold, 2) << ")";
      out << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    err << "engram calibrate: " << e.what() << "\n";
    return 1;
  }
}

int run_calibrate(const CalibrateOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<AnyEmbedder> embedder;
  try {
    embedder.emplace(make_embedder(options.embedder));
  } catch (const std::exception& e) {
    err << "engram calibrate: " << e.what() << "\n";
    return 1;
  }
  return run_calibrate(options, *embedder, out, err);
}

void add_calibrate_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<CalibrateOptions>();
  CLI::App* command = app.add_subcommand(
      "calibrate", "Choose a similarity threshold from a labelled pair file (JSON Lines: a, b, same, category)");
  command->add_option("pairs", options->pairs_file, "the pair file (JSON Lines)")->required();
  command->add_option("--target-precision", options->target_precision, "precision the threshold must reach")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--svg", options->svg_file, "also write a plot of the sweep to FILE");
  command->add_flag("--json", options->json, "print the result as one JSON object");
  command->add_option("--guard", options->guard, "evaluate with LexicalGuard on, off, or both")
      ->check(CLI::IsMember({"on", "off", "both"}))
      ->capture_default_str();
  command->add_option("--threshold-min", options->range.min, "lowest threshold of the sweep")->capture_default_str();
  command->add_option("--threshold-max", options->range.max, "highest threshold of the sweep")->capture_default_str();
  command->add_option("--step", options->range.step, "step of the sweep")->capture_default_str();
  add_embedder_options(*command, options->embedder);
  command->callback([options, &exit_code] { exit_code = run_calibrate(*options, std::cout, std::cerr); });
}

}  // namespace engram::tool
