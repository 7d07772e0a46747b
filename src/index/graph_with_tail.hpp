#pragma once
// The HNSW state of one namespace: an HnswLayout (the graph) plus a flat tail of rows that are
// not linked into the graph yet, and a background linker that moves them into it.
//
// Why: linking one row into a 100k-row graph costs 0.1-0.5 ms of distance computations (about
// ef_construction * M of them), five to ten times what the rest of a put costs. A put (or a
// reader applying another process's puts from the change feed) only appends its row to the
// tail — microseconds — and the linker thread does the graph work on another core. Searches
// see both: the graph (approximate) and an exact scan of the tail, so a row is findable from
// the moment upsert() returns. Under a sustained write rate above what one core can link, the
// tail grows and searches degrade towards a flat scan, never stall a writer.
//
// Invariant: an id is in the graph or in the tail, never both. upsert() of an id in the graph
// unlinks it there (hnswlib markDelete, cheap) and puts the new row in the tail; the linker
// moves one row at a time from tail to graph under the exclusive lock.
//
// Thread safety: the same contract as VectorIndex — const members may run concurrently with
// each other, the others need the caller's exclusive access — and, inside, a reader/writer
// lock between the caller's threads and the linker. Searches hold it shared; the linker holds
// it exclusively for one row's link at a time and yields between rows, so a search waits at
// most for one link. An upsert that arrives during a link does not wait for it: the row is
// handed to the linker, which applies it before it releases the lock, so whoever takes the
// lock next (a search, a remove, the next upsert) finds it in place. That keeps a put, or a
// reader applying another process's puts while every get of its cache waits, from paying
// 0.1-2 ms per row for links that have nothing to do with it.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "codec.hpp"
#include "flat_layout.hpp"
#include "hnsw_layout.hpp"
#include "topk.hpp"

namespace engram::detail {

class GraphWithTail {
 public:
  GraphWithTail(const Codec& codec, std::unique_ptr<HnswLayout> graph);
  ~GraphWithTail();  // stops the linker; unlinked rows are dropped with the object
  GraphWithTail(const GraphWithTail&) = delete;
  GraphWithTail& operator=(const GraphWithTail&) = delete;

  std::size_t size() const;
  bool contains(EntryId id) const;
  // A copy of the stored row of `id` (the linker may move it while the caller reads).
  std::optional<std::vector<std::byte>> row(EntryId id) const;

  // Adds `id` or replaces its row; returns without touching the graph.
  void upsert(EntryId id, const std::byte* row);
  bool remove(EntryId id);
  // Links ids that are present nowhere (precondition) straight into the graph with `threads`
  // inserters: the bulk path of a rebuild, where waiting is expected.
  void insert_bulk(std::span<const EntryId> ids, const std::byte* rows, std::size_t threads);

  std::vector<Scored> search(std::span<const float> query, std::size_t k) const;
  // Visits every (id, row), graph first; the rows stay valid only during the call.
  void for_each(const std::function<void(EntryId, const std::byte*)>& f) const;

  // Rows waiting in the tail.
  std::size_t unlinked() const;
  // Blocks until the tail is empty and a loaded graph checked (or the linker has given up on
  // an error).
  void wait_linked() const;

  std::size_t memory_bytes() const;
  void set_ef_search(std::size_t ef);

  // ---- persistence (the sidecar) ----
  // Appends the graph and the tail to `out` ([u64 graph bytes][HnswLayout::serialize][u64 n]
  // [ids][rows]) and the graph's level 0 to `level0` (see HnswLayout).
  void serialize(std::vector<std::byte>& out, std::vector<std::byte>& level0) const;
  // nullptr when `in` and `level0` are not serialize()'s output for this codec and M. The
  // graph's level 0 is checked after the load, by the linker thread, a slice at a time;
  // searches scan the graph's rows exactly until then, and a graph that fails the check is
  // dropped: its rows go to the tail, to be linked again.
  static std::unique_ptr<GraphWithTail> load(const Codec& codec, const HnswParams& params,
                                             std::span<const std::byte> in, const HnswLayout::Level0Source& level0);

 private:
  // The exclusive lock for the caller's writes, counted in writers_waiting_ while it waits.
  std::unique_lock<std::shared_mutex> lock_for_write();
  // upsert() under the exclusive lock.
  void upsert_locked(EntryId id, const std::byte* row);
  // The linker, still holding the exclusive lock after a link: applies the upserts deferred
  // meanwhile, in arrival order, and stops deferring.
  void end_link_locked();
  void start_linker_locked();
  void link_loop();
  void check_graph(std::unique_lock<std::shared_mutex>& lock);

  Codec codec_;
  std::unique_ptr<HnswLayout> graph_;
  FlatLayout tail_;
  std::deque<EntryId> order_;  // tail ids, oldest first; may hold ids since removed or re-added

  mutable std::shared_mutex mutex_;           // graph_, tail_, order_, stop_, failed_
  mutable std::condition_variable_any wake_;  // the linker: rows to link, or stop
  mutable std::condition_variable_any idle_;  // wait_linked(): the tail emptied
  std::atomic<int> writers_waiting_{0};       // callers waiting for the exclusive lock
  // Upserts that came while the linker held mutex_ for a link (linking_), in arrival order.
  std::mutex deferred_mu_;  // linking_, deferred_
  bool linking_ = false;
  std::vector<std::pair<EntryId, std::vector<std::byte>>> deferred_;
  bool stop_ = false;
  bool failed_ = false;  // linking threw (out of memory): rows stay in the tail, still searched
  std::thread linker_;
};

}  // namespace engram::detail
