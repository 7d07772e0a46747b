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
// The checksum is there to reject truncated or damaged files before anything is applied to
// the destination, not to resist tampering. Files are written through DurableFileWriter
// (private, fsynced, atomically renamed) and read through RedisSnapshotReader, which checks
// the header first and streams the rows, so neither side holds the whole file twice and a
// huge file that is not a snapshot is refused after its first 12 bytes.

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "engram/detail/durable_file.hpp"
#include "engram/types.hpp"

namespace engram::detail {

struct RedisSnapshot {
  std::uint64_t version_counter = 0;
  std::uint64_t next_id = 0;
  std::vector<std::pair<std::string, std::string>> meta;
  std::vector<std::pair<std::string, std::uint64_t>> quotas;
  std::vector<StoredEntry> rows;
};

// Throws CheckpointError when the file cannot be written (see DurableFileWriter).
void write_redis_snapshot(const std::filesystem::path& path, const RedisSnapshot& snapshot);

// Reads a snapshot front to back. The constructor opens the file (CheckpointError when it
// cannot) and reads magic, format, counters, meta and quotas (StoreCorrupt on a wrong magic
// or format before reading further). next_row() then yields the rows one at a time, and
// finish() verifies the checksum over every byte read and that nothing follows it. Only
// after finish() returned may anything read be trusted: every method throws StoreCorrupt
// as soon as it sees damage (truncation, a length beyond the file, ids not ascending or
// beyond next_id, a bad flag).
class RedisSnapshotReader {
 public:
  explicit RedisSnapshotReader(const std::filesystem::path& path);

  std::uint64_t version_counter() const noexcept { return version_counter_; }
  std::uint64_t next_id() const noexcept { return next_id_; }
  const std::vector<std::pair<std::string, std::string>>& meta() const noexcept { return meta_; }
  const std::vector<std::pair<std::string, std::uint64_t>>& quotas() const noexcept { return quotas_; }
  std::uint64_t row_count() const noexcept { return rows_; }

  // The next row into `out`; false after the last one.
  bool next_row(StoredEntry& out);
  // Checksum and trailing-bytes check; call after next_row() returned false.
  void finish();

 private:
  [[noreturn]] void corrupt(const std::string& why) const;
  void take(void* out, std::size_t n);
  template <class T>
  T num();
  std::string bytes();

  std::string what_;
  FileReader file_;
  std::uint64_t hash_;
  std::uint64_t version_counter_ = 0;
  std::uint64_t next_id_ = 0;
  std::vector<std::pair<std::string, std::string>> meta_;
  std::vector<std::pair<std::string, std::uint64_t>> quotas_;
  std::uint64_t rows_ = 0;
  std::uint64_t rows_read_ = 0;
  EntryId previous_id_ = 0;
};

// float32 <-> little-endian bytes, bit-exact.
std::string embedding_to_bytes(const std::vector<float>& embedding);
bool bytes_to_embedding(std::string_view bytes, std::vector<float>& out);

}  // namespace engram::detail
