// VectorIndex: owns the layout of one namespace (flat or HNSW) and the kAuto switching
// between them, including the background flat -> HNSW build.
//
// Background build protocol (all under the caller's exclusive index lock except the worker):
//   1. add() pushes a flat namespace past auto_threshold: the rows are snapshotted (chunks
//      borrowed from a sidecar mapping by reference, the others copied) and
//      a worker thread builds an HnswLayout from them. The flat layout stays active.
//   2. Every later add()/remove() applies to the flat layout and appends the same operation
//      to the build's log (under the build's own small mutex).
//   3. The worker, after the snapshot, drains the log repeatedly until at most kCatchUpOps
//      remain, then publishes its result and stops touching the log.
//   4. The next add()/remove() (or finish_build()) sees it finished, joins it, makes it the
//      active layout and hands the short remainder of the log to it — upserts land in its
//      tail of unlinked rows (graph_with_tail.hpp), so the switch links nothing itself.
// A remove() that brings the namespace below half the threshold cancels the build instead.
#include "engram/index/vector_index.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "codec.hpp"
#include "engram/errors.hpp"
#include "flat_layout.hpp"
#include "graph_with_tail.hpp"
#include "hnsw_layout.hpp"
#include "kernels.hpp"

namespace engram {

using detail::Codec;
using detail::FlatLayout;
using detail::GraphWithTail;
using detail::HnswLayout;
using detail::Scored;

namespace {

constexpr std::size_t kCatchUpOps = 256;

struct LogOp {
  EntryId id;
  bool remove;
  std::vector<std::byte> row;
};

struct Build {
  mutable std::mutex mutex;
  std::vector<LogOp> log;              // guarded by mutex
  bool finished = false;               // guarded by mutex; then the worker is done with
  std::unique_ptr<HnswLayout> result;  //   log/result/error
  std::exception_ptr error;
  std::atomic<bool> cancel{false};
  std::thread worker;
};

template <class Layout>
void apply(const LogOp& op, Layout& layout) {
  if (op.remove) layout.remove(op.id);
  else layout.upsert(op.id, op.row.data());
}

const char* layout_name(bool hnsw, ElementType e) {
  static const char* const kNames[2][3] = {{"flat-f32", "flat-f16", "flat-int8"},
                                           {"hnsw-f32", "hnsw-f16", "hnsw-int8"}};
  return kNames[hnsw ? 1 : 0][static_cast<int>(e)];
}

}  // namespace

struct VectorIndex::Impl {
  IndexConfig config;
  IndexTuning tuning;
  Codec codec;
  std::unique_ptr<FlatLayout> flat;  // exactly one of flat / hnsw is active
  std::unique_ptr<GraphWithTail> hnsw;
  std::unique_ptr<Build> build;  // kAuto: a flat -> HNSW build in progress
  std::size_t retry_at = 0;      // after a failed build, wait until the size doubles
  std::vector<std::byte> scratch;

  Impl(const IndexConfig& c, const IndexTuning& t)
      : config(c), tuning(t), codec(c.element, c.dim), scratch(codec.row_bytes()) {
    if (config.kind == IndexKind::kHnsw) hnsw = make_hnsw(make_graph(0));
    else flat = std::make_unique<FlatLayout>(codec);
  }
  ~Impl() { cancel_build(); }

  std::size_t build_threads() const { return std::max<std::size_t>(1, tuning.build_threads); }
  std::unique_ptr<HnswLayout> make_graph(std::size_t capacity) const {
    return std::make_unique<HnswLayout>(codec, config.hnsw, capacity);
  }
  std::unique_ptr<GraphWithTail> make_hnsw(std::unique_ptr<HnswLayout> graph) const {
    return std::make_unique<GraphWithTail>(codec, std::move(graph));
  }
  std::size_t size() const { return hnsw ? hnsw->size() : flat->size(); }
  std::size_t high_water() const { return config.hnsw.auto_threshold; }
  std::size_t low_water() const { return config.hnsw.auto_threshold / 2; }

  void check_dim(std::size_t n, const char* what) const {
    if (n != config.dim)
      throw InvalidArgument(std::string("VectorIndex: ") + what + " has " + std::to_string(n) +
                            " dimensions, the index has " + std::to_string(config.dim) +
                            ". Remediation: use vectors from the embedder the cache was opened with.");
  }

  // ---- flat -> HNSW ----

