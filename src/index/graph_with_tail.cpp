#include "graph_with_tail.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>

namespace engram::detail {

GraphWithTail::GraphWithTail(const Codec& codec, std::unique_ptr<HnswLayout> graph)
    : codec_(codec), graph_(std::move(graph)), tail_(codec) {}

GraphWithTail::~GraphWithTail() {
  {
    std::unique_lock lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (linker_.joinable()) linker_.join();
}

std::size_t GraphWithTail::size() const {
  std::shared_lock lock(mutex_);
  return graph_->size() + tail_.size();
}

bool GraphWithTail::contains(EntryId id) const {
  std::shared_lock lock(mutex_);
  return tail_.contains(id) || graph_->contains(id);
}

std::optional<std::vector<std::byte>> GraphWithTail::row(EntryId id) const {
  std::shared_lock lock(mutex_);
  const std::byte* found = tail_.find(id);
  if (found == nullptr) found = graph_->find(id);
  if (found == nullptr) return std::nullopt;
  return std::vector<std::byte>(found, found + codec_.row_bytes());
}

std::unique_lock<std::shared_mutex> GraphWithTail::lock_for_write() {
  writers_waiting_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock lock(mutex_);
  writers_waiting_.fetch_sub(1, std::memory_order_relaxed);
  return lock;
}

void GraphWithTail::upsert(EntryId id, const std::byte* row) {
  {
    std::lock_guard deferred(deferred_mu_);
    if (linking_) {
      deferred_.emplace_back(id, std::vector<std::byte>(row, row + codec_.row_bytes()));
      return;
    }
  }
  {
    auto lock = lock_for_write();
    upsert_locked(id, row);
    if (!failed_) start_linker_locked();
  }
  wake_.notify_one();
}

void GraphWithTail::upsert_locked(EntryId id, const std::byte* row) {
  graph_->remove(id);
  if (!tail_.contains(id)) order_.push_back(id);
  tail_.upsert(id, row);
}

void GraphWithTail::end_link_locked() {
  std::vector<std::pair<EntryId, std::vector<std::byte>>> rows;
  {
    std::lock_guard deferred(deferred_mu_);
    rows.swap(deferred_);
    linking_ = false;
  }
  // Upserts from now on wait for the lock this thread holds, so they land after these.
  for (const auto& [id, row] : rows) {
    try {
      upsert_locked(id, row.data());
    } catch (...) {
      // Out of memory: the id stays out of the index, so the cache misses it in the semantic
      // layer; it never answers for it wrongly. The caller has long returned.
    }
  }
}

bool GraphWithTail::remove(EntryId id) {
  auto lock = lock_for_write();
  // order_ keeps the id; the linker skips ids that are no longer in the tail.
  if (!tail_.remove(id)) return graph_->remove(id);
  // Emptied here, the tail never reaches the linker's "emptied" notification.
  if (tail_.size() == 0) idle_.notify_all();
  return true;
}

void GraphWithTail::insert_bulk(std::span<const EntryId> ids, const std::byte* rows, std::size_t threads) {
  auto lock = lock_for_write();
  graph_->insert_bulk(ids, rows, threads);
}

std::vector<Scored> GraphWithTail::search(std::span<const float> query, std::size_t k) const {
  std::shared_lock lock(mutex_);
  std::vector<Scored> out = graph_->search(query, k);
  if (tail_.size() == 0) return out;
  // Disjoint id sets, so the best k of the union are the best k of the two top-k lists.
  const std::vector<Scored> fresh = tail_.search(query, k, 1);
  out.insert(out.end(), fresh.begin(), fresh.end());
  std::sort(out.begin(), out.end(), better);
  if (out.size() > k) out.resize(k);
  return out;
}

void GraphWithTail::for_each(const std::function<void(EntryId, const std::byte*)>& f) const {
  std::shared_lock lock(mutex_);
  graph_->for_each(f);
  tail_.for_each(f);
}

std::size_t GraphWithTail::unlinked() const {
  std::shared_lock lock(mutex_);
  return tail_.size();
}

void GraphWithTail::wait_linked() const {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return (tail_.size() == 0 && graph_->checked()) || failed_; });
}

std::size_t GraphWithTail::memory_bytes() const {
  std::shared_lock lock(mutex_);
  return graph_->memory_bytes() + tail_.memory_bytes() + order_.size() * sizeof(EntryId);
}

void GraphWithTail::set_ef_search(std::size_t ef) {
  auto lock = lock_for_write();
  graph_->set_ef_search(ef);
}

void GraphWithTail::start_linker_locked() {
  if (!linker_.joinable()) linker_ = std::thread([this] { link_loop(); });
}

