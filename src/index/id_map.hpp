#pragma once
// EntryId -> row index, open addressing with linear probing. A slot holds only the 32-bit row
// index; the key is read back through a caller-supplied key_of(row) (the layout's id array),
// so the map costs 4 bytes per slot (<= ~11 bytes per entry at the load factors below) instead
// of the ~40 bytes of a node-based std::unordered_map. Erase uses backward shifting, so there
// are no tombstones. Not thread-safe for writers; concurrent const lookups are fine.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engram/types.hpp"

namespace engram::detail {

class IdMap {
 public:
  static constexpr std::uint32_t kEmpty = 0xffffffffu;

  std::size_t size() const noexcept { return count_; }
  std::size_t memory_bytes() const noexcept { return slots_.capacity() * sizeof(std::uint32_t); }
  void clear() noexcept {
    slots_.clear();
    slots_.shrink_to_fit();
    count_ = 0;
    mask_ = 0;
  }

  // Index of the slot holding `id`, or npos.
  template <class KeyOf>
  std::size_t find(EntryId id, KeyOf&& key_of) const noexcept {
    if (count_ == 0) return npos;
    for (std::size_t i = home(id);; i = (i + 1) & mask_) {
      const std::uint32_t row = slots_[i];
      if (row == kEmpty) return npos;
      if (key_of(row) == id) return i;
    }
  }
  std::uint32_t row_at(std::size_t slot) const noexcept { return slots_[slot]; }
  std::span<const std::uint32_t> slots() const noexcept { return slots_; }
  // Takes a probe table written by slots() (the sidecar). Returns false (and stays empty) when
  // it cannot be one: a size that is not a power of two, more than 3/4 full, a row >= rows, or
  // a count of used slots other than `rows`.
  bool assign(std::span<const std::uint32_t> slots, std::size_t rows) {
    clear();
    if (slots.empty()) return rows == 0;
    if ((slots.size() & (slots.size() - 1)) != 0 || rows * 4 > slots.size() * 3) return false;
    std::size_t used = 0;
    for (const std::uint32_t row : slots) {
      if (row == kEmpty) continue;
      if (row >= rows) return false;
      ++used;
    }
    if (used != rows) return false;
    slots_.assign(slots.begin(), slots.end());
    count_ = rows;
    mask_ = slots.size() - 1;
    return true;
  }
  void set_row(std::size_t slot, std::uint32_t row) noexcept { slots_[slot] = row; }

  // Precondition: `id` is absent and key_of(row) == id.
  template <class KeyOf>
  void insert(EntryId id, std::uint32_t row, KeyOf&& key_of) {
    if ((count_ + 1) * 4 > slots_.size() * 3) rehash(slots_.empty() ? 16 : slots_.size() * 2, key_of);
    std::size_t i = home(id);
    while (slots_[i] != kEmpty) i = (i + 1) & mask_;
    slots_[i] = row;
    ++count_;
  }

  template <class KeyOf>
  void erase_slot(std::size_t slot, KeyOf&& key_of) {
    std::size_t hole = slot;
    for (std::size_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
      const std::uint32_t row = slots_[j];
      if (row == kEmpty) break;
      const std::size_t h = home(key_of(row));
      // Move row back into the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!stays) {
        slots_[hole] = row;
        hole = j;
      }
    }
    slots_[hole] = kEmpty;
    --count_;
    if (slots_.size() > 64 && count_ * 8 < slots_.size()) rehash(slots_.size() / 2, key_of);
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 private:
  std::size_t home(EntryId id) const noexcept {
    std::uint64_t x = static_cast<std::uint64_t>(id);  // splitmix64 finalizer
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return static_cast<std::size_t>(x) & mask_;
  }

  template <class KeyOf>
  void rehash(std::size_t capacity, KeyOf& key_of) {
    std::vector<std::uint32_t> old(capacity, kEmpty);
    old.swap(slots_);
    mask_ = capacity - 1;
    for (std::uint32_t row : old) {
      if (row == kEmpty) continue;
      std::size_t i = home(key_of(row));
      while (slots_[i] != kEmpty) i = (i + 1) & mask_;
      slots_[i] = row;
    }
  }

  std::vector<std::uint32_t> slots_;
  std::size_t count_ = 0;
  std::size_t mask_ = 0;
};

}  // namespace engram::detail
