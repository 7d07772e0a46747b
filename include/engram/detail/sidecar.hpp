#pragma once
// Internal: the index sidecar — SemanticCache's in-memory layers (per namespace: encoded rows,
// ids, the exact map, HNSW graphs) in a file beside the store, so that opening a cache maps
// that file instead of rebuilding every index from the store. docs/architecture.md ("The
// sidecar") describes the format and the rules; this is the file side only. Whether a
// sidecar may be used for a given store (its identity, the store version and the change
// feed's lineage) is decided by SemanticCache, which knows the store.
//
// Layout (little-endian; every offset from the start of the file):
//   [0, 128)    the header: magic "ENGRAMSC", format version, file size, store version, the
//               last applied change, dim, element type, index kind and HNSW parameters, the
//               directory's offset/size/checksum, and an XXH3-64 of the header itself.
//   directory   fingerprint, store UUID, the namespaces (name, layout, entry count, exact-map
//               slots) and the section table (kind, namespace, offset, size, checksum).
//   sections    rows (4096-aligned, so the flat index reads them in place), ids, id-map probe
//               table, HNSW graph and its level 0 (4096-aligned, mapped copy-on-write),
//               exact-map slots, probe table and free list, quarantined ids; each 64-aligned
//               with zero padding, each with its own XXH3 checksum.
//
// A section checksum is the XXH3-64 of the XXH3-64s of its 4 MiB blocks, so open can verify
// a large file on two threads.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engram/detail/cache_state.hpp"
#include "engram/detail/exact_map.hpp"
#include "engram/index/vector_index.hpp"
#include "engram/options.hpp"
#include "engram/types.hpp"

namespace engram::detail {

// 2: an HNSW namespace's section also carries the rows not yet linked into its graph.
// 3: an HNSW graph's level 0 is a section of its own, page-aligned, mapped in place.
inline constexpr std::uint32_t kSidecarFormatVersion = 3;
// Row sections of at least this many bytes in total are verified after the open, in the
// background (MappedSidecar::verify(kRowsOnly)); smaller ones with everything else before the
// layers are restored. SemanticCache documents why a late verification can never let a
// damaged row answer (docs/architecture.md, "The sidecar"). A variable so that tests can take
// the background path with small files.
inline std::atomic<std::uint64_t> sidecar_background_verify_bytes{std::uint64_t{16} << 20};
// The store meta key under which the cache records the store's identity.
inline constexpr const char* kStoreUuidKey = "engram.store_uuid";

// A random RFC 4122 version 4 UUID (from /dev/urandom, else std::random_device).
std::string random_uuid();

struct SidecarHeader {
  std::string store_uuid;
  std::string fingerprint;
  std::uint64_t dim = 0;
  ElementType element = ElementType::kF32;
  IndexKind index_kind = IndexKind::kAuto;
  std::uint64_t hnsw_m = 0, hnsw_ef_construction = 0, auto_threshold = 0;
  std::uint64_t store_version = 0;     // the store version the layers reflect
  std::optional<Change> last_applied;  // the change record at store_version, when known
};

struct SidecarNamespace {
  std::string name;
  IndexImage index;
  std::vector<SlotRecord> slots;
  std::vector<std::uint32_t> table, free_list;
};

// Everything a sidecar holds, copied from the in-memory state (under its shared lock).
struct SidecarImage {
  SidecarHeader header;
  std::vector<SidecarNamespace> namespaces;
  std::vector<EntryId> quarantined;
};

// Copies the layers of every non-empty namespace. Needs at least the shared lock.
std::vector<SidecarNamespace> capture_namespaces(const CacheState& state);

// Writes `image` to `path` durably: a new private temporary file beside it (0600,
// O_EXCL|O_NOFOLLOW), fsync, rename over `path`, fsync of the directory. Concurrent writers
// (threads or processes) never see each other's temporary files; the last rename wins.
// Throws CheckpointError. Returns the bytes written.
std::uint64_t write_sidecar(const std::filesystem::path& path, const SidecarImage& image);

// The header of the sidecar at `path` (header checksum verified, sections not), or nullopt
// when it is missing or not a valid sidecar. Cheap: reads the header and directory only.
std::optional<SidecarHeader> peek_sidecar(const std::filesystem::path& path);

// A sidecar mapped read-only. Pages are shared with every process mapping the same file.
class MappedSidecar {
 public:
  // nullptr when there is no file at `path`. Throws CheckpointError naming what is wrong when
  // the file is there but not a usable sidecar: unreadable, truncated, another format version,
  // a bad header or directory checksum, sections out of bounds. Section checksums are checked
  // by verify(), after the caller has compared the header with the store.
  static std::shared_ptr<const MappedSidecar> open(const std::filesystem::path& path);
  ~MappedSidecar();
  MappedSidecar(const MappedSidecar&) = delete;
  MappedSidecar& operator=(const MappedSidecar&) = delete;

  const SidecarHeader& header() const noexcept { return header_; }
  std::uint64_t size() const noexcept { return size_; }
  // Which sections verify() checks: all, all but the sections read in place (flat rows, HNSW
  // level 0), or only those.
  enum class Sections { kAll, kAllButRows, kRowsOnly };
  // Checks the checksums of `which` sections (on two threads for large files when
  // `threads` > 1). Empty when all match, otherwise which section failed.
  std::string verify(Sections which = Sections::kAll, unsigned threads = 2) const;
  // The bytes of every section read in place (flat rows, HNSW level 0).
  std::uint64_t rows_bytes() const noexcept;
  // Restores every namespace into `state` (cleared first) and returns the quarantined ids, or
  // nullopt when the sections do not fit together (then `state` is cleared again). Flat rows
  // stay in the mapping, which `self` (this object's owner) keeps alive. Needs the exclusive
  // lock.
  std::optional<std::vector<EntryId>> restore_into(CacheState& state,
                                                   const std::shared_ptr<const MappedSidecar>& self) const;

  // The section table (for tests and tools).
  struct Section;
  const std::vector<Section>& sections() const noexcept { return sections_; }

  struct Section {
    std::uint32_t kind = 0;
    std::uint32_t ns = 0;
    std::uint64_t offset = 0, size = 0, checksum = 0;
  };
  struct Namespace {
    std::string name;
    bool hnsw = false;
    std::uint64_t count = 0, exact_used = 0;
  };

 private:
  MappedSidecar() = default;
  const std::byte* at(std::uint64_t offset) const { return static_cast<const std::byte*>(base_) + offset; }
  const Section* find(std::uint32_t kind, std::uint32_t ns) const;

  int fd_ = -1;
  void* base_ = nullptr;
  std::uint64_t size_ = 0;
  SidecarHeader header_;
  std::vector<Namespace> namespaces_;
  std::vector<Section> sections_;
};

}  // namespace engram::detail
