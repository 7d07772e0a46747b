#include "engram/detail/cache_support.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "engram/detail/json.hpp"
#include "engram/errors.hpp"
#include "engram/normalize.hpp"

namespace engram::detail {
namespace {

constexpr std::size_t kMaxNamespaceBytes = 1024;

std::string size_text(std::size_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

Timestamp system_now() { return std::chrono::floor<Millis>(std::chrono::system_clock::now()); }

void validate_threshold(double threshold) {
  if (!(threshold >= -1.0 && threshold <= 1.0)) {
    throw InvalidArgument("similarity threshold " + std::to_string(threshold) +
                          " is outside [-1, 1]. Remediation: use a cosine similarity such as 0.85.");
  }
}

void validate_options(const CacheOptions& o) {
  if (o.similarity_threshold) validate_threshold(*o.similarity_threshold);
  auto require = [](bool ok, const std::string& what) {
    if (!ok)
      throw InvalidArgument("invalid CacheOptions: " + what + ". Remediation: fix the option or keep its default.");
  };
  require(!o.max_entries || *o.max_entries > 0, "max_entries must be at least 1");
  require(!o.default_ttl || o.default_ttl->count() > 0, "default_ttl must be positive");
  require(o.sync_interval.count() >= 0, "sync_interval must not be negative");
  require(o.top_k > 0, "top_k must be at least 1");
  require(o.search_threads > 0, "search_threads must be at least 1");
  require(o.eviction_batch > 0, "eviction_batch must be at least 1");
  require(o.touch_batch > 0, "touch_batch must be at least 1");
  require(o.flush_interval.count() >= 0, "flush_interval must not be negative");
  require(o.max_query_bytes > 0 && o.max_response_bytes > 0 && o.max_metadata_bytes > 0,
          "size limits must be positive");
  require(std::isfinite(o.min_confidence), "min_confidence must be a finite number");
  require(o.hnsw.m >= 2 && o.hnsw.ef_construction > 0 && o.hnsw.ef_search > 0 && o.hnsw.auto_threshold > 0,
          "HNSW parameters must be positive (m >= 2)");
}

void validate_query(std::string_view query, const CacheOptions& options) {
  if (query.size() > options.max_query_bytes) {
    throw InvalidArgument("query of " + size_text(query.size()) + " exceeds max_query_bytes (" +
                          size_text(options.max_query_bytes) + "). Remediation: shorten the query or raise the limit.");
  }
  if (!is_valid_utf8(query)) {
    throw InvalidArgument("query is not valid UTF-8. Remediation: re-encode the text as UTF-8.");
  }
}

void validate_namespace(std::string_view ns) {
  if (ns.size() > kMaxNamespaceBytes) {
    throw InvalidArgument("namespace of " + size_text(ns.size()) +
                          " exceeds 1024 bytes. Remediation: use a shorter namespace name.");
  }
  if (!is_valid_utf8(ns)) {
    throw InvalidArgument("namespace is not valid UTF-8. Remediation: use a UTF-8 namespace name.");
  }
}

void validate_payload(std::string_view response, std::string_view metadata, const CacheOptions& options) {
  if (response.size() > options.max_response_bytes) {
    throw InvalidArgument("response of " + size_text(response.size()) + " exceeds max_response_bytes (" +
                          size_text(options.max_response_bytes) +
                          "). Remediation: do not cache it, or raise the limit.");
  }
  if (metadata.size() > options.max_metadata_bytes) {
    throw InvalidArgument("metadata of " + size_text(metadata.size()) + " exceeds max_metadata_bytes (" +
                          size_text(options.max_metadata_bytes) +
                          "). Remediation: store less metadata, or raise the limit.");
  }
  if (!is_json_object(metadata)) {
    throw InvalidArgument("metadata is not a JSON object. Remediation: pass a JSON object such as {\"model\":\"m1\"}.");
  }
}

std::vector<float> to_unit_vector(std::vector<float> v, std::size_t dim, std::string_view what) {
  const std::string name(what);
  if (v.size() != dim) {
    throw InvalidArgument(name + " has dimension " + std::to_string(v.size()) + ", the cache expects " +
                          std::to_string(dim) + ". Remediation: use the embedder the cache was opened with.");
  }
  double norm = 0;
  for (float x : v) {
    if (!std::isfinite(x)) {
      throw InvalidArgument(name + " contains NaN or infinity. Remediation: check the embedding model's output.");
    }
    norm += static_cast<double>(x) * x;
  }
  if (norm == 0) {
    throw InvalidArgument(name + " is all zeros and has no direction. Remediation: embed non-empty text.");
  }
  const double inv = 1.0 / std::sqrt(norm);
  for (float& x : v) x = static_cast<float>(x * inv);
  return v;
}

double dot(std::span<const float> a, std::span<const float> b) {
  double sum = 0;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

void LatencyWindow::record(std::chrono::nanoseconds elapsed) {
  // Nanoseconds saturate at ~4.3 s, far past any latency worth a percentile here.
  const auto ns = static_cast<std::uint32_t>(std::clamp<std::int64_t>(elapsed.count(), 0, UINT32_MAX));
  const std::uint64_t slot = count_.fetch_add(1, std::memory_order_relaxed) % kSize;
  samples_ns_[slot].store(ns, std::memory_order_relaxed);
}

LatencySummary LatencyWindow::summary() const {
  const std::uint64_t count = count_.load(std::memory_order_relaxed);
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(count, kSize));
  LatencySummary out;
  out.count = count;
  if (n == 0) return out;
  std::vector<std::uint32_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = samples_ns_[i].load(std::memory_order_relaxed);
  std::sort(v.begin(), v.end());
  out.p50_us = v[n / 2] / 1e3;
  out.p99_us = v[std::min(n - 1, n * 99 / 100)] / 1e3;
  out.max_us = v.back() / 1e3;
  return out;
}

}  // namespace engram::detail
