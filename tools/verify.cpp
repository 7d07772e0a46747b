#include "verify.hpp"

#include <cmath>
#include <cstring>
#include <set>
#include <string_view>
#include <unordered_map>

#include "engram/hash.hpp"
#include "tool_common.hpp"

namespace engram::tool {

namespace {

struct Digest {
  QueryHash query, response, metadata, embedding;
  std::int64_t created = 0, accessed = 0, access_count = 0;
  std::optional<std::int64_t> ttl;
  std::vector<float> vector;  // only with min_cosine
  bool seen = false;
};

QueryHash embedding_digest(const std::vector<float>& v) {
  return hash_bytes(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
}

std::string key_of(const StoredEntry& e) {
  std::string key = e.ns;
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(e.query_hash.bytes.data()), e.query_hash.bytes.size());
  return key;
}

std::string printable(std::string_view text, std::size_t max = 60) {
  std::string out;
  for (char c : text.substr(0, max)) out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
  if (text.size() > max) out += "...";
  return out;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return -2;
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : -2;
}

std::string ttl_text(const std::optional<std::int64_t>& ttl) { return ttl ? std::to_string(*ttl) + " ms" : "none"; }

}  // namespace

VerifyReport verify_stores(const AnyStore& source, const AnyStore& destination, const VerifyOptions& options) {
  VerifyReport report;
  auto differ = [&](const std::string& kind, const std::string& detail) {
    ++report.counts_by_kind[kind];
    if (report.first.size() < options.max_report) report.first.push_back(kind + ": " + detail);
  };
  const auto id_a = source.recorded_identity();
  const auto id_b = destination.recorded_identity();
  if (!options.min_cosine && !options.ignore_embeddings && id_a != id_b) {
    differ("embedder_identity", "source " + (id_a ? id_a->fingerprint + " d" + std::to_string(id_a->dim) : "none") +
                                    ", destination " +
                                    (id_b ? id_b->fingerprint + " d" + std::to_string(id_b->dim) : "none"));
  }

  // Namespaces, counts, quotas.
  std::set<std::string> namespaces;
  for (auto& ns : source.list_namespaces()) namespaces.insert(ns);
  for (auto& ns : destination.list_namespaces()) namespaces.insert(ns);
  for (const std::string& ns : namespaces) {
    const std::size_t a = source.count(ns), b = destination.count(ns);
    if (a != b)
      differ("namespace_count", "namespace \"" + printable(ns) + "\": " + std::to_string(a) + " in the source, " +
                                    std::to_string(b) + " in the destination");
    const auto qa = source.get_namespace_quota(ns), qb = destination.get_namespace_quota(ns);
    if (qa != qb)
      differ("quota", "namespace \"" + printable(ns) + "\": " + (qa ? std::to_string(*qa) : "none") + " vs " +
                          (qb ? std::to_string(*qb) : "none"));
  }

  std::unordered_map<std::string, Digest> digests;
  source.iter_all([&](const StoredEntry& e) {
    Digest d;
    d.query = hash_bytes(e.query);
    d.response = hash_bytes(e.response);
    d.metadata = hash_bytes(e.metadata);
    d.embedding = embedding_digest(e.embedding);
    d.created = e.created_at.time_since_epoch().count();
    d.accessed = e.last_accessed_at.time_since_epoch().count();
    d.access_count = e.access_count;
    if (e.ttl) d.ttl = e.ttl->count();
    if (options.min_cosine) d.vector = e.embedding;
    digests.emplace(key_of(e), std::move(d));
    ++report.source_entries;
    return true;
  });

  destination.iter_all([&](const StoredEntry& e) {
    ++report.destination_entries;
    const std::string where =
        "namespace \"" + printable(e.ns) + "\" hash " + e.query_hash.hex() + " (\"" + printable(e.query) + "\")";
    auto it = digests.find(key_of(e));
    if (it == digests.end()) {
      differ("missing_in_source", where + " is only in the destination");
      return true;
    }
    Digest& d = it->second;
    d.seen = true;
    ++report.compared;
    if (d.query != hash_bytes(e.query)) differ("query", where);
    if (d.response != hash_bytes(e.response)) differ("response", where + ": the response differs");
    if (d.metadata != hash_bytes(e.metadata)) differ("metadata", where + ": the metadata differs");
    if (d.created != e.created_at.time_since_epoch().count())
      differ("created_at", where + ": " + std::to_string(d.created) + " vs " +
                               std::to_string(e.created_at.time_since_epoch().count()));
    const std::optional<std::int64_t> ttl = e.ttl ? std::optional<std::int64_t>(e.ttl->count()) : std::nullopt;
    if (d.ttl != ttl) differ("ttl", where + ": " + ttl_text(d.ttl) + " vs " + ttl_text(ttl));
    if (!options.ignore_access) {
      if (d.accessed != e.last_accessed_at.time_since_epoch().count())
        differ("last_accessed_at", where + ": " + std::to_string(d.accessed) + " vs " +
                                       std::to_string(e.last_accessed_at.time_since_epoch().count()));
      if (d.access_count != e.access_count)
        differ("access_count", where + ": " + std::to_string(d.access_count) + " vs " + std::to_string(e.access_count));
    }
    if (!options.ignore_embeddings) {
      if (options.min_cosine) {
        const double c = cosine(d.vector, e.embedding);
        if (c < *options.min_cosine) differ("embedding", where + ": cosine " + std::to_string(c));
      } else if (d.embedding != embedding_digest(e.embedding)) {
        differ("embedding", where + ": the embedding is not bit-identical");
      }
    }
    return true;
  });
  for (const auto& entry : digests) {
    if (entry.second.seen) continue;
    const std::string& key = entry.first;
    const std::string_view ns(key.data(), key.find('\0'));
    QueryHash h;
    std::memcpy(h.bytes.data(), key.data() + ns.size() + 1, h.bytes.size());
    differ("missing_in_destination", "namespace \"" + printable(ns) + "\" hash " + h.hex() + " is only in the source");
  }
  return report;
}

std::string VerifyReport::to_text() const {
  std::string out;
  if (identical()) {
    out = "identical: " + std::to_string(compared) + " entries compared\n";
    return out;
  }
  std::uint64_t total = 0;
  for (const auto& [kind, n] : counts_by_kind) total += n;
  out = "DIFFERENT: " + std::to_string(total) + " difference(s); source " + std::to_string(source_entries) +
        " entries, destination " + std::to_string(destination_entries) + ", compared " + std::to_string(compared) +
        "\n";
  for (const auto& [kind, n] : counts_by_kind) out += "  " + kind + ": " + std::to_string(n) + "\n";
  out += "first differences:\n";
  for (const std::string& line : first) out += "  " + line + "\n";
  return out;
}

std::string VerifyReport::to_json() const {
  std::string out = "{\"identical\":";
  out += identical() ? "true" : "false";
  out += ",\"compared\":" + std::to_string(compared) + ",\"source_entries\":" + std::to_string(source_entries) +
         ",\"destination_entries\":" + std::to_string(destination_entries) + ",\"differences\":{";
  bool first_kind = true;
  for (const auto& [kind, n] : counts_by_kind) {
    if (!first_kind) out += ',';
    first_kind = false;
    append_json_string(out, kind);
    out += ":" + std::to_string(n);
  }
  out += "},\"first\":[";
  for (std::size_t i = 0; i < first.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, first[i]);
  }
  out += "]}";
  return out;
}

}  // namespace engram::tool
