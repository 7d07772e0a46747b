#pragma once
// Top-k by partial selection: a k-element heap whose front is the worst kept candidate, so a
// scan pays one float comparison per row and touches the heap only for rows that beat it.
// Order: higher score first, ties broken by lower id (deterministic across layouts/threads).

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "engram/types.hpp"

namespace engram::detail {

struct Scored {
  float score;
  EntryId id;
};

inline bool better(const Scored& a, const Scored& b) noexcept {
  return a.score != b.score ? a.score > b.score : a.id < b.id;
}

class TopK {
 public:
  explicit TopK(std::size_t k) : k_(k) { heap_.reserve(k); }

  // Scores strictly below floor() can never enter; scan loops test this first.
  float floor() const noexcept {
    return heap_.size() < k_ ? -std::numeric_limits<float>::infinity() : heap_.front().score;
  }

  void push(float score, EntryId id) {
    if (k_ == 0) return;
    const Scored s{score, id};
    if (heap_.size() < k_) {
      heap_.push_back(s);
      std::push_heap(heap_.begin(), heap_.end(), better);
      return;
    }
    if (!better(s, heap_.front())) return;
    std::pop_heap(heap_.begin(), heap_.end(), better);
    heap_.back() = s;
    std::push_heap(heap_.begin(), heap_.end(), better);
  }

  // Best first; leaves the TopK empty.
  std::vector<Scored> take_sorted() {
    std::sort(heap_.begin(), heap_.end(), better);
    return std::move(heap_);
  }

 private:
  std::size_t k_;
  std::vector<Scored> heap_;
};

}  // namespace engram::detail
