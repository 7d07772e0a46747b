// Pair files, scoring, threshold sweeps and the SVG plot (see calibration.hpp).
#include "calibration.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <span>
#include <sstream>
#include <unordered_map>
#include <utility>

namespace engram::tool {
namespace {

std::string where(const std::string& source, std::size_t line) {
  return line == 0 ? source : source + ":" + std::to_string(line);
}

// "a number", "an array", ... for a value of the wrong type, or "" when the value is not valid
// JSON at all (on-demand parsing finds that out only when the value is read).
template <class Value>
std::string kind_of(Value& value) {
  simdjson::ondemand::json_type type{};
  if (value.type().get(type) != simdjson::SUCCESS) return "";
  switch (type) {
    case simdjson::ondemand::json_type::array:
      return "an array";
    case simdjson::ondemand::json_type::object:
      return "an object";
    case simdjson::ondemand::json_type::number: {
      double d = 0;
      return value.get_double().get(d) == simdjson::SUCCESS ? "a number" : "";
    }
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      return value.get_string().get(s) == simdjson::SUCCESS ? "a string" : "";
    }
    case simdjson::ondemand::json_type::boolean: {
      bool b = false;
      return value.get_bool().get(b) == simdjson::SUCCESS ? "a boolean" : "";
    }
    case simdjson::ondemand::json_type::null: {
      bool is_null = false;
      return value.is_null().get(is_null) == simdjson::SUCCESS && is_null ? "null" : "";
    }
  }
  return "";
}

// Parses one non-blank line. Throws PairFileError.
LabelledPair parse_line(simdjson::ondemand::parser& parser, std::string_view text, const std::string& source,
                        std::size_t line) {
  const auto fail = [&](const std::string& message) { throw PairFileError(source, line, message); };
  if (!simdjson::validate_utf8(text)) fail("invalid UTF-8");
  const simdjson::padded_string padded(text);
  simdjson::ondemand::document doc;
  if (const auto err = parser.iterate(padded).get(doc); err != simdjson::SUCCESS) {
    fail(std::string("invalid JSON (") + simdjson::error_message(err) + ")");
  }
  simdjson::ondemand::object object;
  if (const auto err = doc.get_object().get(object); err != simdjson::SUCCESS) {
    if (err != simdjson::INCORRECT_TYPE) fail(std::string("invalid JSON (") + simdjson::error_message(err) + ")");
    const std::string kind = kind_of(doc);
    if (kind.empty()) fail("invalid JSON");
    fail("expected a JSON object, got " + kind);
  }

  LabelledPair pair;
  pair.line = line;
  bool have_a = false;
  bool have_b = false;
  bool have_same = false;
  bool have_category = false;
  const auto read_string = [&](simdjson::ondemand::value value, std::string_view key, std::string& out) {
    std::string_view s;
    if (const auto err = value.get_string().get(s); err != simdjson::SUCCESS) {
      const std::string kind = err == simdjson::INCORRECT_TYPE ? kind_of(value) : "";
      if (kind.empty()) fail(std::string("invalid JSON (") + simdjson::error_message(err) + ")");
      fail("field \"" + std::string(key) + "\" must be a string, got " + kind);
    }
    out.assign(s);
  };
  for (auto field : object) {
    std::string_view key;
    if (const auto err = field.unescaped_key().get(key); err != simdjson::SUCCESS) {
      fail(std::string("invalid JSON (") + simdjson::error_message(err) + ")");
    }
    simdjson::ondemand::value value;
    if (const auto err = field.value().get(value); err != simdjson::SUCCESS) {
      fail(std::string("invalid JSON (") + simdjson::error_message(err) + ")");
    }
    if (key == "a" || key == "b" || key == "category") {
      bool& seen = key == "a" ? have_a : key == "b" ? have_b : have_category;
      if (seen) fail("duplicate field \"" + std::string(key) + "\"");
      seen = true;
      read_string(value, key, key == "a" ? pair.a : key == "b" ? pair.b : pair.category);
    } else if (key == "same") {
      if (have_same) fail("duplicate field \"same\"");
      have_same = true;
      if (const auto err = value.get_bool().get(pair.same); err != simdjson::SUCCESS) {
        const std::string kind = err == simdjson::INCORRECT_TYPE ? kind_of(value) : "";
        if (kind.empty()) fail(std::string("invalid JSON (") + simdjson::error_message(err) + ")");
        fail("field \"same\" must be true or false, got " + kind);
      }
    }
    // Other fields are ignored (the iteration skips their values).
  }
  // Past the object the document must be over: current_location() fails only at the end.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) fail("invalid JSON (content after the object)");
  if (!have_a) fail("missing field \"a\"");
  if (!have_b) fail("missing field \"b\"");
  if (!have_same) fail("missing field \"same\"");
  if (pair.a.empty()) fail("field \"a\" is empty");
  if (pair.b.empty()) fail("field \"b\" is empty");
  if (have_category && pair.category.empty()) fail("field \"category\" is empty");
  if (!have_category) pair.category = pair.same ? "paraphrase" : "different";
  return pair;
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::vector<float> normalized(std::vector<float> v, std::size_t dim) {
  if (v.size() != dim) {
    throw InvalidArgument("the embedder returned " + std::to_string(v.size()) + " floats, expected " +
                          std::to_string(dim));
  }
  double norm = 0;
  for (const float x : v) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& x : v) x = static_cast<float>(x / norm);
  }
  return v;
}

