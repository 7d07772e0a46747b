#pragma once
// Internal: the non-template helpers of SemanticCache — input validation, vector math,
// latency windows and the default clock.

#include <array>
#include <atomic>
#include <chrono>
#include <span>
#include <string_view>
#include <vector>

#include "engram/options.hpp"
#include "engram/types.hpp"

namespace engram::detail {

// The system clock truncated to milliseconds (what every store persists).
Timestamp system_now();

// Throws InvalidArgument unless every option is usable (threshold in [-1, 1], ...).
void validate_options(const CacheOptions& options);

// Throws InvalidArgument when the query is empty, too large or not UTF-8.
void validate_query(std::string_view query, const CacheOptions& options);
// Throws InvalidArgument when the namespace is too large (1 KiB) or not UTF-8.
void validate_namespace(std::string_view ns);
// Throws InvalidArgument for an oversize response, or metadata that is too large or not a
// JSON object.
void validate_payload(std::string_view response, std::string_view metadata, const CacheOptions& options);
// Throws InvalidArgument unless threshold is a number in [-1, 1].
void validate_threshold(double threshold);

// Returns `v` scaled to unit length. Throws InvalidArgument when the dimension is not `dim`,
// a component is NaN or infinite, or the vector is all zeros. `what` names it in messages.
std::vector<float> to_unit_vector(std::vector<float> v, std::size_t dim, std::string_view what);

// Inner product in double precision (exact re-scoring of quantized candidates).
double dot(std::span<const float> a, std::span<const float> b);

// A fixed window of recent latencies, recorded lock-free from any thread.
class LatencyWindow {
 public:
  void record(std::chrono::nanoseconds elapsed);
  LatencySummary summary() const;

 private:
  static constexpr std::size_t kSize = 4096;
  std::array<std::atomic<std::uint32_t>, kSize> samples_ns_{};
  std::atomic<std::uint64_t> count_{0};
};

}  // namespace engram::detail
