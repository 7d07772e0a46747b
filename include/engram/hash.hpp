#pragma once
// XXH3-128 query hashing. hash_query() normalizes first; hash_bytes() hashes as given.
// Deterministic across runs, processes and machines. Thread-safe.

#include <string_view>

#include "engram/options.hpp"
#include "engram/types.hpp"

namespace engram {

// XXH3-128 of `bytes` (seed 0), canonical big-endian byte order.
QueryHash hash_bytes(std::string_view bytes) noexcept;

// hash_bytes(normalize_query(query, options)). Throws InvalidArgument on invalid UTF-8.
QueryHash hash_query(std::string_view query, const NormalizeOptions& options = {});

}  // namespace engram
