#include "engram/detail/exact_map.hpp"

#include <algorithm>
#include <cstring>

namespace engram::detail {

std::size_t ExactMap::home(const QueryHash& hash) const {
  // XXH3 output is uniform: its first eight bytes are a fine table hash.
  std::uint64_t h;
  std::memcpy(&h, hash.bytes.data(), sizeof h);
  return static_cast<std::size_t>(h) & (table_.size() - 1);
}

SlotRef ExactMap::slot(std::uint32_t number) const {
  const Chunk& chunk = chunks_[number / kChunkSlots];
  return {&chunk.records[number % kChunkSlots], &chunk.access[number % kChunkSlots], number};
}

SlotRef ExactMap::find(const QueryHash& hash) const {
  if (table_.empty()) return {};
  const std::size_t mask = table_.size() - 1;
  for (std::size_t i = home(hash);; i = (i + 1) & mask) {
    const std::uint32_t cell = table_[i];
    if (cell == kEmpty) return {};
    if (record_at(cell - 1).hash == hash) return slot(cell - 1);
  }
}

void ExactMap::add_chunk(const SlotRecord* in_place, std::size_t in_place_count) {
  Chunk chunk;
  if (in_place != nullptr) {
    chunk.records = in_place;
    chunk.in_place = in_place_count;
  } else {
    chunk.owned = std::make_unique<SlotRecord[]>(kChunkSlots);
    chunk.records = chunk.owned.get();
  }
  chunk.access = std::make_unique<SlotAccess[]>(kChunkSlots);
  chunks_.push_back(std::move(chunk));
}

SlotRecord& ExactMap::writable_record(std::uint32_t number) {
  Chunk& chunk = chunks_[number / kChunkSlots];
  if (!chunk.owned) {
    chunk.owned = std::make_unique<SlotRecord[]>(kChunkSlots);
    std::copy_n(chunk.records, chunk.in_place, chunk.owned.get());
    chunk.records = chunk.owned.get();
    chunk.in_place = 0;
  }
  return chunk.owned[number % kChunkSlots];
}

std::uint32_t ExactMap::new_slot() {
  if (!free_.empty()) {
    const std::uint32_t n = free_.back();
    free_.pop_back();
    return n;
  }
  if (used_ == chunks_.size() * kChunkSlots) add_chunk(nullptr, 0);
  return static_cast<std::uint32_t>(used_++);
}

void ExactMap::grow_table() {
  std::vector<std::uint32_t> old = std::move(table_);
  table_.assign(old.empty() ? 64 : old.size() * 2, kEmpty);
  const std::size_t mask = table_.size() - 1;
  for (std::uint32_t cell : old) {
    if (cell == kEmpty) continue;
    std::size_t i = home(record_at(cell - 1).hash);
    while (table_[i] != kEmpty) i = (i + 1) & mask;
    table_[i] = cell;
  }
}

std::uint32_t ExactMap::find_or_insert(const QueryHash& hash) {
  if (const SlotRef existing = find(hash)) return existing.number;
  if ((size_ + 1) * 10 > table_.size() * 7) grow_table();  // keep the table <= 70 % full
  const std::uint32_t n = new_slot();
  writable_record(n) = SlotRecord{hash, 0, 0, 0};
  SlotAccess& access = *slot(n).access;
  access.generation = 0;
  access.last_access_ms.store(0, std::memory_order_relaxed);
  access.pending_hits.store(0, std::memory_order_relaxed);
  const std::size_t mask = table_.size() - 1;
  std::size_t i = home(hash);
  while (table_[i] != kEmpty) i = (i + 1) & mask;
  table_[i] = n + 1;
  ++size_;
  return n;
}

bool ExactMap::erase(const QueryHash& hash) {
  if (table_.empty()) return false;
  const std::size_t mask = table_.size() - 1;
  std::size_t i = home(hash);
  for (;; i = (i + 1) & mask) {
    if (table_[i] == kEmpty) return false;
    if (record_at(table_[i] - 1).hash == hash) break;
  }
  const std::uint32_t n = table_[i] - 1;
  writable_record(n).id = 0;
  free_.push_back(n);
  --size_;
  // Backward-shift deletion: pull later cells of the same probe run into the hole so that
  // every remaining key stays reachable from its home without tombstones.
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask; table_[j] != kEmpty; j = (j + 1) & mask) {
    const std::size_t want = home(record_at(table_[j] - 1).hash);
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
  backing_.reset();
  table_.clear();
  free_.clear();
  used_ = size_ = 0;
}

std::size_t ExactMap::memory_bytes() const {
  std::size_t bytes = table_.capacity() * sizeof(std::uint32_t) + free_.capacity() * sizeof(std::uint32_t);
  for (const Chunk& chunk : chunks_)
    bytes += kChunkSlots * sizeof(SlotAccess) + (chunk.owned ? kChunkSlots * sizeof(SlotRecord) : 0);
  return bytes;
}

std::vector<SlotRecord> ExactMap::slot_records() const {
  std::vector<SlotRecord> out(used_);
  for (std::size_t n = 0; n < used_; ++n) out[n] = record_at(static_cast<std::uint32_t>(n));
  return out;
}

bool ExactMap::assign(const std::byte* records, std::size_t used, std::span<const std::uint32_t> table,
                      std::span<const std::uint32_t> free_list, std::uint32_t* generation,
                      std::shared_ptr<const void> backing) {
  clear();
  if (used >= std::size_t{0xffffffffu} || (!table.empty() && (table.size() & (table.size() - 1)) != 0) ||
      free_list.size() > used)
    return false;
  const std::size_t live = used - free_list.size();
  if (live * 10 > table.size() * 7 || (live > 0 && table.empty())) return false;
  const bool in_place = backing != nullptr && reinterpret_cast<std::uintptr_t>(records) % alignof(SlotRecord) == 0;
  chunks_.reserve((used + kChunkSlots - 1) / kChunkSlots);
  for (std::size_t first = 0; first < used; first += kChunkSlots) {
    const std::size_t count = std::min(kChunkSlots, used - first);
    if (in_place) {
      add_chunk(reinterpret_cast<const SlotRecord*>(records) + first, count);
    } else {
      add_chunk(nullptr, 0);
      std::memcpy(chunks_.back().owned.get(), records + first * sizeof(SlotRecord), count * sizeof(SlotRecord));
    }
  }
  if (in_place) backing_ = std::move(backing);
  used_ = used;
  // Which slots are live, and which a table cell or free-list entry has named: bitmaps (a
  // million slots take 128 KiB each, so the table pass below probes the cache, not the
  // 40 MiB of records in random order).
  std::vector<bool> is_live(used, false), seen(used, false);
  std::size_t live_seen = 0;
  for (std::size_t n = 0; n < used; ++n) {
    const SlotRef s = slot(static_cast<std::uint32_t>(n));
    if (s.record->id < 0) {
      clear();
      return false;
    }
    if (s.record->id != 0) {
      is_live[n] = true;
      ++live_seen;
      if (++*generation == 0) ++*generation;
      s.access->generation = *generation;
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
