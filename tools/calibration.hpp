#pragma once
// Pair evaluation for `engram calibrate` and the quality benchmark (bench/quality): load a
// labelled pair file, score every pair with an embedder and a guard, sweep the similarity
// threshold, recommend one, and draw the result as SVG.
//
// A pair file is JSON Lines, one object per line (bench/quality/README.md):
//   {"a": "how do I enable dark mode", "b": "how do I turn on dark mode", "same": true,
//    "category": "paraphrase"}
// `a`, `b` (non-empty strings) and `same` (boolean) are required, `category` (string) is
// optional (default "paraphrase" for same pairs, "different" for the others); other fields are
// ignored. Blank lines are skipped.
//
// A pair is a *hit* at threshold t when cosine(a, b) >= t (the comparison SemanticCache makes)
// and the guard, called as guard(b, a) — b the caller's query, a the stored one, as after
// put(a), get(b) — accepts. A hit on a same pair is a true hit, on a different pair a false hit.
//   hit rate       hits / pairs
//   precision      true hits / hits (1 when there are no hits)
//   recall         true hits / same pairs
//   false-hit rate false hits / different pairs
// Each rate comes with a 95 % Wilson score interval.
//
// Thread safety: free functions over values; score_pairs() calls the embedder and the guard
// from the calling thread only.

#include <cstddef>
#include <filesystem>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engram/embedders/any_embedder.hpp"
#include "engram/errors.hpp"
#include "engram/guard.hpp"

namespace engram::tool {

struct LabelledPair {
  std::string a{};
  std::string b{};
  bool same = false;
  std::string category{};
  std::size_t line = 0;  // 1-based line in the file
};

// A malformed pair file (an InvalidArgument). what() is "SOURCE:LINE: message", or
// "SOURCE: message" with line() 0 for errors that are not about one line (unreadable file, no
// pairs).
class PairFileError : public InvalidArgument {
 public:
  PairFileError(const std::string& source, std::size_t line, const std::string& message);
  std::size_t line() const noexcept { return line_; }

 private:
  std::size_t line_;
};

// Reads pairs from `in`, one line at a time (each line parsed with simdjson's on-demand API).
// `source` names the input in error messages. Throws PairFileError on the first bad line
// (invalid JSON or UTF-8, not an object, trailing content, a missing or wrong-typed field, an
// empty text) and when there is no pair at all.
std::vector<LabelledPair> read_pairs(std::istream& in, const std::string& source);
// read_pairs() of a file; PairFileError also when it cannot be opened.
std::vector<LabelledPair> load_pairs(const std::filesystem::path& file);

// One pair's scores: the cosine similarity of the L2-normalized embeddings, and the guard's
// verdict on (b, a) (accept with an empty reason when there is no guard).
struct ScoredPair {
  double similarity = 0;
  bool guard_accept = true;
  std::string guard_reason{};
};

// Embeds every distinct text once (embed_batch, `batch_size` texts per call), normalizes, and
// runs `guard` (may be empty) on each pair. Throws what the embedder or the guard throws, and
// InvalidArgument when the embedder returns a vector of the wrong size.
std::vector<ScoredPair> score_pairs(const std::vector<LabelledPair>& pairs, const AnyEmbedder& embedder,
                                    const Guard& guard, std::size_t batch_size = 64);

// A 95 % (z = 1.96) Wilson score interval for `successes` out of `trials`; [0, 1] when trials is 0.
struct Interval {
  double low = 0;
  double high = 1;
};
Interval wilson_interval(std::size_t successes, std::size_t trials, double z = 1.959963984540054);

// A count and its rate with interval (rate 0 when count is 0).
struct Rate {
  std::size_t hits = 0;
  std::size_t total = 0;
  double rate = 0;
  Interval ci{};
};
Rate make_rate(std::size_t hits, std::size_t total);

struct CategoryResult {
  bool same = false;  // the category's pairs are same pairs (hit rate = recall) or not
  Rate hit{};         // hits among the category's pairs: recall or false-hit rate
};

// The outcome at one threshold.
struct ThresholdResult {
  double threshold = 0;
  bool guarded = false;  // the guard's verdicts were applied
  std::size_t pairs = 0;
  std::size_t hits = 0;
  std::size_t true_hits = 0;
  std::size_t false_hits = 0;
  std::size_t guard_rejections = 0;  // pairs above the threshold the guard rejected
  Rate hit_rate{};                   // hits / pairs
  Rate precision{};                  // true hits / hits (rate 1 with no hits)
  Rate recall{};                     // true hits / same pairs
  Rate false_hit_rate{};             // false hits / different pairs
  std::map<std::string, CategoryResult> categories{};
};

// Evaluates at one threshold. pairs.size() must equal scored.size() (InvalidArgument).
ThresholdResult evaluate(const std::vector<LabelledPair>& pairs, const std::vector<ScoredPair>& scored,
                         double threshold, bool use_guard);

struct SweepRange {
  double min = 0.50;
  double max = 0.99;
  double step = 0.01;
};
// The thresholds min, min + step, ... up to max (inclusive, to 1e-9), rounded to 1e-6.
// InvalidArgument unless -1 <= min <= max <= 1 and step > 0.
std::vector<double> sweep_thresholds(const SweepRange& range);
std::vector<ThresholdResult> sweep(const std::vector<LabelledPair>& pairs, const std::vector<ScoredPair>& scored,
                                   const SweepRange& range, bool use_guard);

// The lowest threshold of `rows` whose precision reaches `target_precision` with at least one
// hit, or nullopt when none does. (Precision need not grow with the threshold, so this is the
// first row meeting the target, not the start of a run.)
std::optional<double> recommend_threshold(const std::vector<ThresholdResult>& rows, double target_precision);

// A standalone SVG document (no scripts, no external references): precision and recall against
// the threshold with the guard off and on (either row set may be empty), and histograms of the
// similarity of same and different pairs, with axis labels and a legend. `recommended` draws a
// marker line. The curve elements carry ids "precision-off", "recall-off", "precision-on",
// "recall-on", "hist-same", "hist-different".
std::string render_svg(const std::vector<LabelledPair>& pairs, const std::vector<ScoredPair>& scored,
                       const std::vector<ThresholdResult>& guard_off, const std::vector<ThresholdResult>& guard_on,
                       std::optional<double> recommended, std::string_view title);

}  // namespace engram::tool
