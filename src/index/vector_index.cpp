// Flat float32 index: dense row-major matrix + parallel id array + id -> row map.
// (The SIMD, quantized and HNSW layouts replace this in the performance work.)
#include "engram/index/vector_index.hpp"

#include <algorithm>
#include <unordered_map>

namespace engram {

struct VectorIndex::Impl {
  IndexConfig config;
  std::vector<float> rows;
  std::vector<EntryId> ids;
  std::unordered_map<EntryId, std::size_t> row_of;
};

VectorIndex::VectorIndex(const IndexConfig& config) : impl_(std::make_unique<Impl>()) {
  impl_->config = config;
}
VectorIndex::~VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;

void VectorIndex::add(EntryId id, std::span<const float> vector) {
  auto& m = *impl_;
  const std::size_t d = m.config.dim;
  if (auto it = m.row_of.find(id); it != m.row_of.end()) {
    std::copy(vector.begin(), vector.end(), m.rows.begin() + static_cast<std::ptrdiff_t>(it->second * d));
    return;
  }
  m.row_of.emplace(id, m.ids.size());
  m.ids.push_back(id);
  m.rows.insert(m.rows.end(), vector.begin(), vector.end());
}

bool VectorIndex::remove(EntryId id) {
  auto& m = *impl_;
  auto it = m.row_of.find(id);
  if (it == m.row_of.end()) return false;
  const std::size_t d = m.config.dim, hole = it->second, last = m.ids.size() - 1;
  if (hole != last) {
    std::copy_n(m.rows.begin() + static_cast<std::ptrdiff_t>(last * d), d,
                m.rows.begin() + static_cast<std::ptrdiff_t>(hole * d));
    m.ids[hole] = m.ids[last];
    m.row_of[m.ids[hole]] = hole;
  }
  m.ids.pop_back();
  m.rows.resize(m.ids.size() * d);
  m.row_of.erase(it);
  return true;
}

bool VectorIndex::contains(EntryId id) const { return impl_->row_of.contains(id); }

std::vector<Candidate> VectorIndex::search(std::span<const float> query, std::size_t k) const {
  const auto& m = *impl_;
  const std::size_t d = m.config.dim, n = m.ids.size();
  std::vector<Candidate> all(n);
  for (std::size_t r = 0; r < n; ++r) {
    const float* row = m.rows.data() + r * d;
    float dot = 0;
    for (std::size_t j = 0; j < d; ++j) dot += row[j] * query[j];
    all[r] = {m.ids[r], dot};
  }
  k = std::min(k, n);
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  };
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), better);
  all.resize(k);
  return all;
}

std::size_t VectorIndex::size() const { return impl_->ids.size(); }
std::size_t VectorIndex::dim() const { return impl_->config.dim; }
std::size_t VectorIndex::memory_bytes() const {
  return impl_->rows.capacity() * sizeof(float) + impl_->ids.capacity() * sizeof(EntryId) +
         impl_->row_of.size() * 32;
}
bool VectorIndex::exact_scores() const { return true; }
const char* VectorIndex::describe() const { return "flat-f32"; }

}  // namespace engram
