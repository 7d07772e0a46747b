#pragma once
// Test data for the operations tests: a store filled with `n` entries over several namespaces,
// with TTLs on some, access statistics, metadata, quotas, and random unit embeddings (cheap to
// make, unlike real embeddings). Deterministic for a given seed.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engram/hash.hpp"
#include "engram/stores/any_store.hpp"

namespace engram::testing {

inline constexpr const char* kOpsFingerprint = "test:ops:d384";
inline constexpr std::size_t kOpsDim = 384;

inline std::uint64_t ops_mix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline StoredEntry ops_entry(std::size_t i, std::uint64_t seed = 1) {
  std::uint64_t s = seed * 1000003ull + i;
  StoredEntry e;
  static const char* kNs[] = {"support", "billing", "tenant:a", "", "ünïcode"};
  e.ns = kNs[i % 5];
  e.query = "question number " + std::to_string(i) + " about \"things\"\n\ttabbed";
  e.query_hash = hash_query(e.query);
  e.response = "answer " + std::to_string(i) + (i % 7 == 0 ? std::string("\x01\x7f with controls") : "");
  e.metadata = i % 3 == 0 ? "{}" : "{\"model\":\"m" + std::to_string(i % 4) + "\",\"n\":" + std::to_string(i) + "}";
  e.created_at = Timestamp(Millis(1'700'000'000'000 + static_cast<std::int64_t>(i) * 1000));
  e.last_accessed_at = e.created_at + Millis(static_cast<std::int64_t>(ops_mix(s) % 100000));
  if (i % 4 == 1) e.ttl = Millis(3'600'000 + static_cast<std::int64_t>(i));
  e.access_count = static_cast<std::int64_t>(ops_mix(s) % 50);
  e.embedding.resize(kOpsDim);
  double norm = 0;
  for (float& x : e.embedding) {
    x = static_cast<float>(static_cast<double>(ops_mix(s) >> 11) * 0x1.0p-53 - 0.5);
    norm += static_cast<double>(x) * x;
  }
  for (float& x : e.embedding) x = static_cast<float>(x / std::sqrt(norm));
  return e;
}

// Opens `store` with the test identity and loads n entries in batches, plus quotas.
inline void fill_ops_store(AnyStore& store, std::size_t n, std::uint64_t seed = 1) {
  store.open(kOpsFingerprint, kOpsDim);
  std::vector<StoredEntry> batch;
  for (std::size_t i = 0; i < n; ++i) {
    batch.push_back(ops_entry(i, seed));
    if (batch.size() == 2000 || i + 1 == n) {
      store.insert_many(batch);
      batch.clear();
    }
  }
  store.set_namespace_quota("support", 1'000'000);
  store.set_namespace_quota("tenant:a", 500'000);
}

}  // namespace engram::testing
