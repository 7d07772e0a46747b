#pragma once
// Shared helpers for engram's benchmarks: deterministic data, per-call latency percentiles,
// the single-core streaming bandwidth probe, and a reporter that prints the summary table
// bench/run shows (rows start with "@@\t", tab-separated).
//
// Google Benchmark reports means; the workloads are judged on p50/p99 per call, so every
// benchmark times each call itself with steady_clock and publishes the percentiles as
// counters (p50_us, p99_us, p999_us = p99.9, max_us), together with N, d, ops_s, recall, bw_frac and bytes_per_entry.
// The workload name and mode travel in the label as "workload|mode".

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numbers>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mman.h>

namespace engram::bench {

using Clock = std::chrono::steady_clock;

inline bool quick() {
  const char* q = std::getenv("ENGRAM_BENCH_QUICK");
  return q != nullptr && *q != '\0' && *q != '0';
}

// ---- deterministic data (independent of the standard library's distributions) ----

inline std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Standard normal samples by Box-Muller from a splitmix64 stream.
class Gaussian {
 public:
  explicit Gaussian(std::uint64_t seed) : state_(seed) {}
  float next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(splitmix64(state_) >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(splitmix64(state_) >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = static_cast<float>(r * std::sin(2 * std::numbers::pi * u2));
    has_spare_ = true;
    return static_cast<float>(r * std::cos(2 * std::numbers::pi * u2));
  }

 private:
  std::uint64_t state_;
  float spare_ = 0;
  bool has_spare_ = false;
};

inline void normalize(std::span<float> v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  const float inv = n > 0 ? static_cast<float>(1.0 / std::sqrt(n)) : 0.0f;
  for (float& x : v) x *= inv;
}

inline void random_unit_vector(std::span<float> out, std::uint64_t seed) {
  Gaussian g(seed);
  for (float& x : out) x = g.next();
  normalize(out);
}

// n unit vectors, row-major; row i is random_unit_vector(seed * 1'000'003 + i).
inline std::vector<float> unit_vectors(std::size_t n, std::size_t d, std::uint64_t seed) {
  std::vector<float> out(n * d);
  for (std::size_t i = 0; i < n; ++i)
    random_unit_vector(std::span<float>(out).subspan(i * d, d), seed * 1'000'003ull + i);
  return out;
}

// normalize(v + sigma * noise) with sigma chosen so that the expected cosine to v is `cosine`.
inline std::vector<float> paraphrase(std::span<const float> v, double cosine, std::uint64_t seed) {
  const double sigma = std::sqrt((1.0 / (cosine * cosine) - 1.0) / static_cast<double>(v.size()));
  Gaussian g(seed);
  std::vector<float> out(v.begin(), v.end());
  for (float& x : out) x += static_cast<float>(sigma) * g.next();
  normalize(out);
  return out;
}

// ---- latencies ----

class Latencies {
 public:
  void reserve(std::size_t n) { us_.reserve(n); }
  void add(Clock::duration d) { us_.push_back(std::chrono::duration<double, std::micro>(d).count()); }
  void merge(const Latencies& other) { us_.insert(us_.end(), other.us_.begin(), other.us_.end()); }
  std::size_t count() const { return us_.size(); }
  double percentile(double p) {
    if (us_.empty()) return 0;
    std::sort(us_.begin(), us_.end());
    const double rank = p / 100.0 * static_cast<double>(us_.size() - 1);
    const auto lo = static_cast<std::size_t>(rank);
    const std::size_t hi = std::min(lo + 1, us_.size() - 1);
    return us_[lo] + (us_[hi] - us_[lo]) * (rank - static_cast<double>(lo));
  }
  double total_s() const {
    double s = 0;
    for (double x : us_) s += x;
    return s / 1e6;
  }

