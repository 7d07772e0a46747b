#pragma once
// Internal: the RedisStore snapshot file format (documented in docs/multi-process.md).
//
// All integers little-endian. "bytes" = u64 length + that many bytes.
//
//   magic            8 bytes  "ENGRMRS1"
//   format           u32      1
//   version_counter  u64
//   next_id          u64      last id allocated (ids are never reused, even after restore)
//   meta             u32 n, then n x (bytes key, bytes value)
//   quotas           u32 n, then n x (bytes ns, u64 max_entries)
//   rows             u64 n, then n x row, ascending id
//     row: i64 id, bytes ns, 16 bytes query hash, bytes query, bytes response,
//          bytes embedding (float32 little-endian, 4 x dim), bytes metadata,
//          i64 created_at ms, i64 last_accessed_at ms, u8 has_ttl, i64 ttl ms,
//          i64 access_count
//   checksum         u64      FNV-1a 64 of every preceding byte
//
// The checksum is there to reject truncated or damaged files before anything is written to
// Redis, not to resist tampering.

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "engram/types.hpp"

namespace engram::detail {

struct RedisSnapshot {
  std::uint64_t version_counter = 0;
  std::uint64_t next_id = 0;
  std::vector<std::pair<std::string, std::string>> meta;
  std::vector<std::pair<std::string, std::uint64_t>> quotas;
  std::vector<StoredEntry> rows;
};

// Throws CheckpointError when the file cannot be written; writes `path`.tmp and renames.
void write_redis_snapshot(const std::filesystem::path& path, const RedisSnapshot& snapshot);
// Throws CheckpointError when the file cannot be read, StoreCorrupt when it is not a valid
// snapshot (bad magic, unknown format, truncation, checksum mismatch, trailing bytes).
RedisSnapshot read_redis_snapshot(const std::filesystem::path& path);

// float32 <-> little-endian bytes, bit-exact.
std::string embedding_to_bytes(const std::vector<float>& embedding);
bool bytes_to_embedding(std::string_view bytes, std::vector<float>& out);

}  // namespace engram::detail
