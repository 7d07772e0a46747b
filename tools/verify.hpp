#pragma once
// verify: proves two stores hold the same cache (MemPalace RFC 001 section 8), after a migrate
// or an export/import. Compared: the embedder identity, per-namespace entry counts and
// quotas, and for every (namespace, query hash) on either side: presence on both, query,
// response, metadata, created_at, TTL, last_accessed_at and access_count (unless
// ignore_access), and the embedding bit for bit (or cosine >= min_cosine after a re-embed;
// or not at all with ignore_embeddings). Ids are not compared (a copy assigns new ones).
//
// Memory: a digest per source entry (about 100 bytes; plus the vector when min_cosine is set).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engram/stores/any_store.hpp"

namespace engram::tool {

struct VerifyOptions {
  std::optional<double> min_cosine{};  // compare embeddings by cosine (after a re-embed)
  bool ignore_embeddings = false;
  bool ignore_access = false;   // skip last_accessed_at / access_count (a live source moves them)
  std::size_t max_report = 20;  // differences listed in full
};

struct VerifyReport {
  std::uint64_t compared = 0;  // entries present on both sides
  std::uint64_t source_entries = 0, destination_entries = 0;
  std::map<std::string, std::uint64_t> counts_by_kind{};  // difference kind -> how many
  std::vector<std::string> first{};                       // the first max_report, readable
  bool identical() const { return counts_by_kind.empty(); }
  std::string to_text() const;
  std::string to_json() const;
};

// Both stores must be open. Throws what the stores throw.
VerifyReport verify_stores(const AnyStore& source, const AnyStore& destination, const VerifyOptions& options);

}  // namespace engram::tool
