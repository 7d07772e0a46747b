#include "snapshot_format.hpp"

#include <bit>
#include <cstring>

#include "engram/errors.hpp"

namespace engram::detail {
namespace {

constexpr char kMagic[8] = {'E', 'N', 'G', 'R', 'M', 'R', 'S', '1'};
constexpr std::uint32_t kFormat = 1;

template <class T>
T byteswap_if_big(T v) {
  if constexpr (std::endian::native == std::endian::big) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    std::memcpy(&v, b, sizeof(T));
  }
  return v;
}

constexpr std::uint64_t kFnvBasis = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t fnv(std::uint64_t hash, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * kFnvPrime;
  return hash;
}

// Streams the encoding into a DurableFileWriter, hashing as it goes.
class Writer {
 public:
  explicit Writer(DurableFileWriter& file) : file_(file) {}
  void raw(const void* data, std::size_t n) {
    hash_ = fnv(hash_, data, n);
    file_.write(data, n);
  }
  template <class T>
  void num(T v) {
    v = byteswap_if_big(v);
    raw(&v, sizeof(T));
  }
  void bytes(std::string_view s) {
    num<std::uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  std::uint64_t hash() const { return hash_; }

 private:
  DurableFileWriter& file_;
  std::uint64_t hash_ = kFnvBasis;
};

}  // namespace

std::string embedding_to_bytes(const std::vector<float>& embedding) {
  std::string out(embedding.size() * sizeof(float), '\0');
  if constexpr (std::endian::native == std::endian::little) {
    if (!embedding.empty()) std::memcpy(out.data(), embedding.data(), out.size());
  } else {
    for (std::size_t i = 0; i < embedding.size(); ++i) {
      auto bits = byteswap_if_big(std::bit_cast<std::uint32_t>(embedding[i]));
      std::memcpy(out.data() + 4 * i, &bits, 4);
    }
  }
  return out;
}

bool bytes_to_embedding(std::string_view bytes, std::vector<float>& out) {
  if (bytes.size() % sizeof(float) != 0) return false;
  out.resize(bytes.size() / sizeof(float));
  if constexpr (std::endian::native == std::endian::little) {
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, bytes.data() + 4 * i, 4);
      out[i] = std::bit_cast<float>(byteswap_if_big(bits));
    }
  }
  return true;
}

void write_redis_snapshot(const std::filesystem::path& path, const RedisSnapshot& s) {
  DurableFileWriter file(path, "RedisStore");
  Writer w(file);
  w.raw(kMagic, sizeof kMagic);
  w.num<std::uint32_t>(kFormat);
  w.num<std::uint64_t>(s.version_counter);
  w.num<std::uint64_t>(s.next_id);
  w.num<std::uint32_t>(static_cast<std::uint32_t>(s.meta.size()));
  for (const auto& [k, v] : s.meta) {
    w.bytes(k);
    w.bytes(v);
  }
  w.num<std::uint32_t>(static_cast<std::uint32_t>(s.quotas.size()));
  for (const auto& [ns, max] : s.quotas) {
    w.bytes(ns);
    w.num<std::uint64_t>(max);
  }
  w.num<std::uint64_t>(s.rows.size());
  for (const auto& e : s.rows) {
    w.num<std::int64_t>(e.id);
    w.bytes(e.ns);
    w.raw(e.query_hash.bytes.data(), e.query_hash.bytes.size());
    w.bytes(e.query);
    w.bytes(e.response);
    w.bytes(embedding_to_bytes(e.embedding));
    w.bytes(e.metadata);
    w.num<std::int64_t>(e.created_at.time_since_epoch().count());
    w.num<std::int64_t>(e.last_accessed_at.time_since_epoch().count());
    w.num<std::uint8_t>(e.ttl ? 1 : 0);
    w.num<std::int64_t>(e.ttl ? e.ttl->count() : 0);
    w.num<std::int64_t>(e.access_count);
  }
  std::uint64_t sum = byteswap_if_big(w.hash());
  file.write(&sum, sizeof sum);
  file.commit();
}

// ---- RedisSnapshotReader -------------------------------------------------------------------

