#include "hnsw_layout.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <sys/mman.h>
#include <unistd.h>

#include "id_map.hpp"
#include "kernels.hpp"

// hnswlib 0.6.2's prefetch hints read the link-list slot after the last one, which for an
// upper-level list is up to 4 bytes past its malloc'd block. The value only feeds a prefetch
// address, so it is harmless, but AddressSanitizer aborts on it: under ASan the manual
// SSE paths (only prefetches and hnswlib's own distance kernels, which we do not use) are off.
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif

// hnswlib is a SYSTEM include; this guards against warnings it may still trigger under our
// flags in newer compilers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <hnswlib/hnswlib.h>
#pragma GCC diagnostic pop

namespace engram::detail {

namespace {

class DotSpace final : public hnswlib::SpaceInterface<float> {
 public:
  DotSpace(const Codec& codec) : dim_(codec.dim()), row_bytes_(codec.row_bytes()) {
    const KernelTable& k = kernels();
    switch (codec.element()) {
      case ElementType::kF32:
        fn_ = k.neg_dot_f32;
        break;
      case ElementType::kF16:
        fn_ = k.neg_dot_f16;
        break;
      case ElementType::kInt8:
        fn_ = k.neg_dot_i8;
        break;
    }
  }
  std::size_t get_data_size() override { return row_bytes_; }
  hnswlib::DISTFUNC<float> get_dist_func() override { return fn_; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  std::size_t dim_;
  std::size_t row_bytes_;
  DistanceFn fn_ = nullptr;
};

constexpr std::size_t kMinCapacity = 16;

// hnswlib keeps level 0 (links + rows + labels) in one malloc'd block that a search visits at
// random: advising it for transparent huge pages turns most of those accesses' TLB misses
// into hits. Advisory only; the block stays ordinary malloc memory.
void advise_huge_pages(void* p, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) / page * page;
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) / page * page;
  // The aligned start as p plus an offset, not as a pointer made from an integer.
  if (end > begin + (std::uintptr_t{2} << 20))
    ::madvise(static_cast<char*>(p) + (begin - reinterpret_cast<std::uintptr_t>(p)), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}
constexpr std::size_t kCompactMinDeleted = 64;

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }
std::size_t round_to_pages(std::size_t bytes) { return (bytes + page_size() - 1) / page_size() * page_size(); }

// Level 0 of a loaded graph, mapped copy-on-write from the sidecar: `file_bytes` of the file
// at the start of a reservation of `reserve_bytes`, the rest anonymous zero pages. A page this
// process never writes stays the page cache's (shared with every process mapping the file);
// a write (a deleted mark, a re-linked neighbour list) copies that one page; new elements up
// to the reservation land in the anonymous part. Written by hand because hnswlib only knows
// malloc'd memory: HnswLayout hands hnswlib this block and takes it back before hnswlib would
// realloc or free it.
class Level0Mapping {
 public:
  // nullptr when the range cannot be mapped (an offset that is not page-aligned, a file
  // system without mmap): the caller copies the bytes instead.
  static std::unique_ptr<Level0Mapping> map(int fd, std::uint64_t offset, std::size_t file_bytes,
                                            std::size_t reserve_bytes) {
    if (fd < 0 || offset % page_size() != 0 || file_bytes == 0) return nullptr;
    const std::size_t mapped = round_to_pages(file_bytes);
    const std::size_t reserved = std::max(mapped, round_to_pages(reserve_bytes));
    void* base = ::mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return nullptr;
    std::unique_ptr<Level0Mapping> out(new Level0Mapping(base, reserved));
    if (::mmap(base, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, static_cast<off_t>(offset)) ==
        MAP_FAILED)
      return nullptr;
    return out;
  }
  ~Level0Mapping() { ::munmap(base_, bytes_); }
  Level0Mapping(const Level0Mapping&) = delete;
  Level0Mapping& operator=(const Level0Mapping&) = delete;
  char* data() const noexcept { return static_cast<char*>(base_); }

