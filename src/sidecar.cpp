#include "engram/detail/sidecar.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <random>
#include <span>
#include <system_error>
#include <thread>
#include <utility>

#include "engram/detail/durable_file.hpp"
#include "engram/errors.hpp"

namespace engram::detail {

static_assert(std::endian::native == std::endian::little, "the sidecar format is little-endian");

namespace {

constexpr char kMagic[8] = {'E', 'N', 'G', 'R', 'A', 'M', 'S', 'C'};
constexpr std::size_t kHeaderBytes = 128;
constexpr std::size_t kHeaderChecksumAt = 120;
constexpr std::uint32_t kEndianTag = 0x01020304;
constexpr std::size_t kRowsAlign = 4096;  // a page: flat rows are read in place
constexpr std::size_t kSectionAlign = 64;
constexpr std::size_t kBlock = std::size_t{4} << 20;           // checksum block
constexpr std::size_t kParallelBytes = std::size_t{16} << 20;  // verify on two threads above this
constexpr std::uint32_t kNoNamespace = 0xffffffffu;

enum SectionKind : std::uint32_t {
  kRows = 1,
  kIds = 2,
  kIdSlots = 3,
  kGraph = 4,
  kExactSlots = 5,
  kExactTable = 6,
  kExactFree = 7,
  kQuarantined = 8,
  kGraphLevel0 = 9,
};

// Sections the index reads in place (flat rows, HNSW level 0): page-aligned, and when large
// checked after the open, in the background (MappedSidecar::verify(kRowsOnly)).
bool in_place(std::uint32_t kind) { return kind == kRows || kind == kGraphLevel0; }

const char* section_name(std::uint32_t kind) {
  switch (kind) {
    case kRows:
      return "rows";
    case kIds:
      return "ids";
    case kIdSlots:
      return "id map";
    case kGraph:
      return "HNSW graph";
    case kExactSlots:
      return "exact-map slots";
    case kExactTable:
      return "exact-map table";
    case kExactFree:
      return "exact-map free list";
    case kQuarantined:
      return "quarantined ids";
    case kGraphLevel0:
      return "HNSW level 0";
    default:
      return "unknown";
  }
}

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

std::uint64_t block_digest(const std::byte* p, std::uint64_t size, std::uint64_t block) {
  const std::uint64_t begin = block * kBlock;
  return XXH3_64bits(p + begin, std::min<std::uint64_t>(kBlock, size - begin));
}
std::uint64_t blocks_of(std::uint64_t size) { return std::max<std::uint64_t>(1, (size + kBlock - 1) / kBlock); }

// XXH3-64 over the XXH3-64s of the section's 4 MiB blocks.
std::uint64_t section_checksum(const std::byte* p, std::uint64_t size) {
  std::vector<std::uint64_t> digests(blocks_of(size));
  for (std::uint64_t b = 0; b < digests.size(); ++b)
    digests[b] = size == 0 ? XXH3_64bits(p, 0) : block_digest(p, size, b);
  return XXH3_64bits(digests.data(), digests.size() * sizeof(std::uint64_t));
}

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void put_str(std::string& out, const std::string& s) {
  put(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}
template <class T>
void put_at(std::string& out, std::size_t at, const T& v) {
  std::memcpy(out.data() + at, &v, sizeof(T));
}

struct Reader {
  const std::byte* p;
  std::size_t size;
  std::size_t at = 0;
  bool ok = true;
  template <class T>
  T pod() {
    T v{};
    if (!ok || size - at < sizeof(T)) {
      ok = false;
      return v;
    }
    std::memcpy(&v, p + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  std::string str() {
    const auto n = pod<std::uint32_t>();
    if (!ok || size - at < n) {
      ok = false;
      return {};
    }
    std::string s(reinterpret_cast<const char*>(p + at), n);
    at += n;
    return s;
  }
};

template <class T>
T read_at(const std::byte* p, std::size_t at) {
  T v{};
  std::memcpy(&v, p + at, sizeof(T));
  return v;
}

[[noreturn]] void invalid(const std::filesystem::path& path, const std::string& what) {
  throw CheckpointError("index sidecar '" + path.string() + "': " + what +
                        ". Remediation: none needed: the cache rebuilds its index from the store (and writes a new "
                        "sidecar on close).");
}

// The fixed header fields (everything but the directory).
struct RawHeader {
  std::uint32_t version = 0;
  std::uint64_t file_size = 0;
  std::uint64_t directory_offset = 0, directory_size = 0, directory_checksum = 0;
  SidecarHeader h;
};

// Parses and checks the 128-byte header. Returns an error text, empty on success.
std::string parse_header(const std::byte* p, std::uint64_t available, RawHeader& out) {
  if (available < kHeaderBytes) return "the file is shorter than its header (truncated)";
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0) return "not an engram index sidecar (bad magic)";
  out.version = read_at<std::uint32_t>(p, 8);
  if (read_at<std::uint32_t>(p, 12) != kEndianTag) return "written on a machine of another byte order";
  if (read_at<std::uint64_t>(p, kHeaderChecksumAt) != XXH3_64bits(p, kHeaderChecksumAt))
    return "the header checksum does not match (damaged)";
  if (out.version != kSidecarFormatVersion)
    return "format version " + std::to_string(out.version) + ", this build reads version " +
           std::to_string(kSidecarFormatVersion);
  SidecarHeader& h = out.h;
  out.file_size = read_at<std::uint64_t>(p, 16);
  h.store_version = read_at<std::uint64_t>(p, 24);
  const auto last_version = read_at<std::uint64_t>(p, 32);
  const auto last_id = read_at<std::int64_t>(p, 40);
  const auto last_kind = read_at<std::uint32_t>(p, 48);
  if (read_at<std::uint32_t>(p, 52) != 0)
    h.last_applied = Change{last_version, last_id, last_kind == 0 ? ChangeKind::kUpsert : ChangeKind::kDelete};
  h.dim = read_at<std::uint32_t>(p, 56);
  const auto element = read_at<std::uint32_t>(p, 60);
  const auto kind = read_at<std::uint32_t>(p, 64);
  if (element > 2 || kind > 2) return "an unknown element type or index kind";
  h.element = static_cast<ElementType>(element);
  h.index_kind = static_cast<IndexKind>(kind);
  h.hnsw_m = read_at<std::uint64_t>(p, 72);
  h.hnsw_ef_construction = read_at<std::uint64_t>(p, 80);
  h.auto_threshold = read_at<std::uint64_t>(p, 88);
  out.directory_offset = read_at<std::uint64_t>(p, 96);
  out.directory_size = read_at<std::uint64_t>(p, 104);
  out.directory_checksum = read_at<std::uint64_t>(p, 112);
  if (out.directory_offset != kHeaderBytes) return "a bad directory offset";
  return {};
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

std::string random_uuid() {
  std::array<std::uint8_t, 16> b{};
  bool filled = false;
  if (const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC); fd >= 0) {
    filled = ::read(fd, b.data(), b.size()) == static_cast<ssize_t>(b.size());
    ::close(fd);
  }
  if (!filled) {
    std::random_device rd;
    for (auto& x : b) x = static_cast<std::uint8_t>(rd());
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

std::vector<SidecarNamespace> capture_namespaces(const CacheState& state) {
  std::vector<SidecarNamespace> out;
  for (const NamespaceState* ns : state.namespaces()) {
    if (ns->exact.size() == 0) continue;
    SidecarNamespace s;
    s.name = ns->name;
    s.index = ns->index.image();
    s.slots = ns->exact.slot_records();
    s.table = ns->exact.table();
    s.free_list = ns->exact.free_slots();
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::uint64_t write_sidecar(const std::filesystem::path& path, const SidecarImage& image) {
  struct Pending {
    std::uint32_t kind, ns;
    const std::byte* data;
    std::uint64_t size;
    std::uint64_t offset = 0, checksum = 0;
  };
  std::vector<Pending> sections;
  auto add = [&](std::uint32_t kind, std::uint32_t ns, const void* data, std::uint64_t size) {
    sections.push_back({kind, ns, static_cast<const std::byte*>(data), size});
  };
  for (std::uint32_t i = 0; i < image.namespaces.size(); ++i) {
    const SidecarNamespace& s = image.namespaces[i];
    if (s.index.hnsw) {
      add(kGraph, i, s.index.graph.data(), s.index.graph.size());
      add(kGraphLevel0, i, s.index.level0.data(), s.index.level0.size());
    } else {
      add(kRows, i, s.index.rows.data(), s.index.rows.size());
      add(kIds, i, s.index.ids.data(), s.index.ids.size() * sizeof(EntryId));
      add(kIdSlots, i, s.index.id_slots.data(), s.index.id_slots.size() * sizeof(std::uint32_t));
    }
    add(kExactSlots, i, s.slots.data(), s.slots.size() * sizeof(SlotRecord));
    add(kExactTable, i, s.table.data(), s.table.size() * sizeof(std::uint32_t));
    add(kExactFree, i, s.free_list.data(), s.free_list.size() * sizeof(std::uint32_t));
  }
  add(kQuarantined, kNoNamespace, image.quarantined.data(), image.quarantined.size() * sizeof(EntryId));

  // The directory has a fixed size for given names and counts, so offsets can follow it.
  std::string dir;
  put_str(dir, image.header.fingerprint);
  put_str(dir, image.header.store_uuid);
  put(dir, static_cast<std::uint32_t>(image.namespaces.size()));
  for (const SidecarNamespace& s : image.namespaces) {
    put_str(dir, s.name);
    put(dir, static_cast<std::uint32_t>(s.index.hnsw ? 1 : 0));
    put(dir, static_cast<std::uint64_t>(s.index.count));
    put(dir, static_cast<std::uint64_t>(s.slots.size()));
  }
  put(dir, static_cast<std::uint32_t>(sections.size()));
  const std::size_t table_at = dir.size();
  dir.resize(dir.size() + sections.size() * 32);
  std::uint64_t offset = kHeaderBytes + dir.size();
  for (std::size_t i = 0; i < sections.size(); ++i) {
    Pending& s = sections[i];
    s.offset = align_up(offset, in_place(s.kind) ? kRowsAlign : kSectionAlign);
    s.checksum = section_checksum(s.data, s.size);
    offset = s.offset + s.size;
    const std::size_t at = table_at + i * 32;
    put_at(dir, at, s.kind);
    put_at(dir, at + 4, s.ns);
    put_at(dir, at + 8, s.offset);
    put_at(dir, at + 16, s.size);
    put_at(dir, at + 24, s.checksum);
  }
  const std::uint64_t file_size = offset;

  const SidecarHeader& h = image.header;
  std::string header(kHeaderBytes, '\0');
  std::memcpy(header.data(), kMagic, sizeof kMagic);
  put_at(header, 8, kSidecarFormatVersion);
  put_at(header, 12, kEndianTag);
  put_at(header, 16, file_size);
  put_at(header, 24, h.store_version);
  put_at(header, 32, h.last_applied ? h.last_applied->version : std::uint64_t{0});
  put_at(header, 40, h.last_applied ? h.last_applied->id : EntryId{0});
  put_at(header, 48, static_cast<std::uint32_t>(h.last_applied && h.last_applied->kind == ChangeKind::kDelete));
  put_at(header, 52, static_cast<std::uint32_t>(h.last_applied.has_value()));
  put_at(header, 56, static_cast<std::uint32_t>(h.dim));
  put_at(header, 60, static_cast<std::uint32_t>(h.element));
  put_at(header, 64, static_cast<std::uint32_t>(h.index_kind));
  put_at(header, 68, static_cast<std::uint32_t>(sections.size()));
  put_at(header, 72, h.hnsw_m);
  put_at(header, 80, h.hnsw_ef_construction);
  put_at(header, 88, h.auto_threshold);
  put_at(header, 96, static_cast<std::uint64_t>(kHeaderBytes));
  put_at(header, 104, static_cast<std::uint64_t>(dir.size()));
  put_at(header, 112, static_cast<std::uint64_t>(XXH3_64bits(dir.data(), dir.size())));
  put_at(header, kHeaderChecksumAt, static_cast<std::uint64_t>(XXH3_64bits(header.data(), kHeaderChecksumAt)));

  DurableFileWriter w(path, "index sidecar");
  w.write(header);
  w.write(dir);
  std::uint64_t written = kHeaderBytes + dir.size();
  static const std::vector<char> kZeros(kRowsAlign, '\0');
  for (const Pending& s : sections) {
    w.write(kZeros.data(), s.offset - written);
    w.write(s.data, s.size);
    written = s.offset + s.size;
  }
  w.commit();
  return file_size;
}

std::optional<SidecarHeader> peek_sidecar(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::vector<std::byte> head(kHeaderBytes);
  RawHeader raw;
  bool ok = ::pread(fd, head.data(), kHeaderBytes, 0) == static_cast<ssize_t>(kHeaderBytes) &&
            parse_header(head.data(), kHeaderBytes, raw).empty() && raw.directory_size < (std::uint64_t{1} << 30);
  std::vector<std::byte> dir;
  if (ok) {
    dir.resize(raw.directory_size);
    ok = ::pread(fd, dir.data(), dir.size(), static_cast<off_t>(kHeaderBytes)) == static_cast<ssize_t>(dir.size()) &&
         XXH3_64bits(dir.data(), dir.size()) == raw.directory_checksum;
  }
  ::close(fd);
  if (!ok) return std::nullopt;
  Reader r{dir.data(), dir.size()};
  raw.h.fingerprint = r.str();
  raw.h.store_uuid = r.str();
  if (!r.ok) return std::nullopt;
  return raw.h;
}

// ---- MappedSidecar ---------------------------------------------------------------------

MappedSidecar::~MappedSidecar() {
  if (base_ != nullptr) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);
}

std::shared_ptr<const MappedSidecar> MappedSidecar::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return nullptr;
    invalid(path, "cannot be opened: " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    invalid(path, "is not a regular file");
  }
  std::shared_ptr<MappedSidecar> out(new MappedSidecar());  // NOLINT(modernize-make-shared): private constructor
  out->fd_ = fd;  // kept open: HNSW level 0 is mapped from it again, copy-on-write
  out->size_ = static_cast<std::uint64_t>(st.st_size);
  if (out->size_ < kHeaderBytes)
    invalid(path, "is shorter than its header (" + std::to_string(out->size_) + " bytes; truncated)");
  // No MAP_POPULATE: measured slower than the faults the checksum pass takes (fault-around
  // maps 64 KiB per fault).
  void* base = ::mmap(nullptr, out->size_, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    invalid(path, "cannot be mapped: " + errno_text(err));
  }
  out->base_ = base;
  const std::byte* p = out->at(0);

  RawHeader raw;
  if (std::string why = parse_header(p, out->size_, raw); !why.empty()) invalid(path, why);
  if (raw.file_size != out->size_)
    invalid(path, "is " + std::to_string(out->size_) + " bytes, its header says " + std::to_string(raw.file_size) +
                      " (truncated or extended)");
  if (raw.directory_size > out->size_ - kHeaderBytes) invalid(path, "its directory runs past the end of the file");
  if (XXH3_64bits(p + kHeaderBytes, raw.directory_size) != raw.directory_checksum)
    invalid(path, "the directory checksum does not match (damaged)");
  out->header_ = std::move(raw.h);
  Reader r{p + kHeaderBytes, raw.directory_size};
  out->header_.fingerprint = r.str();
  out->header_.store_uuid = r.str();
  const auto n_ns = r.pod<std::uint32_t>();
  for (std::uint32_t i = 0; r.ok && i < n_ns; ++i) {
    Namespace ns;
    ns.name = r.str();
    ns.hnsw = r.pod<std::uint32_t>() != 0;
    ns.count = r.pod<std::uint64_t>();
    ns.exact_used = r.pod<std::uint64_t>();
    out->namespaces_.push_back(std::move(ns));
  }
  const auto n_sections = r.pod<std::uint32_t>();
  for (std::uint32_t i = 0; r.ok && i < n_sections; ++i) {
    Section s;
    s.kind = r.pod<std::uint32_t>();
    s.ns = r.pod<std::uint32_t>();
    s.offset = r.pod<std::uint64_t>();
    s.size = r.pod<std::uint64_t>();
    s.checksum = r.pod<std::uint64_t>();
    if (!r.ok) break;
    if (s.offset < kHeaderBytes + raw.directory_size || s.offset > out->size_ || s.size > out->size_ - s.offset)
      invalid(path, std::string("its ") + section_name(s.kind) + " section runs past the end of the file");
    if (s.offset % (in_place(s.kind) ? kRowsAlign : kSectionAlign) != 0 ||
        (s.ns != kNoNamespace && s.ns >= out->namespaces_.size()))
      invalid(path, std::string("its ") + section_name(s.kind) + " section is misplaced");
    out->sections_.push_back(s);
  }
  if (!r.ok || r.at != raw.directory_size) invalid(path, "its directory is malformed");
  return out;
}

const MappedSidecar::Section* MappedSidecar::find(std::uint32_t kind, std::uint32_t ns) const {
  for (const Section& s : sections_)
    if (s.kind == kind && s.ns == ns) return &s;
  return nullptr;
}

std::uint64_t MappedSidecar::rows_bytes() const noexcept {
  std::uint64_t total = 0;
  for (const Section& s : sections_)
    if (in_place(s.kind)) total += s.size;
  return total;
}

std::string MappedSidecar::verify(Sections which, unsigned threads) const {
  struct Task {
    std::size_t section;
    std::uint64_t block;
  };
  auto wanted = [which](const Section& s) {
    return which == Sections::kAll || (which == Sections::kRowsOnly) == in_place(s.kind);
  };
  std::vector<Task> tasks;
  std::vector<std::vector<std::uint64_t>> digests(sections_.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < sections_.size(); ++i) {
    if (!wanted(sections_[i])) continue;
    digests[i].resize(blocks_of(sections_[i].size));
    for (std::uint64_t b = 0; b < digests[i].size(); ++b) tasks.push_back({i, b});
    total += sections_[i].size;
  }
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t t = next.fetch_add(1); t < tasks.size(); t = next.fetch_add(1)) {
      const Section& s = sections_[tasks[t].section];
      digests[tasks[t].section][tasks[t].block] =
          s.size == 0 ? XXH3_64bits(at(s.offset), 0) : block_digest(at(s.offset), s.size, tasks[t].block);
    }
  };
  if (threads > 1 && total >= kParallelBytes && std::thread::hardware_concurrency() > 1) {
    std::thread helper(work);
    work();
    helper.join();
  } else {
    work();
  }
  for (std::size_t i = 0; i < sections_.size(); ++i) {
    if (!wanted(sections_[i])) continue;
    const auto& d = digests[i];
    if (XXH3_64bits(d.data(), d.size() * sizeof(std::uint64_t)) != sections_[i].checksum) {
      const Section& s = sections_[i];
      std::string where = s.ns == kNoNamespace ? std::string() : " of namespace '" + namespaces_[s.ns].name + "'";
      return std::string("the checksum of its ") + section_name(s.kind) + " section" + where +
             " does not match (damaged)";
    }
  }
  return {};
}

std::optional<std::vector<EntryId>> MappedSidecar::restore_into(
    CacheState& state, const std::shared_ptr<const MappedSidecar>& self) const {
  state.clear();
  std::uint64_t total = 0;
  for (const Namespace& ns : namespaces_) total += ns.count;
  state.reserve_ids(total);
  const std::shared_ptr<const void> backing = self;
  auto fail = [&state] {
    state.clear();
    return std::nullopt;
  };
  auto u32s = [this](const Section* s) {
    return std::span<const std::uint32_t>(reinterpret_cast<const std::uint32_t*>(at(s->offset)),
                                          s->size / sizeof(std::uint32_t));
  };
  for (std::uint32_t i = 0; i < namespaces_.size(); ++i) {
    const Namespace& ns = namespaces_[i];
    const Section* slots = find(kExactSlots, i);
    const Section* table = find(kExactTable, i);
    const Section* free_list = find(kExactFree, i);
    if (!slots || !table || !free_list || slots->size != ns.exact_used * sizeof(SlotRecord) || table->size % 4 != 0 ||
        free_list->size % 4 != 0)
      return fail();
    IndexImageView view;
    view.hnsw = ns.hnsw;
    view.count = ns.count;
    if (ns.hnsw) {
      const Section* graph = find(kGraph, i);
      const Section* level0 = find(kGraphLevel0, i);
      if (!graph || !level0) return fail();
      view.graph = std::span<const std::byte>(at(graph->offset), graph->size);
      view.level0 = std::span<const std::byte>(at(level0->offset), level0->size);
      view.level0_fd = fd_;
      view.level0_offset = level0->offset;
    } else {
      const Section* rows = find(kRows, i);
      const Section* ids = find(kIds, i);
      const Section* id_slots = find(kIdSlots, i);
      if (!rows || !ids || !id_slots || ids->size != ns.count * sizeof(EntryId) || id_slots->size % 4 != 0 ||
          rows->size != ns.count * header_.dim *
                            (header_.element == ElementType::kF32   ? 4
                             : header_.element == ElementType::kF16 ? 2
                                                                    : 1))
        return fail();
      view.rows = at(rows->offset);
      view.ids = reinterpret_cast<const EntryId*>(at(ids->offset));
      view.id_slots = u32s(id_slots);
    }
    if (!state.restore_namespace(ns.name, view, backing, at(slots->offset), ns.exact_used, u32s(table),
                                 u32s(free_list)))
      return fail();
  }
  std::vector<EntryId> quarantined;
  if (const Section* q = find(kQuarantined, kNoNamespace)) {
    if (q->size % sizeof(EntryId) != 0) return fail();
    quarantined.resize(q->size / sizeof(EntryId));
    if (q->size > 0) std::memcpy(quarantined.data(), at(q->offset), q->size);
  }
  return quarantined;
}

}  // namespace engram::detail
