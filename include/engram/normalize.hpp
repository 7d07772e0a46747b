#pragma once
// Query normalization: the exact layer matches queries that are equal after
//   1. (optionally) Unicode NFKC,
//   2. full Unicode case folding ("STRAßE" -> "strasse"),
//   3. trimming and collapsing every run of Unicode whitespace to one ASCII space.
// Pure ASCII input takes a fast path with the same result. Thread-safe, no global state.

#include <string>
#include <string_view>

#include "engram/options.hpp"

namespace engram {

// Returns the normalized form of `text`.
// Throws InvalidArgument if `text` is not valid UTF-8 (it is never hashed as garbage).
std::string normalize_query(std::string_view text, const NormalizeOptions& options = {});

// The same, written into `out` (its capacity is reused: no allocation for ASCII text once it
// is large enough).
void normalize_query_into(std::string_view text, std::string& out, const NormalizeOptions& options = {});

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view text) noexcept;

}  // namespace engram