 private:
  Level0Mapping(void* base, std::size_t bytes) : base_(base), bytes_(bytes) {}
  void* base_;
  std::size_t bytes_;
};

}  // namespace

struct HnswLayout::Impl {
  Codec codec;
  DotSpace space;
  // Declared before `graph`, so destroyed after it: hnswlib's level 0 when it is mapped.
  std::unique_ptr<Level0Mapping> level0_mapping;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
  std::vector<EntryId> id_of_label;  // 0 = free label
  std::vector<std::uint32_t> free_labels;
  IdMap map;  // EntryId -> label
  std::size_t live = 0;
  // A loaded graph until check_elements() has covered it: each element's label as the sidecar
  // recorded it (level 0's copy is not trusted yet).
  bool checked = true;
  std::vector<std::uint32_t> label_of_element;
  // A loaded graph until its first write: label -> element (kNoElement for a label without
  // one) in place of hnswlib's label_lookup_, which load() leaves empty, as it leaves the
  // per-element locks unallocated. Searches need neither, and a reader process that never
  // writes saves their ~13 MB at 100k (most of its private memory beside shared level 0).
  static constexpr std::uint32_t kNoElement = 0xffffffffu;
  bool writes_deferred = false;
  std::vector<std::uint32_t> element_of_label;

  HnswParams params;