// ---- SVG ---------------------------------------------------------------------------------

std::string num(double v) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.2f", v);
  return buf.data();
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct Panel {
  double left, top, width, height;  // plot area in pixels
  double x0, x1, y0, y1;            // data ranges
  double x(double v) const { return left + (v - x0) / (x1 - x0) * width; }
  double y(double v) const { return top + height - (v - y0) / (y1 - y0) * height; }
};

void axes(std::ostringstream& svg, const Panel& p, std::string_view x_label, std::string_view y_label,
          const std::vector<double>& x_ticks, const std::vector<double>& y_ticks) {
  svg << "<g class=\"axes\" stroke=\"#444\" stroke-width=\"1\" fill=\"none\">\n";
  svg << "<line x1=\"" << num(p.left) << "\" y1=\"" << num(p.top + p.height) << "\" x2=\"" << num(p.left + p.width)
      << "\" y2=\"" << num(p.top + p.height) << "\"/>\n";
  svg << "<line x1=\"" << num(p.left) << "\" y1=\"" << num(p.top) << "\" x2=\"" << num(p.left) << "\" y2=\""
      << num(p.top + p.height) << "\"/>\n";
  for (const double t : x_ticks) {
    svg << "<line x1=\"" << num(p.x(t)) << "\" y1=\"" << num(p.top + p.height) << "\" x2=\"" << num(p.x(t))
        << "\" y2=\"" << num(p.top + p.height + 5) << "\"/>\n";
  }
  for (const double t : y_ticks) {
    svg << "<line x1=\"" << num(p.left - 5) << "\" y1=\"" << num(p.y(t)) << "\" x2=\"" << num(p.left) << "\" y2=\""
        << num(p.y(t)) << "\"/>\n";
  }
  svg << "</g>\n";
  svg << "<g class=\"labels\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#222\">\n";
  for (const double t : x_ticks) {
    svg << "<text x=\"" << num(p.x(t)) << "\" y=\"" << num(p.top + p.height + 18) << "\" text-anchor=\"middle\">"
        << num(t) << "</text>\n";
  }
  for (const double t : y_ticks) {
    svg << "<text x=\"" << num(p.left - 8) << "\" y=\"" << num(p.y(t) + 4) << "\" text-anchor=\"end\">" << num(t)
        << "</text>\n";
  }
  svg << "<text x=\"" << num(p.left + p.width / 2) << "\" y=\"" << num(p.top + p.height + 36)
      << "\" text-anchor=\"middle\" font-size=\"12\">" << xml_escape(x_label) << "</text>\n";
  const double ly = p.top + p.height / 2;
  svg << "<text x=\"" << num(p.left - 42) << "\" y=\"" << num(ly) << "\" text-anchor=\"middle\" font-size=\"12\""
      << " transform=\"rotate(-90 " << num(p.left - 42) << " " << num(ly) << ")\">" << xml_escape(y_label)
      << "</text>\n";
  svg << "</g>\n";
}

