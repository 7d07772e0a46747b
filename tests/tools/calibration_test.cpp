// tools/calibration and the calibrate command: pair-file errors by line, a threshold sweep on a
// hand-computed set, Wilson intervals, the recommendation, the SVG document, the command's
// output and exit status.
#include "calibration.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "calibrate_command.hpp"
#include "engram/embedders/hashing_embedder.hpp"
#include "temp_dir.hpp"
#include "tool_common.hpp"

namespace engram::tool {
namespace {

// An embedder with fixed 2-d vectors: the similarities of the test set are known exactly.
struct TableEmbedder {
  std::map<std::string, std::vector<float>, std::less<>> table;
  std::size_t dim() const { return 2; }
  std::string fingerprint() const { return "test:table:d2"; }
  std::vector<float> embed(std::string_view text) const {
    const auto it = table.find(text);
    return it == table.end() ? std::vector<float>{0.0F, 1.0F} : it->second;
  }
};

AnyEmbedder table_embedder() {
  TableEmbedder e;
  e.table["x"] = {1.0F, 0.0F};
  e.table["w"] = {0.96F, 0.28F};  // cos(x, w) = 0.96
  e.table["y"] = {0.8F, 0.6F};    // cos(x, y) = 0.80, cos(y, w) = 0.936
  e.table["z"] = {0.6F, 0.8F};    // cos(x, z) = 0.60
  return AnyEmbedder(std::move(e));
}

std::vector<LabelledPair> table_pairs() {
  return {
      {"x", "w", true, "paraphrase", 1},
      {"x", "y", true, "paraphrase", 2},
      {"x", "z", false, "negation", 3},
      {"y", "w", false, "number", 4},
  };
}

// Rejects exactly the (query "w", stored "y") pair, as a number mismatch.
GuardVerdict table_guard(std::string_view query, std::string_view matched) {
  if (query == "w" && matched == "y") return {false, "number"};
  return {};
}

std::vector<LabelledPair> parse(const std::string& text) {
  std::istringstream in(text);
  return read_pairs(in, "pairs.jsonl");
}

// The message of the PairFileError that parsing `text` throws.
std::string parse_error(const std::string& text, std::size_t* line = nullptr) {
  try {
    parse(text);
  } catch (const PairFileError& e) {
    if (line != nullptr) *line = e.line();
    return e.what();
  }
  return "(no error)";
}

const std::string kGood = R"({"a": "x", "b": "y", "same": true})";

TEST(PairFile, ParsesFieldsAndDefaultsAndSkipsBlankLines) {
  const auto pairs = parse(
      "{\"a\": \"how do I enable dark mode\", \"b\": \"turn on dark mode\", \"same\": true, \"category\": "
      "\"paraphrase\", \"note\": {\"x\": [1, 2]}}\n"
      "\n"
      "   \r\n"
      "{\"same\": false, \"b\": \"caf\\u00e9 \\\"quoted\\\"\", \"a\": \"Café\"}\r\n");
  ASSERT_EQ(pairs.size(), 2U);
  EXPECT_EQ(pairs[0].a, "how do I enable dark mode");
  EXPECT_EQ(pairs[0].b, "turn on dark mode");
  EXPECT_TRUE(pairs[0].same);
  EXPECT_EQ(pairs[0].category, "paraphrase");
  EXPECT_EQ(pairs[0].line, 1U);
  EXPECT_EQ(pairs[1].a, "Café");
  EXPECT_EQ(pairs[1].b, "café \"quoted\"");
  EXPECT_FALSE(pairs[1].same);
  EXPECT_EQ(pairs[1].category, "different");  // the default for a different pair
  EXPECT_EQ(pairs[1].line, 4U);
}

TEST(PairFile, ErrorsNameTheLine) {
  struct Case {
    std::string bad_line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"a": "x", "b": })", "invalid JSON"},
      {R"({"a": "x", "b": "y"})", "missing field \"same\""},
      {R"({"b": "y", "same": true})", "missing field \"a\""},
      {R"({"a": "x", "same": true})", "missing field \"b\""},
      {R"({"a": "x", "b": "y", "same": "yes"})", "field \"same\" must be true or false"},
      {R"({"a": 5, "b": "y", "same": true})", "field \"a\" must be a string"},
      {R"({"a": "x", "b": null, "same": true})", "field \"b\" must be a string"},
      {R"({"a": "x", "b": "y", "same": true, "category": 3})", "field \"category\" must be a string"},
      {R"({"a": "", "b": "y", "same": true})", "field \"a\" is empty"},
      {R"({"a": "x", "a": "z", "b": "y", "same": true})", "duplicate field \"a\""},
      {R"(["x", "y", true])", "expected a JSON object"},
      {R"({"a": "x", "b": "y", "same": true} {"a": "x"})", "invalid JSON"},
      {"{\"a\": \"x\xff\", \"b\": \"y\", \"same\": true}", "invalid UTF-8"},
      {R"(not json at all)", "invalid JSON"},
  };
  for (const Case& c : cases) {
    std::size_t line = 0;
    std::string text = kGood;
    text.append("\n\n").append(c.bad_line).append("\n").append(kGood).append("\n");
    const std::string message = parse_error(text, &line);
    EXPECT_EQ(line, 3U) << c.bad_line << " -> " << message;
    EXPECT_NE(message.find("pairs.jsonl:3: "), std::string::npos) << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << c.bad_line << " -> " << message;
  }
}