  Impl(const Codec& c, const HnswParams& p, std::size_t capacity)
      : codec(c), space(c), graph(new_graph(p, capacity)), params(p) {}
  // For load(): the graph is filled in afterwards.
  Impl(const Codec& c, const HnswParams& p) : codec(c), space(c), params(p) {}
  ~Impl() { release_mapping(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // hnswlib frees (and reallocs) its level-0 block; a mapped one is taken back first.
  void release_mapping() {
    if (level0_mapping && graph) graph->data_level0_memory_ = nullptr;
    level0_mapping.reset();
  }
  void replace_graph(std::unique_ptr<hnswlib::HierarchicalNSW<float>> g) {
    release_mapping();
    graph = std::move(g);
    checked = true;
    label_of_element = {};
    element_of_label = {};
    writes_deferred = false;
  }
  // Before anything that changes the graph: what hnswlib's writers need that load() left out.
  void prepare_for_writes() {
    if (!writes_deferred) return;
    auto& g = *graph;
    g.label_lookup_.reserve(g.cur_element_count);
    for (std::size_t label = 0; label < element_of_label.size(); ++label)
      if (const std::uint32_t element = element_of_label[label]; element != kNoElement)
        g.label_lookup_.emplace(label, element);
    std::vector<std::mutex>(g.max_elements_).swap(g.link_list_locks_);
    std::vector<std::mutex>(hnswlib::HierarchicalNSW<float>::max_update_element_locks).swap(g.link_list_update_locks_);
    element_of_label = {};
    writes_deferred = false;
  }

  std::unique_ptr<hnswlib::HierarchicalNSW<float>> new_graph(const HnswParams& p, std::size_t capacity) {
    auto g = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, std::max(capacity, kMinCapacity),
                                                               std::max<std::size_t>(p.m, 2),
                                                               std::max<std::size_t>(p.ef_construction, 1));
    g->setEf(std::max<std::size_t>(p.ef_search, 1));
    advise_huge_pages(g->data_level0_memory_, g->max_elements_ * g->size_data_per_element_);
    return g;
  }

  auto key_of() const {
    return [this](std::uint32_t label) { return id_of_label[label]; };
  }
  std::size_t label_of(EntryId id) const noexcept {
    const std::size_t slot = map.find(id, key_of());
    return slot == IdMap::npos ? IdMap::npos : map.row_at(slot);
  }
  const std::byte* row_of_label(std::size_t label) const {
    const std::size_t element = writes_deferred ? element_of_label[label] : graph->label_lookup_.find(label)->second;
    return reinterpret_cast<const std::byte*>(graph->getDataByInternalId(static_cast<hnswlib::tableint>(element)));
  }
  void reserve(std::size_t n) {
    if (n <= graph->max_elements_) return;
    const std::size_t capacity = std::max(n, graph->max_elements_ + graph->max_elements_ / 2);
    if (level0_mapping) {
      // Past the mapped reservation: level 0 moves into malloc'd memory (one copy), which
      // resizeIndex may then realloc like any other graph's.
      const std::size_t bytes = graph->cur_element_count * graph->size_data_per_element_;
      auto* block = static_cast<char*>(std::malloc(capacity * graph->size_data_per_element_));
      if (block == nullptr) throw std::bad_alloc();
      std::memcpy(block, graph->data_level0_memory_, bytes);
      level0_mapping.reset();
      graph->data_level0_memory_ = block;
    }
    graph->resizeIndex(capacity);
    advise_huge_pages(graph->data_level0_memory_, graph->max_elements_ * graph->size_data_per_element_);
  }
  // A label for a new id: a freed one (its slot is reused) or the next fresh one.
  std::uint32_t take_label(EntryId id, bool& reused) {
    std::uint32_t label;
    reused = !free_labels.empty();
    if (reused) {
      label = free_labels.back();
      free_labels.pop_back();
      id_of_label[label] = id;
    } else {
      label = static_cast<std::uint32_t>(id_of_label.size());
      id_of_label.push_back(id);
    }
    map.insert(id, label, key_of());
    ++live;
    return label;
  }
};

HnswLayout::HnswLayout(const Codec& codec, const HnswParams& params, std::size_t initial_capacity)
    : impl_(std::make_unique<Impl>(codec, params, initial_capacity)) {}
HnswLayout::~HnswLayout() = default;

std::size_t HnswLayout::size() const noexcept { return impl_->live; }
std::size_t HnswLayout::capacity() const noexcept { return impl_->graph->max_elements_; }

bool HnswLayout::contains(EntryId id) const noexcept { return impl_->label_of(id) != IdMap::npos; }

const std::byte* HnswLayout::find(EntryId id) const noexcept {
  const std::size_t label = impl_->label_of(id);
  return label == IdMap::npos ? nullptr : impl_->row_of_label(label);
}

void HnswLayout::upsert(EntryId id, const std::byte* row) {
  Impl& m = *impl_;
  m.prepare_for_writes();
  if (const std::size_t label = m.label_of(id); label != IdMap::npos) {
    m.graph->addPoint(row, label);  // existing label: hnswlib updates the point in place
    return;
  }
  if (m.free_labels.empty()) m.reserve(m.id_of_label.size() + 1);
  bool reused = false;
  const std::uint32_t label = m.take_label(id, reused);
  try {
    m.graph->addPoint(row, label);  // reused label: unmark-delete + updatePoint
  } catch (...) {
    // Leave the label unusable rather than half-mapped.
    m.map.erase_slot(m.map.find(id, m.key_of()), m.key_of());
    m.id_of_label[label] = 0;
    --m.live;
    throw;
  }
}

bool HnswLayout::remove(EntryId id) {
  Impl& m = *impl_;
  const std::size_t slot = m.map.find(id, m.key_of());
  if (slot == IdMap::npos) return false;
  m.prepare_for_writes();
  const std::uint32_t label = m.map.row_at(slot);
  // An unchecked level 0 may carry a wrong deleted mark, on which markDelete would throw; the
  // check then fails and the graph is dropped.
  if (const auto element = m.graph->label_lookup_.at(label); !m.graph->isMarkedDeleted(element))
    m.graph->markDeletedInternal(element);
  m.map.erase_slot(slot, m.key_of());
  m.id_of_label[label] = 0;
  m.free_labels.push_back(label);
  --m.live;
  // Deleted nodes stay in the graph as waypoints. When they outnumber the live ones, the
  // graph is rebuilt from the live rows: a slot re-linked among mostly deleted nodes finds
  // few live neighbours (and none at all once everything was deleted), so it could become
  // unreachable. The rebuild costs about one insert per remove that led to it.
  if (m.free_labels.size() > std::max<std::size_t>(m.live, kCompactMinDeleted) || m.live == 0) compact();
  return true;
}

void HnswLayout::set_ef_search(std::size_t ef) {
  impl_->params.ef_search = ef;
  impl_->graph->setEf(std::max<std::size_t>(ef, 1));
}

void HnswLayout::compact() {
  Impl& m = *impl_;
  const std::size_t rb = m.codec.row_bytes();
  std::vector<EntryId> ids;
  std::vector<std::byte> rows;
  ids.reserve(m.live);
  rows.reserve(m.live * rb);
  for_each([&](EntryId id, const std::byte* row) {
    ids.push_back(id);
    rows.insert(rows.end(), row, row + rb);
  });
  m.replace_graph(m.new_graph(m.params, ids.size() + ids.size() / 4));
  m.id_of_label.clear();
  m.id_of_label.shrink_to_fit();
  m.free_labels.clear();
  m.free_labels.shrink_to_fit();
  m.map.clear();
  m.live = 0;
  insert_bulk(ids, rows.data(), 1);
}

void HnswLayout::insert_bulk(std::span<const EntryId> ids, const std::byte* rows, std::size_t threads,
                             const std::atomic<bool>* cancel) {
  Impl& m = *impl_;
  m.prepare_for_writes();
  const std::size_t rb = m.codec.row_bytes();
  // Freed labels go through hnswlib's update path, which we keep single-threaded.
  std::size_t i = 0;
  for (; i < ids.size() && !m.free_labels.empty(); ++i) upsert(ids[i], rows + i * rb);
  const std::size_t first = i, n = ids.size() - first;
  if (n == 0) return;
  m.reserve(m.id_of_label.size() + n);
  std::vector<std::uint32_t> labels(n);
  for (std::size_t j = 0; j < n; ++j) {
    bool reused = false;
    labels[j] = m.take_label(ids[first + j], reused);
  }
  std::atomic<std::size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&] {
    for (;;) {
      if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) return;
      const std::size_t j = next.fetch_add(1, std::memory_order_relaxed);
      if (j >= n) return;
      try {
        m.graph->addPoint(rows + (first + j) * rb, labels[j]);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(n);
      }
    }
  };
  threads = std::clamp<std::size_t>(threads, 1, 64);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads && t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

