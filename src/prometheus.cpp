#include "engram/prometheus.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engram/errors.hpp"

namespace engram {

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

bool valid_label_name(const std::string& name) {
  if (name.empty() || (name.size() >= 2 && name[0] == '_' && name[1] == '_')) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void append_escaped(std::string& out, const std::string& value) {
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string format_value(std::uint64_t v) { return std::to_string(v); }

class Writer {
 public:
  explicit Writer(const Labels& common) : common_(common) {}

  // Starts a family: HELP and TYPE lines, once per family, before its samples.
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(const std::string& name, const Labels& labels, const std::string& value) {
    out_ += name;
    if (!common_.empty() || !labels.empty()) {
      out_ += '{';
      bool first = true;
      for (const Labels* set : {&common_, &labels}) {
        for (const auto& [k, v] : *set) {
          if (!first) out_ += ',';
          first = false;
          out_ += k;
          out_ += "=\"";
          append_escaped(out_, v);
          out_ += '"';
        }
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  std::string take() { return std::move(out_); }

 private:
  const Labels& common_;
  std::string out_;
};

}  // namespace

std::string to_prometheus(const Stats& stats, const std::map<std::string, std::string>& labels) {
  Labels common;
  for (const auto& [k, v] : labels) {
    if (!valid_label_name(k))
      throw InvalidArgument("to_prometheus: '" + k +
                            "' is not a valid Prometheus label name. Remediation: use [a-zA-Z_][a-zA-Z0-9_]*, not "
                            "starting with '__'.");
    if (k == "namespace" || k == "layer" || k == "reason" || k == "quantile")
      throw InvalidArgument("to_prometheus: label '" + k +
                            "' is set by engram itself. Remediation: choose another label name.");
    common.emplace_back(k, v);
  }
  Writer w(common);
  using NsFn = std::function<std::uint64_t(const NamespaceStats&)>;
  auto per_ns = [&](const char* name, const char* type, const char* help, const NsFn& fn) {
    w.family(name, type, help);
    for (const auto& [ns, n] : stats.by_namespace) w.sample(name, {{"namespace", ns}}, format_value(fn(n)));
  };

  w.family("engram_hits_total", "counter", "Cache hits by layer (exact: normalized query hash; semantic: cosine).");
  for (const auto& [ns, n] : stats.by_namespace) {
    w.sample("engram_hits_total", {{"namespace", ns}, {"layer", "exact"}}, format_value(n.hits_exact));
    w.sample("engram_hits_total", {{"namespace", ns}, {"layer", "semantic"}}, format_value(n.hits_semantic));
  }
  w.family("engram_misses_total", "counter", "Cache misses by reason.");
  for (const auto& [ns, n] : stats.by_namespace) {
    for (std::size_t r = 0; r < kMissReasonCount; ++r) {
      w.sample("engram_misses_total", {{"namespace", ns}, {"reason", to_string(static_cast<MissReason>(r))}},
               format_value(n.misses_by_reason[r]));
    }
  }
  w.family("engram_guard_rejections_total", "counter",
           "Misses because the guard refused every candidate, by the guard's reason.");
  for (const auto& [ns, n] : stats.by_namespace)
    for (const auto& [reason, count] : n.guarded_by_reason)
      w.sample("engram_guard_rejections_total", {{"namespace", ns}, {"reason", reason}}, format_value(count));
  per_ns("engram_puts_total", "counter", "Entries stored by put.", [](const NamespaceStats& n) { return n.puts; });
  per_ns("engram_evictions_total", "counter", "Entries evicted by quota or max_entries (LRU).",
         [](const NamespaceStats& n) { return n.evictions; });
  per_ns("engram_expirations_total", "counter", "Entries removed because their TTL had passed.",
         [](const NamespaceStats& n) { return n.expirations; });

  auto global = [&](const char* name, const char* type, const char* help, std::uint64_t value) {
    w.family(name, type, help);
    w.sample(name, {}, format_value(value));
  };
  global("engram_errors_total", "counter", "Store or embedder failures reported by the cache.", stats.errors);
  global("engram_syncs_total", "counter", "Times the cache applied other processes' changes.", stats.syncs);
  global("engram_rebuilds_total", "counter", "Full rebuilds of the in-memory state from the store.", stats.rebuilds);
  global("engram_sidecar_loads_total", "counter", "Opens that loaded the index sidecar.", stats.sidecar_loads);
  global("engram_sidecar_discards_total", "counter", "Index sidecars found but discarded (rebuilt from the store).",
         stats.sidecar_discards);
  global("engram_sidecar_writes_total", "counter", "Index sidecars written.", stats.sidecar_writes);

  per_ns("engram_entries", "gauge", "Entries in the namespace.",
         [](const NamespaceStats& n) { return static_cast<std::uint64_t>(n.entries); });
  per_ns("engram_index_memory_bytes", "gauge", "Bytes of the namespace's semantic index.",
         [](const NamespaceStats& n) { return static_cast<std::uint64_t>(n.index_memory_bytes); });
  per_ns("engram_index_unlinked_rows", "gauge",
         "Rows of an HNSW namespace not linked into its graph yet (scanned exactly meanwhile).",
         [](const NamespaceStats& n) { return static_cast<std::uint64_t>(n.index_unlinked); });
  global("engram_quarantined_entries", "gauge", "Stored rows skipped because their embedding is unusable.",
         stats.quarantined);
  global("engram_response_cache_bytes", "gauge", "Bytes held by the in-memory response cache.",
         stats.response_cache_bytes);
  global("engram_exact_map_entries", "gauge", "Entries of the in-memory exact-match map.", stats.exact_map_entries);
  global("engram_exact_map_bytes", "gauge", "Bytes of the in-memory exact-match map.", stats.exact_map_bytes);

  auto summary = [&](const char* name, const char* max_name, const char* what, const LatencySummary& s) {
    w.family(name, "summary", what);
    w.sample(name, {{"quantile", "0.5"}}, format_value(s.p50_us / 1e6));
    w.sample(name, {{"quantile", "0.99"}}, format_value(s.p99_us / 1e6));
    w.sample(std::string(name) + "_count", {}, format_value(s.count));
    w.family(max_name, "gauge", "Slowest call in the recent-call window, in seconds.");
    w.sample(max_name, {}, format_value(s.max_us / 1e6));
  };
  summary("engram_get_latency_seconds", "engram_get_latency_max_seconds",
          "Latency of get() over the recent-call window, in seconds.", stats.get_latency);
  summary("engram_put_latency_seconds", "engram_put_latency_max_seconds",
          "Latency of put() over the recent-call window, in seconds.", stats.put_latency);
  return w.take();
}

}  // namespace engram
