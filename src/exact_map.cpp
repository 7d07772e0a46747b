#include "engram/detail/exact_map.hpp"

#include <cstring>

namespace engram::detail {

std::size_t ExactMap::home(const QueryHash& hash) const {
  // XXH3 output is uniform: its first eight bytes are a fine table hash.
  std::uint64_t h;
  std::memcpy(&h, hash.bytes.data(), sizeof h);
  return static_cast<std::size_t>(h) & (table_.size() - 1);
}

Slot* ExactMap::find(const QueryHash& hash) const {
  if (table_.empty()) return nullptr;
  const std::size_t mask = table_.size() - 1;
  for (std::size_t i = home(hash);; i = (i + 1) & mask) {
    const std::uint32_t cell = table_[i];
    if (cell == kEmpty) return nullptr;
    Slot& slot = at(cell - 1);
    if (slot.hash == hash) return &slot;
  }
}

std::uint32_t ExactMap::new_slot() {
  if (!free_.empty()) {
    const std::uint32_t n = free_.back();
    free_.pop_back();
    return n;
  }
  if (used_ == chunks_.size() * kChunkSlots) chunks_.push_back(std::make_unique<Slot[]>(kChunkSlots));
  return static_cast<std::uint32_t>(used_++);
}

void ExactMap::grow_table() {
  std::vector<std::uint32_t> old = std::move(table_);
  table_.assign(old.empty() ? 64 : old.size() * 2, kEmpty);
  const std::size_t mask = table_.size() - 1;
  for (std::uint32_t cell : old) {
    if (cell == kEmpty) continue;
    std::size_t i = home(at(cell - 1).hash);
    while (table_[i] != kEmpty) i = (i + 1) & mask;
    table_[i] = cell;
  }
}

Slot& ExactMap::find_or_insert(const QueryHash& hash) {
  if (Slot* existing = find(hash)) return *existing;
  if ((size_ + 1) * 10 > table_.size() * 7) grow_table();  // keep the table <= 70 % full
  const std::uint32_t n = new_slot();
  Slot& slot = at(n);
  slot.hash = hash;
  slot.id = 0;
  slot.created_ms = slot.expires_ms = 0;
  slot.generation = 0;
  slot.last_access_ms.store(0, std::memory_order_relaxed);
  slot.pending_hits.store(0, std::memory_order_relaxed);
  const std::size_t mask = table_.size() - 1;
  std::size_t i = home(hash);
  while (table_[i] != kEmpty) i = (i + 1) & mask;
  table_[i] = n + 1;
  ++size_;
  return slot;
}

bool ExactMap::erase(const QueryHash& hash) {
  if (table_.empty()) return false;
  const std::size_t mask = table_.size() - 1;
  std::size_t i = home(hash);
  for (;; i = (i + 1) & mask) {
    if (table_[i] == kEmpty) return false;
    if (at(table_[i] - 1).hash == hash) break;
  }
  const std::uint32_t n = table_[i] - 1;
  at(n).id = 0;
  free_.push_back(n);
  --size_;
  // Backward-shift deletion: pull later cells of the same probe run into the hole so that
  // every remaining key stays reachable from its home without tombstones.
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask; table_[j] != kEmpty; j = (j + 1) & mask) {
    const std::size_t want = home(at(table_[j] - 1).hash);
    // Move j into the hole unless its home lies cyclically in (hole, j].
    const bool home_after_hole = hole <= j ? (want > hole && want <= j) : (want > hole || want <= j);
    if (!home_after_hole) {
      table_[hole] = table_[j];
      hole = j;
    }
  }
  table_[hole] = kEmpty;
  return true;
}

void ExactMap::clear() {
  chunks_.clear();
  table_.clear();
  free_.clear();
  used_ = size_ = 0;
}

std::size_t ExactMap::memory_bytes() const {
  return chunks_.size() * kChunkSlots * sizeof(Slot) + table_.capacity() * sizeof(std::uint32_t) +
         free_.capacity() * sizeof(std::uint32_t);
}

std::vector<ExactMap::SlotRecord> ExactMap::slot_records() const {
  std::vector<SlotRecord> out(used_);
  for (std::size_t n = 0; n < used_; ++n) {
    const Slot& slot = at(static_cast<std::uint32_t>(n));
    out[n] = SlotRecord{slot.hash, slot.id, slot.created_ms, slot.expires_ms};
  }
  return out;
}

bool ExactMap::assign(const std::byte* records, std::size_t used, std::span<const std::uint32_t> table,
                      std::span<const std::uint32_t> free_list, std::uint32_t* generation) {
  clear();
  if (used >= std::size_t{0xffffffffu} || (!table.empty() && (table.size() & (table.size() - 1)) != 0) ||
      free_list.size() > used)
    return false;
  const std::size_t live = used - free_list.size();
  if (live * 10 > table.size() * 7 || (live > 0 && table.empty())) return false;
  const std::size_t n_chunks = (used + kChunkSlots - 1) / kChunkSlots;
  chunks_.reserve(n_chunks);
  for (std::size_t c = 0; c < n_chunks; ++c) chunks_.push_back(std::make_unique<Slot[]>(kChunkSlots));
  used_ = used;
  // Which slots are live, and which a table cell or free-list entry has named: bitmaps (a
  // million slots take 128 KiB each, so the table pass below probes the cache, not the
  // 64 MiB of slots in random order).
  std::vector<bool> is_live(used, false), seen(used, false);
  std::size_t live_seen = 0;
  for (std::size_t n = 0; n < used; ++n) {
    SlotRecord rec;
    std::memcpy(&rec, records + n * sizeof(SlotRecord), sizeof rec);
    Slot& slot = at(static_cast<std::uint32_t>(n));
    slot.hash = rec.hash;
    slot.id = rec.id;
    slot.created_ms = rec.created_ms;
    slot.expires_ms = rec.expires_ms;
    if (rec.id < 0) {
      clear();
      return false;
    }
    if (rec.id != 0) {
      is_live[n] = true;
      ++live_seen;
      if (++*generation == 0) ++*generation;
      slot.generation = *generation;
    }
  }
  // Every cell names a distinct live slot; every free entry a distinct free one.
  std::size_t cells = 0;
  for (const std::uint32_t cell : table) {
    if (cell == kEmpty) continue;
    if (cell > used || seen[cell - 1] || !is_live[cell - 1]) {
      clear();
      return false;
    }
    seen[cell - 1] = true;
    ++cells;
  }
  for (const std::uint32_t n : free_list) {
    if (n >= used || seen[n] || is_live[n]) {
      clear();
      return false;
    }
    seen[n] = true;
  }
  if (cells != live_seen || live_seen != live) {
    clear();
    return false;
  }
  table_.assign(table.begin(), table.end());
  free_.assign(free_list.begin(), free_list.end());
  size_ = live;
  return true;
}

}  // namespace engram::detail
