#include "engram/hash.hpp"

#include <xxhash.h>

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
  return hash_bytes(normalize_query(query, options));
}

}  // namespace engram