std::vector<Scored> HnswLayout::search(std::span<const float> query, std::size_t k) const {
  const Impl& m = *impl_;
  if (k == 0 || m.live == 0) return {};
  thread_local QueryBuffer q;
  prepare_stored_query(m.codec, query, q);
  if (!m.checked) {
    // Exact, over the rows of live labels, with labels as the sidecar recorded them.
    const auto& g = *m.graph;
    TopK top(k);
    for (std::size_t i = 0; i < m.label_of_element.size(); ++i) {
      const EntryId id = m.id_of_label[m.label_of_element[i]];
      if (id == 0) continue;
      const float score = -g.fstdistfunc_(q.data, g.getDataByInternalId(i), g.dist_func_param_) * q.scale;
      if (score >= top.floor()) top.push(score, id);
    }
    return top.take_sorted();
  }
  auto found = m.graph->searchKnn(q.data, k);
  std::vector<Scored> out;
  out.reserve(found.size());
  while (!found.empty()) {
    const auto& [dist, label] = found.top();
    out.push_back({-dist * q.scale, m.id_of_label[label]});
    found.pop();
  }
  std::sort(out.begin(), out.end(), better);
  return out;
}

void HnswLayout::for_each(const std::function<void(EntryId, const std::byte*)>& f) const {
  const Impl& m = *impl_;
  for (std::size_t label = 0; label < m.id_of_label.size(); ++label)
    if (const EntryId id = m.id_of_label[label]; id != 0) f(id, m.row_of_label(label));
}