RedisSnapshotReader::RedisSnapshotReader(const std::filesystem::path& path)
    : what_(path.string()), file_(path, "RedisStore"), hash_(kFnvBasis) {
  // The magic is checked before anything else is read: a file that is not a snapshot (1 GiB
  // of zeros, say) is refused at once, whatever its size.
  char magic[sizeof kMagic];
  if (!file_.read(magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof kMagic) != 0) corrupt("bad magic");
  hash_ = fnv(hash_, magic, sizeof magic);
  if (auto format = num<std::uint32_t>(); format != kFormat) corrupt("unknown format " + std::to_string(format));
  version_counter_ = num<std::uint64_t>();
  next_id_ = num<std::uint64_t>();
  // Every record takes at least 16 bytes (two lengths, or a length and a number): a count
  // beyond that is damage, refused before anything is allocated for it.
  auto n = num<std::uint32_t>();
  if (n > file_.remaining() / 16) corrupt("meta count exceeds the file size");
  for (; n > 0; --n) {
    auto k = bytes();
    meta_.emplace_back(std::move(k), bytes());
  }
  n = num<std::uint32_t>();
  if (n > file_.remaining() / 16) corrupt("quota count exceeds the file size");
  for (; n > 0; --n) {
    auto ns = bytes();
    quotas_.emplace_back(std::move(ns), num<std::uint64_t>());
  }
  rows_ = num<std::uint64_t>();
  // Each row takes at least 90 bytes, so a count beyond that is damage, not a huge file.
  if (rows_ > file_.remaining() / 90 + 1) corrupt("row count exceeds the file size");
}

void RedisSnapshotReader::corrupt(const std::string& why) const {
  throw StoreCorrupt("RedisStore: " + what_ + " is not a valid engram Redis snapshot (" + why +
                     "). Remediation: use a file written by RedisStore::snapshot_to, or take a "
                     "new snapshot.");
}

void RedisSnapshotReader::take(void* out, std::size_t n) {
  if (n > file_.remaining() || !file_.read(out, n)) corrupt("truncated");
  hash_ = fnv(hash_, out, n);
}

template <class T>
T RedisSnapshotReader::num() {
  T v;
  take(&v, sizeof(T));
  return byteswap_if_big(v);
}

std::string RedisSnapshotReader::bytes() {
  auto n = num<std::uint64_t>();
  // Checked against the bytes left before allocating: a garbage length is not a huge buffer.
  if (n > file_.remaining()) corrupt("truncated");
  std::string s(static_cast<std::size_t>(n), '\0');
  take(s.data(), s.size());
  return s;
}

bool RedisSnapshotReader::next_row(StoredEntry& e) {
  if (rows_read_ == rows_) return false;
  ++rows_read_;
  e = StoredEntry{};
  e.id = num<std::int64_t>();
  if (e.id <= previous_id_) corrupt("row ids are not positive and ascending");
  if (static_cast<std::uint64_t>(e.id) > next_id_) corrupt("a row id exceeds the recorded next id");
  previous_id_ = e.id;
  e.ns = bytes();
  take(e.query_hash.bytes.data(), e.query_hash.bytes.size());
  e.query = bytes();
  e.response = bytes();
  if (!bytes_to_embedding(bytes(), e.embedding)) corrupt("embedding size not a multiple of 4");
  e.metadata = bytes();
  e.created_at = Timestamp(Millis(num<std::int64_t>()));
  e.last_accessed_at = Timestamp(Millis(num<std::int64_t>()));
  auto has_ttl = num<std::uint8_t>();
  auto ttl = num<std::int64_t>();
  if (has_ttl > 1) corrupt("bad ttl flag");
  if (has_ttl == 1) e.ttl = Millis(ttl);
  e.access_count = num<std::int64_t>();
  return true;
}

void RedisSnapshotReader::finish() {
  if (rows_read_ != rows_) corrupt("rows left unread");
  const std::uint64_t expected = hash_;
  std::uint64_t stored = 0;
  if (file_.remaining() < sizeof stored || !file_.read(&stored, sizeof stored)) corrupt("truncated");
  if (byteswap_if_big(stored) != expected) corrupt("checksum mismatch");
  if (file_.remaining() != 0) corrupt("trailing bytes");
}

}  // namespace engram::detail
