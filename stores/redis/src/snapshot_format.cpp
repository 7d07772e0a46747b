#include "snapshot_format.hpp"

#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

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

class Writer {
 public:
  void raw(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) hash_ = (hash_ ^ p[i]) * 1099511628211ull;
    out_.append(static_cast<const char*>(data), n);
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
  std::string& out() { return out_; }

 private:
  std::string out_;
  std::uint64_t hash_ = 14695981039346656037ull;
};

class Reader {
 public:
  Reader(std::string_view data, std::string what) : data_(data), what_(std::move(what)) {}
  [[noreturn]] void corrupt(const std::string& why) const {
    throw StoreCorrupt("RedisStore: " + what_ + " is not a valid engram Redis snapshot (" + why +
                       "). Remediation: use a file written by RedisStore::snapshot_to, or take a "
                       "new snapshot.");
  }
  std::string_view take(std::size_t n) {
    if (n > data_.size() - pos_) corrupt("truncated");
    auto s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  template <class T>
  T num() {
    T v;
    auto s = take(sizeof(T));
    std::memcpy(&v, s.data(), sizeof(T));
    return byteswap_if_big(v);
  }
  std::string bytes() {
    auto n = num<std::uint64_t>();
    return std::string(take(static_cast<std::size_t>(std::min<std::uint64_t>(n, SIZE_MAX))));
  }
  std::size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
  std::string what_;
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
  Writer w;
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
  w.out().append(reinterpret_cast<const char*>(&sum), sizeof sum);

  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(w.out().data(), static_cast<std::streamsize>(w.out().size()));
    f.flush();
    if (!f) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw CheckpointError("RedisStore: cannot write the snapshot " + tmp.string() +
                            ". Remediation: check that the directory exists, is writable and "
                            "has space.");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw CheckpointError("RedisStore: cannot move the snapshot into place at " + path.string() + ": " + ec.message() +
                          ". Remediation: check the destination path.");
  }
}

RedisSnapshot read_redis_snapshot(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    throw CheckpointError("RedisStore: cannot open the snapshot " + path.string() +
                          ". Remediation: check the path and its permissions.");
  }
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) {
    throw CheckpointError("RedisStore: cannot read the snapshot " + path.string() +
                          ". Remediation: check the file and the disk.");
  }
  Reader whole(data, path.string());
  if (data.size() < sizeof kMagic + 4 + 8 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) {
    whole.corrupt("bad magic");
  }
  {
    Writer check;
    check.raw(data.data(), data.size() - 8);
    std::uint64_t stored;
    std::memcpy(&stored, data.data() + data.size() - 8, 8);
    if (byteswap_if_big(stored) != check.hash()) whole.corrupt("checksum mismatch");
  }
  Reader r(std::string_view(data).substr(0, data.size() - 8), path.string());
  r.take(sizeof kMagic);
  if (auto format = r.num<std::uint32_t>(); format != kFormat) {
    r.corrupt("unknown format " + std::to_string(format));
  }
  RedisSnapshot s;
  s.version_counter = r.num<std::uint64_t>();
  s.next_id = r.num<std::uint64_t>();
  for (auto n = r.num<std::uint32_t>(); n > 0; --n) {
    auto k = r.bytes();
    s.meta.emplace_back(std::move(k), r.bytes());
  }
  for (auto n = r.num<std::uint32_t>(); n > 0; --n) {
    auto ns = r.bytes();
    s.quotas.emplace_back(std::move(ns), r.num<std::uint64_t>());
  }
  auto rows = r.num<std::uint64_t>();
  // Each row takes at least 90 bytes, so a count beyond that is damage, not a huge file.
  if (rows > r.remaining() / 90 + 1) r.corrupt("row count exceeds the file size");
  s.rows.reserve(static_cast<std::size_t>(rows));
  EntryId previous = 0;
  for (std::uint64_t i = 0; i < rows; ++i) {
    StoredEntry e;
    e.id = r.num<std::int64_t>();
    if (e.id <= previous) r.corrupt("row ids are not positive and ascending");
    previous = e.id;
    e.ns = r.bytes();
    auto h = r.take(16);
    std::memcpy(e.query_hash.bytes.data(), h.data(), 16);
    e.query = r.bytes();
    e.response = r.bytes();
    if (!bytes_to_embedding(r.bytes(), e.embedding)) r.corrupt("embedding size not a multiple of 4");
    e.metadata = r.bytes();
    e.created_at = Timestamp(Millis(r.num<std::int64_t>()));
    e.last_accessed_at = Timestamp(Millis(r.num<std::int64_t>()));
    auto has_ttl = r.num<std::uint8_t>();
    auto ttl = r.num<std::int64_t>();
    if (has_ttl > 1) r.corrupt("bad ttl flag");
    if (has_ttl == 1) e.ttl = Millis(ttl);
    e.access_count = r.num<std::int64_t>();
    s.rows.push_back(std::move(e));
  }
  if (r.remaining() != 0) r.corrupt("trailing bytes");
  if (!s.rows.empty() && static_cast<std::uint64_t>(s.rows.back().id) > s.next_id) {
    r.corrupt("a row id exceeds the recorded next id");
  }
  return s;
}

}  // namespace engram::detail