void curve(std::ostringstream& svg, const Panel& p, const std::vector<ThresholdResult>& rows, bool precision,
           std::string_view id, std::string_view color, bool dashed) {
  if (rows.empty()) return;
  svg << "<polyline id=\"" << id << "\" fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\""
      << (dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"";
  bool first = true;
  for (const ThresholdResult& r : rows) {
    const double v = precision ? r.precision.rate : r.recall.rate;
    svg << (first ? "" : " ") << num(p.x(r.threshold)) << "," << num(p.y(v));
    first = false;
  }
  svg << "\"/>\n";
}

void legend(std::ostringstream& svg, double x, double y,
            const std::vector<std::pair<std::pair<std::string, std::string>, bool>>& entries) {
  svg << "<g class=\"legend\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#222\">\n";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double yy = y + static_cast<double>(i) * 16;
    const auto& [label_color, dashed] = entries[i];
    svg << "<line x1=\"" << num(x) << "\" y1=\"" << num(yy) << "\" x2=\"" << num(x + 22) << "\" y2=\"" << num(yy)
        << "\" stroke=\"" << label_color.second << "\" stroke-width=\"" << (dashed ? 2 : 8) << "\""
        << (dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
    svg << "<text x=\"" << num(x + 28) << "\" y=\"" << num(yy + 4) << "\">" << xml_escape(label_color.first)
        << "</text>\n";
  }
  svg << "</g>\n";
}

}  // namespace

PairFileError::PairFileError(const std::string& source, std::size_t line, const std::string& message)
    : InvalidArgument(where(source, line) + ": " + message), line_(line) {}

std::vector<LabelledPair> read_pairs(std::istream& in, const std::string& source) {
  std::vector<LabelledPair> pairs;
  simdjson::ondemand::parser parser;
  std::string text;
  std::size_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (blank(text)) continue;
    pairs.push_back(parse_line(parser, text, source, line));
  }
  if (in.bad()) throw PairFileError(source, 0, "read error after line " + std::to_string(line));
  if (pairs.empty()) throw PairFileError(source, 0, "no pairs");
  return pairs;
}

std::vector<LabelledPair> load_pairs(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw PairFileError(file.string(), 0, "cannot open the file");
  return read_pairs(in, file.string());
}

std::vector<ScoredPair> score_pairs(const std::vector<LabelledPair>& pairs, const AnyEmbedder& embedder,
                                    const Guard& guard, std::size_t batch_size) {
  if (batch_size == 0) batch_size = 1;
  // Distinct texts, in first-seen order.
  std::unordered_map<std::string, std::size_t> index;
  std::vector<std::string> texts;
  std::vector<std::pair<std::size_t, std::size_t>> ids;
  ids.reserve(pairs.size());
  const auto id_of = [&](const std::string& text) {
    const auto [it, inserted] = index.try_emplace(text, texts.size());
    if (inserted) texts.push_back(text);
    return it->second;
  };
  for (const LabelledPair& pair : pairs) {
    const std::size_t a = id_of(pair.a);
    ids.emplace_back(a, id_of(pair.b));
  }
  const std::size_t dim = embedder.dim();
  std::vector<std::vector<float>> vectors;
  vectors.reserve(texts.size());
  for (std::size_t start = 0; start < texts.size(); start += batch_size) {
    const std::size_t count = std::min(batch_size, texts.size() - start);
    auto batch = embedder.embed_batch(std::span<const std::string>(texts).subspan(start, count));
    if (batch.size() != count) {
      throw InvalidArgument("embed_batch returned " + std::to_string(batch.size()) + " vectors for " +
                            std::to_string(count) + " texts");
    }
    for (auto& v : batch) vectors.push_back(normalized(std::move(v), dim));
  }
  std::vector<ScoredPair> out;
  out.reserve(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& va = vectors[ids[i].first];
    const auto& vb = vectors[ids[i].second];
    double dot = 0;
    for (std::size_t k = 0; k < dim; ++k) dot += static_cast<double>(va[k]) * vb[k];
    ScoredPair s;
    s.similarity = dot;
    if (guard) {
      GuardVerdict verdict = guard(pairs[i].b, pairs[i].a);
      s.guard_accept = verdict.accept;
      if (!verdict.accept) s.guard_reason = std::move(verdict.reason);
    }
    out.push_back(std::move(s));
  }
  return out;
}

