#pragma once
// Prometheus text exposition (format 0.0.4) of a cache's Stats, for a /metrics endpoint or a
// textfile collector:
//
//   std::string body = engram::to_prometheus(cache.stats(), {{"service", "support-bot"}});
//   // serve with Content-Type: text/plain; version=0.0.4
//
// Families (every sample also carries the given `labels`):
//   counters  engram_hits_total{namespace,layer}          exact / semantic hits
//             engram_misses_total{namespace,reason}       misses by MissReason (to_string names)
//             engram_guard_rejections_total{namespace,reason}  kGuarded misses by guard reason
//             engram_puts_total, engram_evictions_total, engram_expirations_total {namespace}
//             engram_errors_total, engram_syncs_total, engram_rebuilds_total
//   gauges    engram_entries{namespace}, engram_index_memory_bytes{namespace},
//             engram_quarantined_entries, engram_response_cache_bytes,
//             engram_exact_map_entries, engram_exact_map_bytes
//   summaries engram_get_latency_seconds, engram_put_latency_seconds: {quantile="0.5"},
//             {quantile="0.99"} and _count over the cache's recent-call window; plus gauges
//             engram_get_latency_max_seconds / engram_put_latency_max_seconds.
// Per-namespace families have one sample per namespace in Stats::by_namespace (sum them for a
// total). Label values are escaped (backslash, double quote, newline).
//
// Thread safety: a pure function. Throws InvalidArgument when a key of `labels` is not a valid
// Prometheus label name or collides with a label engram sets (namespace, layer, reason,
// quantile).

#include <map>
#include <string>

#include "engram/types.hpp"

namespace engram {

std::string to_prometheus(const Stats& stats, const std::map<std::string, std::string>& labels = {});

}  // namespace engram