// Level 0 of a loaded graph, checked in slices under the shared lock (searches go on; a write
// waits for one slice at most). A graph that fails is dropped and its rows re-linked from the
// tail: a sidecar whose checksums match but whose graph does not hold together came from a
// faulty writer, and the rows themselves are still the store's (the cache checks them).
void GraphWithTail::check_graph(std::unique_lock<std::shared_mutex>& lock) {
  constexpr std::size_t kSlice = 4096;  // elements: about 7 MB of level 0 at 384 x f32
  for (std::size_t next = 0; !stop_ && !graph_->checked(); next += kSlice) {
    lock.unlock();
    bool ok = false, done = false;
    {
      std::shared_lock shared(mutex_);
      // A remove may have replaced the graph meanwhile (compaction): then it is checked.
      ok = graph_->checked() || graph_->check_elements(next, next + kSlice);
      done = next + kSlice >= graph_->elements();
    }
    lock.lock();
    if (graph_->checked()) break;
    if (!ok) {
      std::vector<std::pair<EntryId, std::vector<std::byte>>> rows;
      graph_->for_each([&](EntryId id, const std::byte* row) {
        rows.emplace_back(id, std::vector<std::byte>(row, row + codec_.row_bytes()));
      });
      graph_->reset();
      for (const auto& [id, row] : rows) {
        tail_.upsert(id, row.data());
        order_.push_back(id);
      }
      break;
    }
    if (done) graph_->set_checked();
  }
  idle_.notify_all();
}

void GraphWithTail::link_loop() {
  std::unique_lock lock(mutex_);
  check_graph(lock);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || tail_.size() > 0; });
    if (stop_) return;
    // Oldest first; ids removed or already linked since they were queued are skipped.
    while (!order_.empty() && !tail_.contains(order_.front())) order_.pop_front();
    if (order_.empty()) tail_.for_each_id([this](EntryId id) { order_.push_back(id); });
    if (!order_.empty()) {
      const EntryId id = order_.front();
      order_.pop_front();
      {
        std::lock_guard deferred(deferred_mu_);
        linking_ = true;
      }
      try {
        graph_->upsert(id, tail_.find(id));
        tail_.remove(id);
      } catch (...) {
        failed_ = true;  // the row stays in the tail, where searches still find it
        order_.push_front(id);
      }
      end_link_locked();
      if (failed_) {
        idle_.notify_all();
        return;
      }
    }
    if (tail_.size() == 0) {
      order_.clear();
      idle_.notify_all();
      continue;
    }
    // Let waiting searches in between two links (std::shared_mutex prefers readers), and
    // waiting writers first: a put, or a sync applying another process's puts, holds the
    // cache's state lock while it waits here, so every get of the cache waits with it. Without
    // this the linker, relocking at once, won the lock again and again (2-30 ms syncs).
    lock.unlock();
    do {
      std::this_thread::yield();
    } while (writers_waiting_.load(std::memory_order_relaxed) > 0);
    lock.lock();
  }
}

// ---- persistence --------------------------------------------------------------------------

namespace {

void put_u64(std::vector<std::byte>& out, std::uint64_t v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

bool read_u64(std::span<const std::byte> in, std::size_t& at, std::uint64_t& v) {
  if (in.size() - at < sizeof v) return false;
  std::memcpy(&v, in.data() + at, sizeof v);
  at += sizeof v;
  return true;
}

}  // namespace

void GraphWithTail::serialize(std::vector<std::byte>& out, std::vector<std::byte>& level0) const {
  std::shared_lock lock(mutex_);
  const std::size_t length_at = out.size();
  put_u64(out, 0);
  graph_->serialize(out);
  const std::uint64_t graph_bytes = out.size() - length_at - sizeof(std::uint64_t);
  std::memcpy(out.data() + length_at, &graph_bytes, sizeof graph_bytes);
  const std::size_t rb = codec_.row_bytes();
  put_u64(out, tail_.size());
  tail_.for_each([&](EntryId id, const std::byte*) { put_u64(out, static_cast<std::uint64_t>(id)); });
  tail_.for_each([&](EntryId, const std::byte* row) { out.insert(out.end(), row, row + rb); });
  const auto block = graph_->level0();
  level0.assign(block.begin(), block.end());
}

std::unique_ptr<GraphWithTail> GraphWithTail::load(const Codec& codec, const HnswParams& params,
                                                   std::span<const std::byte> in,
                                                   const HnswLayout::Level0Source& level0) {
  std::size_t at = 0;
  std::uint64_t graph_bytes = 0, n = 0;
  if (!read_u64(in, at, graph_bytes) || graph_bytes > in.size() - at) return nullptr;
  auto graph = HnswLayout::load(codec, params, in.subspan(at, graph_bytes), level0);
  if (!graph) return nullptr;
  at += graph_bytes;
  const std::size_t rb = codec.row_bytes();
  if (!read_u64(in, at, n) || n > (in.size() - at) / (sizeof(std::uint64_t) + rb) ||
      in.size() - at != n * (sizeof(std::uint64_t) + rb))
    return nullptr;
  auto out = std::make_unique<GraphWithTail>(codec, std::move(graph));
  const std::byte* ids = in.data() + at;
  const std::byte* rows = ids + n * sizeof(std::uint64_t);
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t id = 0;
    std::memcpy(&id, ids + i * sizeof id, sizeof id);
    if (id <= 0 || out->contains(id)) return nullptr;  // the sets must be disjoint, ids unique
    out->upsert(id, rows + i * rb);
  }
  std::unique_lock lock(out->mutex_);
  out->start_linker_locked();  // checks the graph, then links the tail
  lock.unlock();
  return out;
}

}  // namespace engram::detail