Interval wilson_interval(std::size_t successes, std::size_t trials, double z) {
  if (trials == 0) return {0.0, 1.0};
  const auto n = static_cast<double>(trials);
  const double p = static_cast<double>(std::min(successes, trials)) / n;
  const double z2 = z * z;
  const double denominator = 1 + z2 / n;
  const double center = (p + z2 / (2 * n)) / denominator;
  const double half = z / denominator * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

Rate make_rate(std::size_t hits, std::size_t total) {
  Rate r;
  r.hits = hits;
  r.total = total;
  r.rate = total == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(total);
  r.ci = wilson_interval(hits, total);
  return r;
}

ThresholdResult evaluate(const std::vector<LabelledPair>& pairs, const std::vector<ScoredPair>& scored,
                         double threshold, bool use_guard) {
  if (pairs.size() != scored.size()) {
    throw InvalidArgument("evaluate: " + std::to_string(pairs.size()) + " pairs but " + std::to_string(scored.size()) +
                          " scores");
  }
  ThresholdResult r;
  r.threshold = threshold;
  r.guarded = use_guard;
  r.pairs = pairs.size();
  std::size_t same_total = 0;
  std::size_t different_total = 0;
  std::map<std::string, std::pair<std::size_t, std::size_t>> per_category;  // hits, total
  std::map<std::string, bool> category_same;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const LabelledPair& pair = pairs[i];
    const bool above = scored[i].similarity >= threshold;
    const bool rejected = above && use_guard && !scored[i].guard_accept;
    const bool hit = above && !rejected;
    if (rejected) ++r.guard_rejections;
    auto& [cat_hits, cat_total] = per_category[pair.category];
    category_same.try_emplace(pair.category, pair.same);
    ++cat_total;
    if (pair.same) {
      ++same_total;
    } else {
      ++different_total;
    }
    if (!hit) continue;
    ++cat_hits;
    ++r.hits;
    if (pair.same) {
      ++r.true_hits;
    } else {
      ++r.false_hits;
    }
  }
  r.hit_rate = make_rate(r.hits, r.pairs);
  r.precision = make_rate(r.true_hits, r.hits);
  if (r.hits == 0) r.precision.rate = 1.0;
  r.recall = make_rate(r.true_hits, same_total);
  r.false_hit_rate = make_rate(r.false_hits, different_total);
  for (const auto& [name, counts] : per_category) {
    r.categories[name] = CategoryResult{category_same[name], make_rate(counts.first, counts.second)};
  }
  return r;
}

std::vector<double> sweep_thresholds(const SweepRange& range) {
  if (!(range.min >= -1.0 && range.min <= range.max && range.max <= 1.0) || !(range.step > 0)) {
    throw InvalidArgument("threshold range: need -1 <= min <= max <= 1 and step > 0 (got min " + num(range.min) +
                          ", max " + num(range.max) + ", step " + std::to_string(range.step) + ")");
  }
  std::vector<double> out;
  for (std::size_t i = 0;; ++i) {
    const double t = range.min + static_cast<double>(i) * range.step;
    if (t > range.max + 1e-9) break;
    out.push_back(std::round(t * 1e6) / 1e6);
  }
  return out;
}