 private:
  std::vector<double> us_;
};

struct Row {
  std::string workload;
  std::string mode;
  double n = 0;
  double d = 0;
  double recall = -1;
  double bw_frac = -1;
  double bytes_per_entry = -1;
  double ops_s = -1;  // default: calls / sum of call times
};

// Publishes the row: label "workload|mode" and counters for the reporter.
inline void publish(benchmark::State& state, Latencies& lat, const Row& row) {
  state.SetLabel(row.workload + "|" + row.mode);
  state.counters["N"] = row.n;
  state.counters["d"] = row.d;
  state.counters["p50_us"] = lat.percentile(50);
  state.counters["p99_us"] = lat.percentile(99);
  state.counters["p999_us"] = lat.percentile(99.9);
  state.counters["max_us"] = lat.percentile(100);
  const double total = lat.total_s();
  state.counters["ops_s"] = row.ops_s >= 0 ? row.ops_s : (total > 0 ? static_cast<double>(lat.count()) / total : 0);
  if (row.recall >= 0) state.counters["recall"] = row.recall;
  if (row.bw_frac >= 0) state.counters["bw_frac"] = row.bw_frac;
  if (row.bytes_per_entry >= 0) state.counters["bytes_per_entry"] = row.bytes_per_entry;
}

// ---- single-core streaming read bandwidth ----

// Sums a buffer far larger than the last-level cache with wide loads and several independent
// accumulators: the best a single core can stream from DRAM, which bounds any flat scan.
__attribute__((target("avx2"))) inline std::uint64_t stream_sum_avx2(const std::uint64_t* p, std::size_t n) {
  typedef long long v4 __attribute__((vector_size(32)));
  v4 a{0, 0, 0, 0}, b{0, 0, 0, 0}, c{0, 0, 0, 0}, e{0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v4 x0, x1, x2, x3;
    __builtin_memcpy(&x0, p + i, 32);
    __builtin_memcpy(&x1, p + i + 4, 32);
    __builtin_memcpy(&x2, p + i + 8, 32);
    __builtin_memcpy(&x3, p + i + 12, 32);
    a += x0;
    b += x1;
    c += x2;
    e += x3;
  }
  v4 s = a + b + c + e;
  return static_cast<std::uint64_t>(s[0] + s[1] + s[2] + s[3]);
}

inline std::uint64_t stream_sum_portable(const std::uint64_t* p, std::size_t n) {
  std::uint64_t a = 0, b = 0, c = 0, e = 0;
  for (std::size_t i = 0; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    e += p[i + 3];
  }
  return a + b + c + e;
}

// A buffer of 64-bit words on 2 MiB-aligned memory advised for transparent huge pages, like
// the index's row chunks: the reference stream must not pay 4 KiB TLB misses the scan avoids.
class StreamBuffer {
 public:
  explicit StreamBuffer(std::size_t bytes) {
    const std::size_t huge = std::size_t{2} << 20;
    bytes_ = (std::max<std::size_t>(bytes, 64) + huge - 1) / huge * huge;
    words_ = bytes / 8;
    data_ = static_cast<std::uint64_t*>(std::aligned_alloc(huge, bytes_));
    if (data_ == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    ::madvise(data_, bytes_, MADV_HUGEPAGE);
#endif
    for (std::size_t i = 0; i < bytes_ / 8; ++i) data_[i] = i;
  }
  ~StreamBuffer() { std::free(data_); }
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
  // One pass over the first `bytes` given to the constructor.
  std::uint64_t pass() const {
    static const bool avx2 = __builtin_cpu_supports("avx2");
    return avx2 ? stream_sum_avx2(data_, words_) : stream_sum_portable(data_, words_);
  }

 private:
  std::uint64_t* data_ = nullptr;
  std::size_t bytes_ = 0, words_ = 0;
};

// GB/s (1e9 bytes), median of several passes over 512 MiB; measured once per process.
inline double stream_bandwidth_gbs() {
  static const double gbs = [] {
    const std::size_t bytes = std::size_t{512} << 20;
    StreamBuffer buf(bytes);
    std::vector<double> rates;
    std::uint64_t sink = 0;
    for (int pass = 0; pass < 9; ++pass) {
      const auto t0 = Clock::now();
      sink += buf.pass();
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      rates.push_back(static_cast<double>(bytes) / s / 1e9);
    }
    benchmark::DoNotOptimize(sink);
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
  }();
  return gbs;
}

// ---- the summary table ----

class TableReporter : public benchmark::ConsoleReporter {
 public:
  TableReporter() : ConsoleReporter(OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.report_label.find('|') == std::string::npos) continue;
      rows_.push_back(r);
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const Run& r : rows_) {
      const std::string& label = r.report_label;
      const auto bar = label.find('|');
      auto get = [&](const char* key) {
        const auto it = r.counters.find(key);
        return it == r.counters.end() ? -1.0 : static_cast<double>(it->second.value);
      };
      auto fmt = [](double v, const char* spec) {
        if (v < 0) return std::string("-");
        char buf[64];
        std::snprintf(buf, sizeof buf, spec, v);
        return std::string(buf);
      };
      // p99.9 and max come last, so rows of other producers (embedder_reference.py) still parse.
      std::printf("@@\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", label.substr(0, bar).c_str(),
                  fmt(get("N"), "%.0f").c_str(), fmt(get("d"), "%.0f").c_str(), label.substr(bar + 1).c_str(),
                  fmt(get("p50_us"), "%.1f").c_str(), fmt(get("p99_us"), "%.1f").c_str(),
                  fmt(get("ops_s"), "%.0f").c_str(), fmt(get("recall"), "%.3f").c_str(),
                  fmt(get("bw_frac"), "%.2f").c_str(), fmt(get("bytes_per_entry"), "%.0f").c_str(),
                  fmt(get("p999_us"), "%.1f").c_str(), fmt(get("max_us"), "%.1f").c_str());
    }
    std::fflush(stdout);
  }

 private:
  std::vector<Run> rows_;
};

inline int run_main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // Constructed by hand, so the --benchmark_color flag does not reach it: no colour, which
  // also keeps the "@@" rows free of escape codes for bench/run.
  TableReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace engram::bench
