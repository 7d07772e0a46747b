#include "hnsw_layout.hpp"

#include <algorithm>
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

}  // namespace

struct HnswLayout::Impl {
  Codec codec;
  DotSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
  std::vector<EntryId> id_of_label;  // 0 = free label
  std::vector<std::uint32_t> free_labels;
  IdMap map;  // EntryId -> label
  std::size_t live = 0;

  HnswParams params;

  Impl(const Codec& c, const HnswParams& p, std::size_t capacity)
      : codec(c), space(c), graph(new_graph(p, capacity)), params(p) {}

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
    const auto it = graph->label_lookup_.find(label);
    return reinterpret_cast<const std::byte*>(graph->getDataByInternalId(it->second));
  }
  void reserve(std::size_t n) {
    if (n <= graph->max_elements_) return;
    graph->resizeIndex(std::max(n, graph->max_elements_ + graph->max_elements_ / 2));
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
  const std::uint32_t label = m.map.row_at(slot);
  m.graph->markDelete(label);
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
  m.graph = m.new_graph(m.params, ids.size() + ids.size() / 4);
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

std::size_t HnswLayout::memory_bytes() const noexcept {
  const Impl& m = *impl_;
  const auto& g = *m.graph;
  // Per allocated element: level-0 links + data + label, the upper-level pointer, the level,
  // one std::mutex of link_list_locks_, and one visited-list entry (one list is pooled per
  // concurrent searcher; we count one).
  std::size_t bytes = g.max_elements_ * (g.size_data_per_element_ + sizeof(void*) + sizeof(int) + sizeof(std::mutex) +
                                         sizeof(hnswlib::vl_type));
  bytes += g.link_list_update_locks_.size() * sizeof(std::mutex);  // fixed 65536 mutexes
  for (std::size_t i = 0; i < g.cur_element_count; ++i)
    if (const int level = g.element_levels_[i]; level > 0)
      bytes += g.size_links_per_element_ * static_cast<std::size_t>(level) + 1;
  // label_lookup_: one node (key, value, next pointer, cached hash) per element + buckets.
  bytes += g.label_lookup_.size() * 32 + g.label_lookup_.bucket_count() * sizeof(void*);
  bytes += m.id_of_label.capacity() * sizeof(EntryId) + m.free_labels.capacity() * 4 + m.map.memory_bytes();
  return bytes;
}

}  // namespace engram::detail