TEST(PairFile, EmptyInputAndMissingFile) {
  std::size_t line = 99;
  EXPECT_NE(parse_error("\n  \n", &line).find("no pairs"), std::string::npos);
  EXPECT_EQ(line, 0U);
  engram::testing::TempDir dir;
  try {
    load_pairs(dir / "absent.jsonl");
    FAIL() << "no error";
  } catch (const PairFileError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.jsonl: cannot open"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_pairs(dir / "absent.jsonl"), InvalidArgument);  // PairFileError is an InvalidArgument
}

TEST(Wilson, KnownValues) {
  const Interval a = wilson_interval(8, 10);
  EXPECT_NEAR(a.low, 0.4902, 1e-4);
  EXPECT_NEAR(a.high, 0.9433, 1e-4);
  const Interval zero = wilson_interval(0, 10);
  EXPECT_DOUBLE_EQ(zero.low, 0.0);
  EXPECT_NEAR(zero.high, 0.2775, 1e-4);
  const Interval all = wilson_interval(10, 10);
  EXPECT_NEAR(all.low, 0.7225, 1e-4);
  EXPECT_DOUBLE_EQ(all.high, 1.0);
  const Interval half = wilson_interval(50, 100);
  EXPECT_NEAR(half.low, 0.4038, 1e-4);
  EXPECT_NEAR(half.high, 0.5962, 1e-4);
  const Interval none = wilson_interval(0, 0);
  EXPECT_DOUBLE_EQ(none.low, 0.0);
  EXPECT_DOUBLE_EQ(none.high, 1.0);
}

TEST(Sweep, ScoresAndRatesOnAHandComputedSet) {
  const auto pairs = table_pairs();
  const auto scored = score_pairs(pairs, table_embedder(), table_guard, /*batch_size=*/2);
  ASSERT_EQ(scored.size(), 4U);
  EXPECT_NEAR(scored[0].similarity, 0.96, 1e-6);
  EXPECT_NEAR(scored[1].similarity, 0.80, 1e-6);
  EXPECT_NEAR(scored[2].similarity, 0.60, 1e-6);
  EXPECT_NEAR(scored[3].similarity, 0.936, 1e-6);
  EXPECT_TRUE(scored[0].guard_accept);
  EXPECT_FALSE(scored[3].guard_accept);
  EXPECT_EQ(scored[3].guard_reason, "number");

  // 0.90: pairs 1 (same) and 4 (different) are above; the guard rejects pair 4.
  const ThresholdResult off = evaluate(pairs, scored, 0.90, false);
  EXPECT_EQ(off.hits, 2U);
  EXPECT_EQ(off.true_hits, 1U);
  EXPECT_EQ(off.false_hits, 1U);
  EXPECT_DOUBLE_EQ(off.hit_rate.rate, 0.5);
  EXPECT_DOUBLE_EQ(off.precision.rate, 0.5);
  EXPECT_DOUBLE_EQ(off.recall.rate, 0.5);
  EXPECT_DOUBLE_EQ(off.false_hit_rate.rate, 0.5);
  EXPECT_EQ(off.guard_rejections, 0U);
  EXPECT_DOUBLE_EQ(off.categories.at("number").hit.rate, 1.0);
  EXPECT_DOUBLE_EQ(off.categories.at("negation").hit.rate, 0.0);
  EXPECT_DOUBLE_EQ(off.categories.at("paraphrase").hit.rate, 0.5);
  EXPECT_TRUE(off.categories.at("paraphrase").same);
  EXPECT_FALSE(off.categories.at("number").same);

  const ThresholdResult on = evaluate(pairs, scored, 0.90, true);
  EXPECT_EQ(on.hits, 1U);
  EXPECT_DOUBLE_EQ(on.precision.rate, 1.0);
  EXPECT_DOUBLE_EQ(on.recall.rate, 0.5);
  EXPECT_DOUBLE_EQ(on.false_hit_rate.rate, 0.0);
  EXPECT_EQ(on.guard_rejections, 1U);
  EXPECT_DOUBLE_EQ(on.categories.at("number").hit.rate, 0.0);

  // 0.70: both same pairs; pair 4 still above.
  const ThresholdResult off70 = evaluate(pairs, scored, 0.70, false);
  EXPECT_NEAR(off70.precision.rate, 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(off70.recall.rate, 1.0);
  EXPECT_DOUBLE_EQ(off70.hit_rate.rate, 0.75);
  EXPECT_EQ(off70.precision.hits, 2U);
  EXPECT_EQ(off70.precision.total, 3U);

  // 0.50: everything; 0.97: nothing (precision reads 1 with no hits).
  EXPECT_DOUBLE_EQ(evaluate(pairs, scored, 0.50, false).false_hit_rate.rate, 1.0);
  const ThresholdResult none = evaluate(pairs, scored, 0.97, false);
  EXPECT_EQ(none.hits, 0U);
  EXPECT_DOUBLE_EQ(none.precision.rate, 1.0);
  EXPECT_DOUBLE_EQ(none.recall.rate, 0.0);

  // Without a guard every verdict is an accept.
  const auto unguarded = score_pairs(pairs, table_embedder(), Guard{});
  EXPECT_TRUE(unguarded[3].guard_accept);
  EXPECT_EQ(evaluate(pairs, unguarded, 0.90, true).hits, 2U);
}

TEST(Sweep, ThresholdGridAndRecommendation) {
  const auto grid = sweep_thresholds({});
  ASSERT_EQ(grid.size(), 50U);
  EXPECT_DOUBLE_EQ(grid.front(), 0.50);
  EXPECT_DOUBLE_EQ(grid[37], 0.87);
  EXPECT_DOUBLE_EQ(grid.back(), 0.99);
  EXPECT_EQ(sweep_thresholds({0.8, 0.9, 0.05}).size(), 3U);
  EXPECT_THROW(sweep_thresholds({0.9, 0.8, 0.01}), InvalidArgument);
  EXPECT_THROW(sweep_thresholds({0.5, 0.9, 0.0}), InvalidArgument);
  EXPECT_THROW(sweep_thresholds({0.5, 1.5, 0.1}), InvalidArgument);

  const auto pairs = table_pairs();
  const auto scored = score_pairs(pairs, table_embedder(), table_guard);
  const auto on = sweep(pairs, scored, {}, true);
  const auto off = sweep(pairs, scored, {}, false);
  // With the guard, only the negation pair at 0.60 spoils precision: 0.61 is the first at 100 %.
  ASSERT_TRUE(recommend_threshold(on, 0.99).has_value());
  EXPECT_DOUBLE_EQ(*recommend_threshold(on, 0.99), 0.61);
  // Without it, the number pair at 0.936 does too: 0.94.
  EXPECT_DOUBLE_EQ(*recommend_threshold(off, 0.99), 0.94);
  // Precision 0.6: 2/4 up to 0.60, 2/3 from 0.61 (the negation pair gone).
  EXPECT_DOUBLE_EQ(*recommend_threshold(off, 0.6), 0.61);
  EXPECT_DOUBLE_EQ(*recommend_threshold(off, 0.5), 0.50);
  // Rows without hits never qualify, however "precise".
  const std::vector<ThresholdResult> empty_rows = {evaluate(pairs, scored, 0.99, false)};
  EXPECT_FALSE(recommend_threshold(empty_rows, 0.5).has_value());
  // A set where no threshold separates: a different pair above every same pair.
  std::vector<LabelledPair> hard = {{"x", "y", true, "paraphrase", 1}, {"x", "w", false, "antonym", 2}};
  const auto hard_scored = score_pairs(hard, table_embedder(), Guard{});
  EXPECT_FALSE(recommend_threshold(sweep(hard, hard_scored, {}, false), 0.98).has_value());
}

// A minimal XML well-formedness check: every tag closes in order, attributes are quoted.
bool balanced_tags(const std::string& xml, std::string* problem) {
  std::vector<std::string> stack;
  std::size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string::npos) {
    const std::size_t end = xml.find('>', pos);
    if (end == std::string::npos) {
      *problem = "unterminated tag";
      return false;
    }
    const std::string tag = xml.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty()) {
      *problem = "empty tag";
      return false;
    }
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) {
      *problem = "odd quotes in <" + tag + ">";
      return false;
    }
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) {
        *problem = "unexpected </" + tag.substr(1) + ">";
        return false;
      }
      stack.pop_back();
      continue;
    }
    if (tag.back() == '/') continue;
    stack.push_back(tag.substr(0, tag.find_first_of(" \n\t")));
  }
  if (!stack.empty()) {
    *problem = "unclosed <" + stack.back() + ">";
    return false;
  }
  return true;
}

