#include "engram/hash.hpp"

#include <xxhash.h>

#include <string>

#include "engram/normalize.hpp"

namespace engram {

QueryHash hash_bytes(std::string_view bytes) noexcept {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, h);
  QueryHash out;
  for (std::size_t i = 0; i < out.bytes.size(); ++i) out.bytes[i] = canonical.digest[i];
  return out;
}

QueryHash hash_query(std::string_view query, const NormalizeOptions& options) {
  thread_local std::string normalized;  // reused: the exact-hit path allocates nothing here
  normalize_query_into(query, normalized, options);
  return hash_bytes(normalized);
}

}  // namespace engram
