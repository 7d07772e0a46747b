#pragma once
// The export format of `engram export` / `engram import`: JSON Lines, UTF-8, one object per
// line (docs/operations.md has the full description).
//
// Line 1, the header:
//   {"format":"engram-export","version":1,"fingerprint":"engram:hashing:v1:d384","dim":384,
//    "source":"sqlite:c.db","entries":2,"exported_at_ms":1700000000000,
//    "quotas":[{"ns":"support","max_entries":1000}]}
// Every further line, one entry with every field of StoredEntry:
//   {"id":7,"ns":"support","hash":"<32 hex digits>","query":"...","response":"...",
//    "metadata":"{}","created_at_ms":...,"last_accessed_at_ms":...,"ttl_ms":null,
//    "access_count":3,"embedding":"<base64 of dim little-endian float32>"}
// Text fields that are not valid UTF-8 (namespaces and queries are arbitrary bytes) are
// written as "<field>_b64" (base64 of the bytes) instead, so every entry round-trips exactly.
// "metadata" is the stored JSON text as a string, byte for byte. "id" is the source id,
// informational only (the destination assigns its own).
//
// Decoding is strict: unknown or duplicate keys, missing fields, wrong types, a hash that is
// not 32 hex digits, bad base64, an embedding of the wrong size or with a non-finite value,
// trailing text are all errors (InvalidArgument with a message saying which field and why).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engram/stores/any_store.hpp"
#include "engram/types.hpp"

namespace engram::tool {

inline constexpr int kExportFormatVersion = 1;
inline constexpr std::string_view kExportFormatName = "engram-export";

struct ExportHeader {
  int version = kExportFormatVersion;
  StoreIdentity identity{};
  std::string source{};
  std::uint64_t entries = 0;  // as counted when the export started
  std::int64_t exported_at_ms = 0;
  std::vector<std::pair<std::string, std::size_t>> quotas{};
};

std::string base64_encode(std::string_view bytes);
// Strict (RFC 4648 with padding, no whitespace); nullopt on any error.
std::optional<std::string> base64_decode(std::string_view text);

// The embedding as little-endian float32 bytes, and back (nullopt: size not a multiple of 4).
std::string embedding_bytes(const std::vector<float>& embedding);
std::optional<std::vector<float>> embedding_from_bytes(std::string_view bytes);

// One line each, without the trailing newline.
std::string encode_header(const ExportHeader& header);
void encode_entry(const StoredEntry& entry, std::string& out);  // appends to out

// Decodes lines; reuses one simdjson parser. Not thread-safe.
class LineDecoder {
 public:
  LineDecoder();
  ~LineDecoder();
  LineDecoder(const LineDecoder&) = delete;
  LineDecoder& operator=(const LineDecoder&) = delete;
  LineDecoder(LineDecoder&&) = delete;
  LineDecoder& operator=(LineDecoder&&) = delete;

  // `line` must have at least 64 bytes of readable capacity past its size (simdjson padding):
  // pass a std::string whose capacity() >= size() + 64 (see padded()).
  ExportHeader decode_header(const std::string& line);
  // Throws InvalidArgument; the embedding must have `dim` values.
  StoredEntry decode_entry(const std::string& line, std::size_t dim);

  // Makes sure `line` has the padding decoding needs.
  static void padded(std::string& line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::tool