TEST(Svg, IsAWellFormedStandaloneDocumentWithTheCurves) {
  const auto pairs = table_pairs();
  const auto scored = score_pairs(pairs, table_embedder(), table_guard);
  const auto off = sweep(pairs, scored, {}, false);
  const auto on = sweep(pairs, scored, {}, true);
  const std::string svg = render_svg(pairs, scored, off, on, 0.61, "test <set> & \"friends\"");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0U);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  std::string problem;
  EXPECT_TRUE(balanced_tags(svg, &problem)) << problem;
  for (const char* id :
       {"precision-off", "recall-off", "precision-on", "recall-on", "hist-same", "hist-different", "recommended"}) {
    EXPECT_NE(svg.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_NE(svg.find("test &lt;set&gt; &amp; &quot;friends&quot;"), std::string::npos);
  EXPECT_NE(svg.find("similarity threshold"), std::string::npos);
  EXPECT_NE(svg.find("precision, guard on"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  // 50 points per curve.
  const std::size_t start = svg.find("id=\"precision-on\"");
  const std::size_t points = svg.find("points=\"", start) + 8;
  const std::string list = svg.substr(points, svg.find('"', points) - points);
  EXPECT_EQ(std::count(list.begin(), list.end(), ',') + 0, 50);

  // Guard-off only: no "on" curves, still well-formed.
  const std::string off_only = render_svg(pairs, scored, off, {}, std::nullopt, "off");
  EXPECT_TRUE(balanced_tags(off_only, &problem)) << problem;
  EXPECT_EQ(off_only.find("precision-on"), std::string::npos);
}

TEST(JsonQuote, EscapesControlsAndQuotes) {
  EXPECT_EQ(json_string("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(json_string("Café"), "\"Café\"");
}

// ---- the command ----------------------------------------------------------------------------

void write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

std::string sample_pairs() {
  return R"({"a": "how do I reset my password", "b": "how can I reset my password", "same": true, "category": "paraphrase"}
{"a": "how do I enable dark mode", "b": "how do I enable the dark mode", "same": true, "category": "paraphrase"}
{"a": "how do I enable dark mode", "b": "how do I disable dark mode", "same": false, "category": "antonym"}
{"a": "what's new in python 3.12", "b": "what's new in python 3.11", "same": false, "category": "number"}
{"a": "weather in paris", "b": "recipe for pancakes", "same": false, "category": "template"}
)";
}

TEST(CalibrateCommand, TextReportAndSvg) {
  engram::testing::TempDir dir;
  write_file(dir / "pairs.jsonl", sample_pairs());
  CalibrateOptions options;
  options.pairs_file = (dir / "pairs.jsonl").string();
  options.svg_file = (dir / "plot.svg").string();
  options.target_precision = 0.9;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_calibrate(options, AnyEmbedder(HashingEmbedder()), out, err), 0) << err.str();
  const std::string text = out.str();
  EXPECT_NE(text.find("5 pairs (2 same, 3 different)"), std::string::npos) << text;
  EXPECT_NE(text.find("| threshold | hit rate (off) | precision (off)"), std::string::npos) << text;
  EXPECT_NE(text.find("| 0.50 |"), std::string::npos);
  EXPECT_NE(text.find("| 0.99 |"), std::string::npos);
  EXPECT_TRUE(text.find("recommended threshold: ") != std::string::npos ||
              text.find("no threshold in [0.50, 0.99] reaches precision") != std::string::npos)
      << text;
  std::ifstream svg(dir / "plot.svg");
  std::stringstream svg_text;
  svg_text << svg.rdbuf();
  EXPECT_EQ(svg_text.str().rfind("<svg", 0), 0U);
}

TEST(CalibrateCommand, JsonOutputParses) {
  engram::testing::TempDir dir;
  write_file(dir / "pairs.jsonl", sample_pairs());
  CalibrateOptions options;
  options.pairs_file = (dir / "pairs.jsonl").string();
  options.json = true;
  options.range = {0.8, 0.9, 0.05};
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(run_calibrate(options, AnyEmbedder(HashingEmbedder()), out, err), 0) << err.str();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(simdjson::padded_string(out.str())).get(root), simdjson::SUCCESS) << out.str();
  EXPECT_EQ(root["pairs"].get_uint64().value(), 5U);
  EXPECT_EQ(root["guard"].get_string().value(), "both");
  EXPECT_EQ(root["sweep"].get_array().size(), 6U);  // 3 thresholds, guard off and on
}

TEST(CalibrateCommand, ExitStatus) {
  engram::testing::TempDir dir;
  write_file(dir / "bad.jsonl", sample_pairs() + "{\"a\": \"x\", \"b\": \"y\"}\n");
  CalibrateOptions options;
  options.pairs_file = (dir / "bad.jsonl").string();
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_calibrate(options, AnyEmbedder(HashingEmbedder()), out, err), 1);
  EXPECT_NE(err.str().find("bad.jsonl:6: missing field \"same\""), std::string::npos) << err.str();

  options.pairs_file = (dir / "absent.jsonl").string();
  EXPECT_EQ(run_calibrate(options, AnyEmbedder(HashingEmbedder()), out, err), 1);

  write_file(dir / "good.jsonl", sample_pairs());
  options.pairs_file = (dir / "good.jsonl").string();
  options.range = {0.9, 0.8, 0.01};
  EXPECT_EQ(run_calibrate(options, AnyEmbedder(HashingEmbedder()), out, err), 2);
  options.range = {};
  options.target_precision = 0;
  EXPECT_EQ(run_calibrate(options, AnyEmbedder(HashingEmbedder()), out, err), 2);
}

TEST(CalibrateCommand, RegistersOnACliApp) {
  engram::testing::TempDir dir;
  write_file(dir / "pairs.jsonl", sample_pairs());
  CLI::App app("engram");
  int exit_code = -1;
  add_calibrate_command(app, exit_code);
  ::testing::internal::CaptureStdout();
  app.parse("calibrate " + (dir / "pairs.jsonl").string() + " --guard off --target-precision 0.5", false);
  const std::string text = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(exit_code, 0);
  EXPECT_NE(text.find("guard: none"), std::string::npos) << text;
  EXPECT_EQ(text.find("(on)"), std::string::npos) << text;

  CLI::App app3("engram");
  int exit_code3 = -1;
  add_calibrate_command(app3, exit_code3);
  EXPECT_THROW(app3.parse("calibrate x.jsonl --guard maybe", false), CLI::ValidationError);
}

}  // namespace
}  // namespace engram::tool