  // The rows a build starts from: borrowed flat chunks (a sidecar's mapping, immutable) are
  // read in place, owned ones are copied, so the put that crosses the threshold copies at
  // most what this process wrote since the open instead of every row (150 MB at 100k f32).
  struct Snapshot {
    struct Part {
      const std::byte* rows;
      const EntryId* ids;
      std::size_t count;
    };
    std::vector<Part> parts;
    std::vector<std::unique_ptr<std::byte[]>> owned_rows;
    std::vector<std::unique_ptr<EntryId[]>> owned_ids;
    std::shared_ptr<const void> backing;
    std::size_t size = 0;
  };

  Snapshot snapshot_flat() const {
    Snapshot s;
    s.backing = flat->backing();
    const std::size_t rb = codec.row_bytes();
    flat->for_each_segment([&](const FlatLayout::Segment& seg) {
      s.size += seg.count;
      if (seg.borrowed) {
        s.parts.push_back({seg.rows, seg.ids, seg.count});
        return;
      }
      auto rows = std::make_unique_for_overwrite<std::byte[]>(seg.count * rb);
      auto ids = std::make_unique_for_overwrite<EntryId[]>(seg.count);
      std::memcpy(rows.get(), seg.rows, seg.count * rb);
      std::copy_n(seg.ids, seg.count, ids.get());
      s.parts.push_back({rows.get(), ids.get(), seg.count});
      s.owned_rows.push_back(std::move(rows));
      s.owned_ids.push_back(std::move(ids));
    });
    return s;
  }

  static void insert_snapshot(HnswLayout& layout, const Snapshot& s, std::size_t threads,
                              const std::atomic<bool>* cancel) {
    for (const Snapshot::Part& p : s.parts) {
      if (cancel != nullptr && cancel->load()) return;
      layout.insert_bulk(std::span<const EntryId>(p.ids, p.count), p.rows, threads, cancel);
    }
  }

  void maybe_start_build() {
    if (config.kind != IndexKind::kAuto || build || flat->size() <= high_water() || flat->size() < retry_at) return;
    Snapshot snapshot = snapshot_flat();
    const std::size_t n = snapshot.size;
    if (!tuning.background_build) {
      auto layout = make_graph(n + n / 4);
      insert_snapshot(*layout, snapshot, build_threads(), nullptr);
      hnsw = make_hnsw(std::move(layout));
      flat.reset();
      return;
    }
    build = std::make_unique<Build>();
    Build* b = build.get();
    build->worker = std::thread(
        [b, codec = codec, params = config.hnsw, threads = build_threads(), snapshot = std::move(snapshot)]() mutable {
          try {
            auto layout = std::make_unique<HnswLayout>(codec, params, snapshot.size + snapshot.size / 4);
            insert_snapshot(*layout, snapshot, threads, &b->cancel);
            snapshot = Snapshot{};  // the copies and the mapping are not needed any more
            for (;;) {
              std::vector<LogOp> ops;
              {
                std::lock_guard lock(b->mutex);
                if (b->cancel.load() || b->log.size() <= kCatchUpOps) {
                  b->result = std::move(layout);
                  b->finished = true;
                  return;
                }
                ops.swap(b->log);
              }
              for (const LogOp& op : ops) apply(op, *layout);
            }
          } catch (...) {
            std::lock_guard lock(b->mutex);
            b->error = std::current_exception();
            b->finished = true;
          }
        });
  }

  void log_op(EntryId id, const std::byte* row) {
    {
      std::lock_guard lock(build->mutex);
      LogOp op{id, row == nullptr, {}};
      if (row) op.row.assign(row, row + codec.row_bytes());
      build->log.push_back(std::move(op));
      if (!build->finished) return;
    }
    complete_build();
  }

  void complete_build() {
    build->worker.join();
    std::unique_ptr<Build> b = std::move(build);
    if (b->error || !b->result || b->cancel.load()) {
      retry_at = flat->size() * 2;  // a failed build (e.g. out of memory) is not retried at once
      return;
    }
    b->result->set_ef_search(config.hnsw.ef_search);
    hnsw = make_hnsw(std::move(b->result));
    for (const LogOp& op : b->log) apply(op, *hnsw);
    flat.reset();
    if (hnsw->size() < low_water()) to_flat();
  }

  void cancel_build() {
    if (!build) return;
    build->cancel.store(true);
    if (build->worker.joinable()) build->worker.join();
    build.reset();
  }

  // ---- HNSW -> flat ----