void HnswLayout::for_each_id(const std::function<void(EntryId)>& f) const {
  for (const EntryId id : impl_->id_of_label)
    if (id != 0) f(id);
}

std::size_t HnswLayout::memory_bytes() const noexcept {
  const Impl& m = *impl_;
  const auto& g = *m.graph;
  // Per allocated element: level-0 links + data + label, the upper-level pointer, the level,
  // one std::mutex of link_list_locks_, and one visited-list entry (one list is pooled per
  // concurrent searcher; we count one).
  std::size_t bytes =
      g.max_elements_ * (g.size_data_per_element_ + sizeof(void*) + sizeof(int) + sizeof(hnswlib::vl_type));
  bytes += (g.link_list_locks_.size() + g.link_list_update_locks_.size()) * sizeof(std::mutex);
  for (std::size_t i = 0; i < g.cur_element_count; ++i)
    if (const int level = g.element_levels_[i]; level > 0)
      bytes += g.size_links_per_element_ * static_cast<std::size_t>(level) + 1;
  // label_lookup_: one node (key, value, next pointer, cached hash) per element + buckets.
  bytes += g.label_lookup_.size() * 32 + g.label_lookup_.bucket_count() * sizeof(void*);
  bytes += (m.element_of_label.capacity() + m.label_of_element.capacity()) * sizeof(std::uint32_t);
  bytes += m.id_of_label.capacity() * sizeof(EntryId) + m.free_labels.capacity() * 4 + m.map.memory_bytes();
  return bytes;
}

// ---- persistence --------------------------------------------------------------------------

