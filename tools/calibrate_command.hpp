#pragma once
// `engram calibrate PAIRS.jsonl`: chooses a similarity threshold for an embedder from a labelled
// pair file (tools/calibration.hpp; the format in bench/quality/README.md).
//
//   engram calibrate PAIRS.jsonl [--target-precision 0.98] [--svg FILE] [--json]
//                    [--guard on|off|both] [--threshold-min 0.5] [--threshold-max 0.99]
//                    [--step 0.01] [--embedder hashing|minilm|bert|http ...]
//
// Prints, for every threshold of the sweep, the hit rate, precision, recall and false-hit rate
// with the guard off and on (the guard is engram::LexicalGuard with default options), the
// per-category hit rates at the recommended threshold with 95 % intervals, and the
// recommendation: the lowest threshold whose precision reaches the target (with the guard when
// it is on or both, else without), or a sentence saying that none does. --json prints the same
// as one JSON object; --svg also writes the plot.
// Exit status: 0 ok (also when no threshold meets the target), 1 error (unreadable or malformed
// pair file: the message names the line; embedder failure), 2 usage.

#include <CLI/CLI.hpp>
#include <cstddef>
#include <ostream>
#include <string>

#include "calibration.hpp"
#include "embedder_choice.hpp"

namespace engram::tool {

struct CalibrateOptions {
  std::string pairs_file{};
  double target_precision = 0.98;
  std::string svg_file{};
  bool json = false;
  std::string guard = "both";  // on | off | both
  SweepRange range{};
  EmbedderChoice embedder{};
};

// Registers the `calibrate` subcommand on `app`. When it runs, its exit status goes to
// `exit_code` (0, 1 or 2 as above); CLI11 reports parse errors itself (status 2 by the tool).
void add_calibrate_command(CLI::App& app, int& exit_code);

// The command's work, writing the report to `out` and diagnostics to `err`. Returns the exit
// status. The embedder is built from options.embedder.
int run_calibrate(const CalibrateOptions& options, std::ostream& out, std::ostream& err);

// Same with an embedder already built (tests, the quality benchmark).
int run_calibrate(const CalibrateOptions& options, const AnyEmbedder& embedder, std::ostream& out, std::ostream& err);

}  // namespace engram::tool