  void to_flat() {
    auto layout = std::make_unique<FlatLayout>(codec);
    hnsw->for_each([&](EntryId id, const std::byte* row) { layout->upsert(id, row); });
    flat = std::move(layout);
    hnsw.reset();
  }
};

VectorIndex::VectorIndex(const IndexConfig& config, const IndexTuning& tuning)
    : impl_(std::make_unique<Impl>(config, tuning)) {}
VectorIndex::~VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;

void VectorIndex::add(EntryId id, std::span<const float> vector) {
  Impl& m = *impl_;
  m.check_dim(vector.size(), "the vector");
  if (id <= 0)
    throw InvalidArgument("VectorIndex: entry ids must be positive. Remediation: use ids assigned by the store.");
  m.codec.encode(vector, m.scratch.data());
  if (m.hnsw) {
    m.hnsw->upsert(id, m.scratch.data());
    return;
  }
  m.flat->upsert(id, m.scratch.data());
  if (m.build) m.log_op(id, m.scratch.data());
  else m.maybe_start_build();
}

void VectorIndex::add_batch(std::span<const EntryId> ids, std::span<const float> vectors) {
  Impl& m = *impl_;
  const std::size_t d = m.config.dim;
  if (vectors.size() != ids.size() * d) m.check_dim(ids.empty() ? 0 : vectors.size() / ids.size(), "a batch vector");
  for (EntryId id : ids)
    if (id <= 0)
      throw InvalidArgument("VectorIndex: entry ids must be positive. Remediation: use ids assigned by the store.");
  if (!m.hnsw) {
    for (std::size_t i = 0; i < ids.size(); ++i) add(ids[i], vectors.subspan(i * d, d));
    return;
  }
  // Present ids are updated one by one; new ones are inserted by several threads. A batch
  // that repeats a new id would race two inserters on one label, so the last copy wins.
  const std::size_t rb = m.codec.row_bytes();
  std::vector<std::size_t> fresh;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (m.hnsw->contains(ids[i])) {
      m.codec.encode(vectors.subspan(i * d, d), m.scratch.data());
      m.hnsw->upsert(ids[i], m.scratch.data());
    } else {
      fresh.push_back(i);
    }
  }
  std::stable_sort(fresh.begin(), fresh.end(), [&](std::size_t a, std::size_t b) { return ids[a] < ids[b]; });
  std::vector<EntryId> unique_ids;
  std::vector<std::byte> unique_rows;
  unique_ids.reserve(fresh.size());
  unique_rows.reserve(fresh.size() * rb);
  for (std::size_t j = 0; j < fresh.size(); ++j) {
    if (j + 1 < fresh.size() && ids[fresh[j + 1]] == ids[fresh[j]]) continue;
    unique_ids.push_back(ids[fresh[j]]);
    unique_rows.resize(unique_rows.size() + rb);
    m.codec.encode(vectors.subspan(fresh[j] * d, d), unique_rows.data() + unique_rows.size() - rb);
  }
  m.hnsw->insert_bulk(unique_ids, unique_rows.data(), m.build_threads());
}

bool VectorIndex::remove(EntryId id) {
  Impl& m = *impl_;
  if (m.hnsw) {
    if (!m.hnsw->remove(id)) return false;
    if (m.config.kind == IndexKind::kAuto && m.hnsw->size() < m.low_water()) m.to_flat();
    return true;
  }
  if (!m.flat->remove(id)) return false;
  if (m.build) {
    if (m.flat->size() < m.low_water()) m.cancel_build();
    else m.log_op(id, nullptr);
  }
  return true;
}

bool VectorIndex::contains(EntryId id) const {
  return impl_->hnsw ? impl_->hnsw->contains(id) : impl_->flat->contains(id);
}

std::vector<Candidate> VectorIndex::search(std::span<const float> query, std::size_t k) const {
  const Impl& m = *impl_;
  m.check_dim(query.size(), "the query");
  const std::vector<Scored> found =
      m.hnsw ? m.hnsw->search(query, k) : m.flat->search(query, k, m.config.search_threads);
  std::vector<Candidate> out;
  out.reserve(found.size());
  for (const Scored& s : found) out.push_back({s.id, s.score});
  return out;
}

