#pragma once
// Progress of a long copy (migrate, import, export) on stderr: on a terminal, one bar redrawn
// in place with rows, percentage, rate and ETA; otherwise (a pipe, a log file) one plain line
// per interval, so that logs and supervising programs can follow it:
//   progress: 45000/100000 rows (45.0%), 52103 rows/s, ETA 1s
// Not thread-safe.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace engram::tool {

struct ProgressOptions {
  std::string label = "progress";
  bool enabled = true;
  std::chrono::milliseconds interval{1000};  // plain mode; 0: a line for every update
  int terminal = -1;                         // -1: isatty(stderr); 0/1 force
};

class Progress {
 public:
  Progress(std::uint64_t total, ProgressOptions options);
  // `done` rows so far (monotonic). Draws when due.
  void update(std::uint64_t done);
  // Final line (always printed when enabled).
  void finish(std::uint64_t done);
  double rate() const;  // rows per second so far

 private:
  void draw(std::uint64_t done, bool final);

  std::uint64_t total_;
  std::uint64_t start_done_ = 0;
  bool started_ = false;
  ProgressOptions options_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
  std::uint64_t done_ = 0;
};

}  // namespace engram::tool
