#include "progress.hpp"

#include <unistd.h>

#include <algorithm>

namespace engram::tool {

Progress::Progress(std::uint64_t total, ProgressOptions options)
    : total_(total),
      options_(std::move(options)),
      tty_(options_.terminal < 0 ? isatty(STDERR_FILENO) == 1 : options_.terminal == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

double Progress::rate() const {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return s > 0 ? static_cast<double>(done_ - start_done_) / s : 0.0;
}

void Progress::update(std::uint64_t done) {
  if (!started_) {
    started_ = true;
    start_done_ = std::min(done, done_);
  }
  done_ = done;
  if (!options_.enabled) return;
  const auto now = std::chrono::steady_clock::now();
  const auto due = tty_ ? std::chrono::milliseconds(100) : options_.interval;
  if (now - last_ < due) return;
  last_ = now;
  draw(done, false);
}

void Progress::finish(std::uint64_t done) {
  done_ = done;
  if (options_.enabled) draw(done, true);
}

void Progress::draw(std::uint64_t done, bool final) {
  const double r = rate();
  const double fraction = total_ > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total_)) : 1.0;
  std::string eta = "-";
  if (r > 0 && total_ > done) {
    const auto secs = static_cast<long long>(static_cast<double>(total_ - done) / r);
    eta = secs >= 3600 ? std::to_string(secs / 3600) + "h" + std::to_string(secs % 3600 / 60) + "m"
          : secs >= 60 ? std::to_string(secs / 60) + "m" + std::to_string(secs % 60) + "s"
                       : std::to_string(secs) + "s";
  }
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(kWidth - filled), '.');
    std::fprintf(stderr, "\r%s [%s] %llu/%llu rows %5.1f%% %9.0f rows/s ETA %-8s%s", options_.label.c_str(),
                 bar.c_str(), static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
                 fraction * 100, r, final ? "0s" : eta.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s: %llu/%llu rows (%.1f%%), %.0f rows/s, ETA %s%s\n", options_.label.c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_), fraction * 100, r,
                 final ? "0s" : eta.c_str(), final ? ", done" : "");
  }
  std::fflush(stderr);
}

}  // namespace engram::tool