std::optional<std::vector<float>> VectorIndex::stored_vector(EntryId id) const {
  const Impl& m = *impl_;
  std::vector<float> out(m.config.dim);
  if (m.hnsw) {
    const auto row = m.hnsw->row(id);
    if (!row) return std::nullopt;
    m.codec.decode(row->data(), out.data());
    return out;
  }
  const std::byte* row = m.flat->find(id);
  if (row == nullptr) return std::nullopt;
  m.codec.decode(row, out.data());
  return out;
}

void VectorIndex::set_ef_search(std::size_t ef) {
  Impl& m = *impl_;
  m.config.hnsw.ef_search = ef;
  if (m.hnsw) m.hnsw->set_ef_search(ef);  // a pending build picks it up in complete_build()
}

bool VectorIndex::build_pending() const { return impl_->build != nullptr; }

bool VectorIndex::build_ready() const {
  const Build* b = impl_->build.get();
  if (b == nullptr) return false;
  std::lock_guard lock(b->mutex);
  return b->finished;
}

void VectorIndex::finish_build() {
  if (impl_->build) impl_->complete_build();
}

std::size_t VectorIndex::unlinked() const { return impl_->hnsw ? impl_->hnsw->unlinked() : 0; }

void VectorIndex::wait_linked() const {
  if (impl_->hnsw) impl_->hnsw->wait_linked();
}

std::size_t VectorIndex::size() const { return impl_->size(); }
std::size_t VectorIndex::dim() const { return impl_->config.dim; }

std::size_t VectorIndex::memory_bytes() const {
  const Impl& m = *impl_;
  std::size_t bytes = sizeof(Impl) + m.scratch.capacity();
  if (m.flat) bytes += m.flat->memory_bytes();
  if (m.hnsw) bytes += m.hnsw->memory_bytes();
  return bytes;
}

bool VectorIndex::exact_scores() const { return impl_->config.element == ElementType::kF32; }

const char* VectorIndex::describe() const { return layout_name(impl_->hnsw != nullptr, impl_->config.element); }

IndexImage VectorIndex::image() const {
  const Impl& m = *impl_;
  IndexImage out;
  if (m.hnsw) {
    out.hnsw = true;
    out.count = m.hnsw->size();
    m.hnsw->serialize(out.graph, out.level0);
    return out;
  }
  const std::size_t rb = m.codec.row_bytes();
  out.count = m.flat->size();
  out.rows.reserve(out.count * rb);
  out.ids.reserve(out.count);
  m.flat->for_each([&](EntryId id, const std::byte* row) {
    out.rows.insert(out.rows.end(), row, row + rb);
    out.ids.push_back(id);
  });
  const auto slots = m.flat->id_slots();
  out.id_slots.assign(slots.begin(), slots.end());
  return out;
}

bool VectorIndex::restore(const IndexImageView& view, std::shared_ptr<const void> backing) {
  Impl& m = *impl_;
  m.cancel_build();
  m.hnsw.reset();
  m.flat.reset();
  m.retry_at = 0;
  auto empty = [&m] {
    if (m.config.kind == IndexKind::kHnsw) m.hnsw = m.make_hnsw(m.make_graph(0));
    else m.flat = std::make_unique<FlatLayout>(m.codec);
    return false;
  };
  if (view.hnsw) {
    if (m.config.kind == IndexKind::kFlat) return empty();
    auto layout = GraphWithTail::load(m.codec, m.config.hnsw, view.graph,
                                      {.bytes = view.level0, .fd = view.level0_fd, .offset = view.level0_offset});
    if (!layout || layout->size() != view.count) return empty();
    m.hnsw = std::move(layout);
    return true;
  }
  if (m.config.kind == IndexKind::kHnsw) return empty();
  auto layout = std::make_unique<FlatLayout>(m.codec);
  if (!layout->adopt(view.count, view.rows, view.ids, view.id_slots, std::move(backing))) return empty();
  m.flat = std::move(layout);
  return true;
}

std::uint64_t VectorIndex::id_digest() const {
  const Impl& m = *impl_;
  std::uint64_t digest = 0;
  if (m.hnsw) m.hnsw->for_each([&](EntryId id, const std::byte*) { digest += mix_id(id); });
  else m.flat->for_each_id([&](EntryId id) { digest += mix_id(id); });
  return digest;
}

std::size_t VectorIndex::row_bytes() const { return impl_->codec.row_bytes(); }

std::size_t VectorIndex::borrowed_chunks() const { return impl_->flat ? impl_->flat->borrowed_chunks() : 0; }

const char* VectorIndex::kernel_name() { return detail::to_string(detail::kernels().level); }

}  // namespace engram