namespace {

template <class T>
void put_pod(std::vector<std::byte>& out, const T& v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

// Bounds-checked reads from a byte span; every read past the end sets `ok` to false.
struct Reader {
  std::span<const std::byte> in;
  std::size_t at = 0;
  bool ok = true;
  template <class T>
  T pod() {
    T v{};
    if (!ok || in.size() - at < sizeof(T)) {
      ok = false;
      return v;
    }
    std::memcpy(&v, in.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  const std::byte* take(std::size_t n) {
    if (!ok || in.size() - at < n) {
      ok = false;
      return nullptr;
    }
    const std::byte* p = in.data() + at;
    at += n;
    return p;
  }
};

// hnswlib's link-list header: the neighbour count in the low 16 bits, flags (deleted) above.
std::size_t link_count(const char* list) {
  std::uint16_t n = 0;
  std::memcpy(&n, list, sizeof n);
  return n;
}

// A link list read from a sidecar holds at most `max_links` links, each naming one of the
// `count` elements.
bool links_in_range(const char* list, std::size_t max_links, std::size_t count) {
  const std::size_t n = link_count(list);
  if (n > max_links) return false;
  for (std::size_t j = 0; j < n; ++j) {
    hnswlib::tableint t = 0;
    std::memcpy(&t, list + sizeof(hnswlib::linklistsizeint) + j * sizeof t, sizeof t);
    if (t >= count) return false;
  }
  return true;
}

}  // namespace

void HnswLayout::serialize(std::vector<std::byte>& out) const {
  const Impl& m = *impl_;
  const auto& g = *m.graph;
  put_pod(out, static_cast<std::uint64_t>(m.id_of_label.size()));
  const auto* ids = reinterpret_cast<const std::byte*>(m.id_of_label.data());
  out.insert(out.end(), ids, ids + m.id_of_label.size() * sizeof(EntryId));
  put_pod(out, static_cast<std::uint64_t>(m.free_labels.size()));
  const auto* free = reinterpret_cast<const std::byte*>(m.free_labels.data());
  out.insert(out.end(), free, free + m.free_labels.size() * sizeof(std::uint32_t));
  put_pod(out, static_cast<std::uint64_t>(m.live));
  // The graph's fields as hnswlib's saveIndex writes them, then each element's label (level
  // 0 has them too, but load() must not trust level 0 before it is checked) and upper levels.
  put_pod(out, static_cast<std::uint64_t>(g.offsetLevel0_));
  put_pod(out, static_cast<std::uint64_t>(g.max_elements_));
  put_pod(out, static_cast<std::uint64_t>(g.cur_element_count));
  put_pod(out, static_cast<std::uint64_t>(g.size_data_per_element_));
  put_pod(out, static_cast<std::uint64_t>(g.label_offset_));
  put_pod(out, static_cast<std::uint64_t>(g.offsetData_));
  put_pod(out, static_cast<std::int32_t>(g.maxlevel_));
  put_pod(out, static_cast<std::uint32_t>(g.enterpoint_node_));
  put_pod(out, static_cast<std::uint64_t>(g.maxM_));
  put_pod(out, static_cast<std::uint64_t>(g.maxM0_));
  put_pod(out, static_cast<std::uint64_t>(g.M_));
  put_pod(out, g.mult_);
  put_pod(out, static_cast<std::uint64_t>(g.ef_construction_));
  for (std::size_t i = 0; i < g.cur_element_count; ++i)
    put_pod(out, static_cast<std::uint32_t>(g.getExternalLabel(static_cast<hnswlib::tableint>(i))));
  for (std::size_t i = 0; i < g.cur_element_count; ++i) {
    const int level = g.element_levels_[i];
    const auto bytes = static_cast<std::uint32_t>(level > 0 ? g.size_links_per_element_ * level : 0);
    put_pod(out, bytes);
    const auto* links = reinterpret_cast<const std::byte*>(g.linkLists_[i]);
    if (bytes > 0) out.insert(out.end(), links, links + bytes);
  }
}

std::span<const std::byte> HnswLayout::level0() const noexcept {
  const auto& g = *impl_->graph;
  return {reinterpret_cast<const std::byte*>(g.data_level0_memory_), g.cur_element_count * g.size_data_per_element_};
}

std::unique_ptr<HnswLayout> HnswLayout::load(const Codec& codec, const HnswParams& params,
                                             std::span<const std::byte> meta, const Level0Source& level0) {
  std::unique_ptr<HnswLayout> out(new HnswLayout());  // NOLINT(modernize-make-unique): private constructor
  out->impl_ = std::make_unique<Impl>(codec, params);
  Impl& m = *out->impl_;
  Reader r{meta};
  const auto n_labels = r.pod<std::uint64_t>();
  if (!r.ok || n_labels >= std::numeric_limits<std::uint32_t>::max() || n_labels > meta.size() / sizeof(EntryId))
    return nullptr;
  m.id_of_label.resize(n_labels);
  if (const std::byte* p = r.take(n_labels * sizeof(EntryId))) std::memcpy(m.id_of_label.data(), p, n_labels * 8);
  const auto n_free = r.pod<std::uint64_t>();
  if (!r.ok || n_free > n_labels) return nullptr;
  m.free_labels.resize(n_free);
  if (const std::byte* p = r.take(n_free * sizeof(std::uint32_t))) std::memcpy(m.free_labels.data(), p, n_free * 4);
  const auto live = r.pod<std::uint64_t>();
  const auto offset_level0 = r.pod<std::uint64_t>();
  (void)r.pod<std::uint64_t>();  // max_elements_ when saved; the loaded graph gets its own
  const auto count = r.pod<std::uint64_t>();
  const auto size_data = r.pod<std::uint64_t>();
  const auto label_offset = r.pod<std::uint64_t>();
  const auto offset_data = r.pod<std::uint64_t>();
  const auto max_level = r.pod<std::int32_t>();
  const auto enter = r.pod<std::uint32_t>();
  const auto max_m = r.pod<std::uint64_t>();
  const auto max_m0 = r.pod<std::uint64_t>();
  const auto big_m = r.pod<std::uint64_t>();
  const auto mult = r.pod<double>();
  const auto ef_construction = r.pod<std::uint64_t>();
  if (!r.ok) return nullptr;
  // The shape must be exactly what this codec and M produce.
  const std::size_t want_m = std::max<std::size_t>(params.m, 2);
  const std::size_t links0 = max_m0 * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  if (big_m != want_m || max_m != want_m || max_m0 != 2 * want_m || offset_level0 != 0 || offset_data != links0 ||
      label_offset != links0 + codec.row_bytes() || size_data != label_offset + sizeof(hnswlib::labeltype) ||
      count > n_labels || live > count || !(mult > 0.0) || (count > 0 && (enter >= count || max_level < 0)) ||
      (count == 0 && max_level != -1) || max_level > 64 || level0.bytes.size() != count * size_data)
    return nullptr;
  m.label_of_element.resize(count);
  if (const std::byte* p = r.take(count * sizeof(std::uint32_t)))
    std::memcpy(m.label_of_element.data(), p, count * sizeof(std::uint32_t));
  if (!r.ok) return nullptr;

  const std::size_t capacity = std::max<std::size_t>(count + count / 4, kMinCapacity);
  auto g = std::make_unique<hnswlib::HierarchicalNSW<float>>(&m.space);
  // The destructor frees what was allocated so far: the level-0 block, the first
  // cur_element_count link lists, the list array and the visited-list pool.
  g->cur_element_count = 0;
  g->data_level0_memory_ = nullptr;
  g->linkLists_ = nullptr;
  g->visited_list_pool_ = nullptr;
  g->num_deleted_ = 0;
  g->data_size_ = m.space.get_data_size();
  g->fstdistfunc_ = m.space.get_dist_func();
  g->dist_func_param_ = m.space.get_dist_func_param();
  g->M_ = big_m;
  g->maxM_ = max_m;
  g->maxM0_ = max_m0;
  g->ef_construction_ = std::max<std::size_t>(ef_construction, g->M_);
  g->mult_ = mult;
  g->revSize_ = 1.0 / mult;
  g->maxlevel_ = max_level;
  g->enterpoint_node_ = count == 0 ? static_cast<hnswlib::tableint>(-1) : enter;
  g->size_links_level0_ = links0;
  g->size_data_per_element_ = size_data;
  g->offsetData_ = offset_data;
  g->offsetLevel0_ = 0;
  g->label_offset_ = label_offset;
  g->size_links_per_element_ = max_m * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  g->max_elements_ = capacity;
  g->level_generator_.seed(100);  // as hnswlib's own constructor seeds them
  g->update_probability_generator_.seed(101);
  m.level0_mapping = Level0Mapping::map(level0.fd, level0.offset, level0.bytes.size(), capacity * size_data);
  if (m.level0_mapping) {
    g->data_level0_memory_ = m.level0_mapping->data();
  } else {
    g->data_level0_memory_ = static_cast<char*>(std::malloc(capacity * size_data));
    if (g->data_level0_memory_ == nullptr) throw std::bad_alloc();
    // Advised before the copy, so the copy faults the block in as huge pages.
    advise_huge_pages(g->data_level0_memory_, capacity * size_data);
    if (count > 0) std::memcpy(g->data_level0_memory_, level0.bytes.data(), count * size_data);
  }
  m.graph = std::move(g);  // from here on, Impl's destructor takes a mapped block back first
  auto& graph = *m.graph;
  graph.linkLists_ = static_cast<char**>(std::calloc(capacity, sizeof(char*)));
  graph.element_levels_.assign(capacity, 0);
  graph.visited_list_pool_ = new hnswlib::VisitedListPool(1, static_cast<int>(capacity));
  if (graph.linkLists_ == nullptr) throw std::bad_alloc();
  graph.ef_ = 10;
  // Upper levels (about one element in M has any): read and checked now.
  for (std::size_t i = 0; i < count; ++i) {
    const auto bytes = r.pod<std::uint32_t>();
    if (!r.ok || bytes % graph.size_links_per_element_ != 0 ||
        bytes / graph.size_links_per_element_ > static_cast<std::size_t>(max_level))
      return nullptr;
    const std::byte* links = r.take(bytes);
    if (!r.ok) return nullptr;
    const int level = static_cast<int>(bytes / graph.size_links_per_element_);
    graph.element_levels_[i] = level;
    if (level > 0) {
      graph.linkLists_[i] = static_cast<char*>(std::malloc(bytes));
      if (graph.linkLists_[i] == nullptr) throw std::bad_alloc();
      std::memcpy(graph.linkLists_[i], links, bytes);
      for (int l = 0; l < level; ++l)
        if (!links_in_range(graph.linkLists_[i] + l * graph.size_links_per_element_, max_m, count)) {
          graph.cur_element_count = i + 1;
          return nullptr;
        }
    }
    graph.cur_element_count = i + 1;
  }
  if (r.at != meta.size()) return nullptr;
  if (count > 0 && graph.element_levels_[enter] != max_level) return nullptr;
  // Labels (from the sidecar's list, not level 0): each names a label slot, once; a live
  // label's element is not deleted, a free label's is.
  m.writes_deferred = true;
  m.element_of_label.assign(n_labels, Impl::kNoElement);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t label = m.label_of_element[i];
    if (label >= n_labels || m.element_of_label[label] != Impl::kNoElement) return nullptr;
    m.element_of_label[label] = static_cast<std::uint32_t>(i);
    if (m.id_of_label[label] == 0) ++graph.num_deleted_;
  }
  std::size_t seen_live = 0;
  for (std::size_t label = 0; label < n_labels; ++label) {
    const EntryId id = m.id_of_label[label];
    if (id == 0) continue;
    if (id < 0 || m.element_of_label[label] == Impl::kNoElement) return nullptr;
    if (m.map.find(id, m.key_of()) != IdMap::npos) return nullptr;  // an id twice
    m.map.insert(id, static_cast<std::uint32_t>(label), m.key_of());
    ++seen_live;
  }
  for (const std::uint32_t label : m.free_labels)
    if (label >= n_labels || m.id_of_label[label] != 0) return nullptr;
  if (seen_live != live) return nullptr;
  m.live = live;
  m.checked = count == 0;
  if (m.checked) m.label_of_element = {};
  graph.setEf(std::max<std::size_t>(params.ef_search, 1));
  return out;
}

bool HnswLayout::checked() const noexcept { return impl_->checked; }

std::size_t HnswLayout::elements() const noexcept { return impl_->graph->cur_element_count; }

bool HnswLayout::check_elements(std::size_t begin, std::size_t end) const {
  const Impl& m = *impl_;
  const auto& g = *m.graph;
  const std::size_t count = g.cur_element_count;
  for (std::size_t i = begin; i < std::min(end, count); ++i) {
    if (!links_in_range(g.data_level0_memory_ + i * g.size_data_per_element_, g.maxM0_, count)) return false;
    const auto element = static_cast<hnswlib::tableint>(i);
    const std::uint32_t label = m.label_of_element[i];
    if (g.getExternalLabel(element) != label || g.isMarkedDeleted(element) != (m.id_of_label[label] == 0)) return false;
  }
  return true;
}

void HnswLayout::set_checked() {
  impl_->checked = true;
  impl_->label_of_element = {};
}

void HnswLayout::reset() {
  Impl& m = *impl_;
  m.replace_graph(m.new_graph(m.params, kMinCapacity));
  m.id_of_label = {};
  m.free_labels = {};
  m.map.clear();
  m.live = 0;
}

}  // namespace engram::detail