std::vector<ThresholdResult> sweep(const std::vector<LabelledPair>& pairs, const std::vector<ScoredPair>& scored,
                                   const SweepRange& range, bool use_guard) {
  std::vector<ThresholdResult> rows;
  for (const double t : sweep_thresholds(range)) rows.push_back(evaluate(pairs, scored, t, use_guard));
  return rows;
}

std::optional<double> recommend_threshold(const std::vector<ThresholdResult>& rows, double target_precision) {
  std::optional<double> best;
  for (const ThresholdResult& r : rows) {
    if (r.hits == 0 || r.precision.rate < target_precision) continue;
    if (!best || r.threshold < *best) best = r.threshold;
  }
  return best;
}

std::string render_svg(const std::vector<LabelledPair>& pairs, const std::vector<ScoredPair>& scored,
                       const std::vector<ThresholdResult>& guard_off, const std::vector<ThresholdResult>& guard_on,
                       std::optional<double> recommended, std::string_view title) {
  constexpr double kWidth = 1000;
  constexpr double kHeight = 440;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" viewBox=\"0 0 " << kWidth << " " << kHeight << "\">\n";
  svg << "<title>" << xml_escape(title) << "</title>\n";
  svg << "<rect x=\"0\" y=\"0\" width=\"" << kWidth << "\" height=\"" << kHeight << "\" fill=\"white\"/>\n";
  svg << "<text x=\"" << kWidth / 2 << "\" y=\"22\" text-anchor=\"middle\" font-family=\"sans-serif\" "
      << "font-size=\"15\" fill=\"#111\">" << xml_escape(title) << "</text>\n";

  // Left: precision and recall against the threshold.
  const std::vector<ThresholdResult>& any_rows = guard_off.empty() ? guard_on : guard_off;
  double x0 = 0.5;
  double x1 = 1.0;
  if (!any_rows.empty()) {
    x0 = any_rows.front().threshold;
    x1 = std::max(any_rows.back().threshold, x0 + 0.01);
  }
  const Panel left{70, 50, 380, 300, x0, x1, 0.0, 1.0};
  std::vector<double> x_ticks;
  const double tick_step = x1 - x0 > 0.3 ? 0.1 : 0.05;
  for (double t = std::ceil(x0 / tick_step - 1e-9) * tick_step; t <= x1 + 1e-9; t += tick_step) x_ticks.push_back(t);
  const std::vector<double> unit_ticks{0.0, 0.2, 0.4, 0.6, 0.8, 1.0};
  axes(svg, left, "similarity threshold", "precision / recall", x_ticks, unit_ticks);
  curve(svg, left, guard_off, true, "precision-off", "#1f77b4", true);
  curve(svg, left, guard_off, false, "recall-off", "#d62728", true);
  curve(svg, left, guard_on, true, "precision-on", "#1f77b4", false);
  curve(svg, left, guard_on, false, "recall-on", "#d62728", false);
  if (recommended && *recommended >= x0 && *recommended <= x1) {
    svg << "<line id=\"recommended\" x1=\"" << num(left.x(*recommended)) << "\" y1=\"" << num(left.top) << "\" x2=\""
        << num(left.x(*recommended)) << "\" y2=\"" << num(left.top + left.height)
        << "\" stroke=\"#2ca02c\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>\n";
  }
  std::vector<std::pair<std::pair<std::string, std::string>, bool>> left_legend;
  if (!guard_on.empty()) {
    left_legend.push_back({{"precision, guard on", "#1f77b4"}, false});
    left_legend.push_back({{"recall, guard on", "#d62728"}, false});
  }
  if (!guard_off.empty()) {
    left_legend.push_back({{"precision, guard off", "#1f77b4"}, true});
    left_legend.push_back({{"recall, guard off", "#d62728"}, true});
  }
  if (recommended) left_legend.push_back({{"recommended " + num(*recommended), "#2ca02c"}, true});
  {
    // Legend under the left panel, two columns of line swatches.
    svg << "<g class=\"legend\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#222\">\n";
    for (std::size_t i = 0; i < left_legend.size(); ++i) {
      const double lx = left.left + static_cast<double>(i % 2) * 190;
      const std::size_t row = i / 2;
      const double ly = left.top + left.height + 50 + static_cast<double>(row) * 15;
      const auto& [label_color, dashed] = left_legend[i];
      svg << "<line x1=\"" << num(lx) << "\" y1=\"" << num(ly) << "\" x2=\"" << num(lx + 22) << "\" y2=\"" << num(ly)
          << "\" stroke=\"" << label_color.second << "\" stroke-width=\"2\""
          << (dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
      svg << "<text x=\"" << num(lx + 28) << "\" y=\"" << num(ly + 4) << "\">" << xml_escape(label_color.first)
          << "</text>\n";
    }
    svg << "</g>\n";
  }

  // Right: histograms of the similarity of same and different pairs (share of each class per bin).
  constexpr int kBins = 50;
  std::array<double, kBins> same_bins{};
  std::array<double, kBins> different_bins{};
  std::size_t same_n = 0;
  std::size_t different_n = 0;
  for (std::size_t i = 0; i < pairs.size() && i < scored.size(); ++i) {
    const double s = std::clamp(scored[i].similarity, 0.0, 1.0);
    const int bin = std::min(kBins - 1, static_cast<int>(s * kBins));
    if (pairs[i].same) {
      same_bins[static_cast<std::size_t>(bin)] += 1;
      ++same_n;
    } else {
      different_bins[static_cast<std::size_t>(bin)] += 1;
      ++different_n;
    }
  }
  double peak = 0.05;
  for (int b = 0; b < kBins; ++b) {
    const auto ub = static_cast<std::size_t>(b);
    if (same_n > 0) same_bins[ub] /= static_cast<double>(same_n);
    if (different_n > 0) different_bins[ub] /= static_cast<double>(different_n);
    peak = std::max({peak, same_bins[ub], different_bins[ub]});
  }
  peak = std::ceil(peak * 20) / 20;
  const Panel right{580, 50, 380, 300, 0.0, 1.0, 0.0, peak};
  std::vector<double> y_ticks;
  for (int i = 0; i <= 4; ++i) y_ticks.push_back(peak * i / 4.0);
  axes(svg, right, "cosine similarity (below 0 counted at 0)", "share of pairs", unit_ticks, y_ticks);
  const auto bars = [&](const std::array<double, kBins>& bins, std::string_view id, std::string_view color) {
    svg << "<g id=\"" << id << "\" fill=\"" << color << "\" fill-opacity=\"0.45\" stroke=\"" << color
        << "\" stroke-width=\"0.5\">\n";
    for (int b = 0; b < kBins; ++b) {
      const double v = bins[static_cast<std::size_t>(b)];
      if (v <= 0) continue;
      const double bx = right.x(static_cast<double>(b) / kBins);
      const double bw = right.width / kBins;
      svg << "<rect x=\"" << num(bx) << "\" y=\"" << num(right.y(v)) << "\" width=\"" << num(bw) << "\" height=\""
          << num(right.top + right.height - right.y(v)) << "\"/>\n";
    }
    svg << "</g>\n";
  };
  bars(different_bins, "hist-different", "#ff7f0e");
  bars(same_bins, "hist-same", "#2ca02c");
  legend(svg, right.left + 10, right.top + right.height + 50,
         {{{"same pairs (" + std::to_string(same_n) + ")", "#2ca02c"}, false},
          {{"different pairs (" + std::to_string(different_n) + ")", "#ff7f0e"}, false}});
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace engram::tool
