#pragma once
// Internal: the exact layer of one namespace, query hash -> slot, in about 60 bytes per entry.
//
// A slot has two parts. Its SlotRecord (hash, id, times: 40 bytes) is what the sidecar stores,
// and after a sidecar open it is read in place from the sidecar's mapping, so that every
// process opening the same file shares those pages; a chunk of records is copied into this
// process's memory only when one of them changes. Its SlotAccess (access time, pending hits,
// generation: 16 bytes) changes on every hit and is always private.
//
// Slots live in chunks of kChunkSlots; erased slots go on a free list and are reused by later
// inserts, so a slot's number never changes while its entry lives (the id map stores numbers).
// Lookup goes through an open-addressing table of 32-bit slot numbers (linear probing,
// backward-shift deletion, no tombstones) kept at most 70 % full: one probe into the table
// and one into a chunk in the common case.
//
// Thread safety: the const members may run concurrently with each other; the others need
// exclusive access. A SlotRef stays valid until the next non-const call. A SlotAccess never
// moves, and its atomics may be updated under shared access.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engram/types.hpp"

namespace engram::detail {

// The part of a slot the sidecar stores (its format: 40 bytes, no padding, no atomics).
struct SlotRecord {
  QueryHash hash;
  EntryId id = 0;  // 0: the slot is free
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;  // kNever when the entry has no TTL
};
static_assert(sizeof(SlotRecord) == 40 && alignof(SlotRecord) == 8);

// The part of a slot only this process changes.
struct SlotAccess {
  // Accesses not yet written back to the store.
  std::atomic<std::int64_t> last_access_ms{0};
  std::atomic<std::uint32_t> pending_hits{0};
  std::uint32_t generation = 0;  // see CacheState::generation()
};

// One slot, both parts; null when there is none.
struct SlotRef {
  const SlotRecord* record = nullptr;
  SlotAccess* access = nullptr;
  std::uint32_t number = 0;
  explicit operator bool() const noexcept { return record != nullptr; }
};

class ExactMap {
 public:
  ExactMap() = default;
  ExactMap(const ExactMap&) = delete;
  ExactMap& operator=(const ExactMap&) = delete;

  // The slot holding `hash`, or a null ref.
  SlotRef find(const QueryHash& hash) const;
  // Slot `number` (one that find_or_insert or for_each returned, its entry still live).
  SlotRef slot(std::uint32_t number) const;
  // The number of the slot holding `hash`, created (id 0, times and access zero) when missing.
  std::uint32_t find_or_insert(const QueryHash& hash);
  // Slot `number`'s record, to change: a record read in place is first copied (its chunk).
  SlotRecord& writable_record(std::uint32_t number);
  // Frees the slot of `hash`; false when there was none.
  bool erase(const QueryHash& hash);
  void clear();

  std::size_t size() const { return size_; }
  // This process's memory: records it owns, access parts, free list and probe table.
  std::size_t memory_bytes() const;

  // ---- persistence (the sidecar) ----
  // Slots ever handed out (live and free), in slot-number order; the probe table; the free list.
  std::vector<SlotRecord> slot_records() const;
  const std::vector<std::uint32_t>& table() const noexcept { return table_; }
  const std::vector<std::uint32_t>& free_slots() const noexcept { return free_; }
  // Replaces the contents with `used` records, the table and the free list written by the
  // three calls above. The records are read in place while `backing` is held (it keeps them
  // mapped; null: they are copied, as they are when not 8-byte aligned). Each live slot gets a
  // generation from ++*generation (never 0). Returns false, leaving the map empty, when they do
  // not fit together (a table that is not a power of two or over 70 % full, a cell naming a
  // free or missing slot or the same slot twice, a free-list entry naming a live slot, a
  // negative id, counts that do not add up).
  bool assign(const std::byte* records, std::size_t used, std::span<const std::uint32_t> table,
              std::span<const std::uint32_t> free_list, std::uint32_t* generation,
              std::shared_ptr<const void> backing = nullptr);

  // Calls fn(const SlotRecord&, slot number) for every live slot.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t n = 0; n < used_; ++n) {
      const SlotRecord& record = record_at(static_cast<std::uint32_t>(n));
      if (record.id != 0) fn(record, static_cast<std::uint32_t>(n));
    }
  }

 private:
  static constexpr std::size_t kChunkSlots = 1024;
  static constexpr std::uint32_t kEmpty = 0;  // table cells hold slot number + 1

  struct Chunk {
    const SlotRecord* records = nullptr;   // kChunkSlots records: `owned`, or in the backing mapping
    std::unique_ptr<SlotRecord[]> owned;   // null while the records are read in place
    std::size_t in_place = 0;              // records valid in the mapping (the last chunk may be short)
    std::unique_ptr<SlotAccess[]> access;  // kChunkSlots, never moves
  };

  const SlotRecord& record_at(std::uint32_t n) const { return chunks_[n / kChunkSlots].records[n % kChunkSlots]; }
  std::size_t home(const QueryHash& hash) const;
  std::uint32_t new_slot();
  void add_chunk(const SlotRecord* in_place, std::size_t in_place_count);
  void grow_table();

  std::vector<Chunk> chunks_;
  std::shared_ptr<const void> backing_;  // keeps records read in place mapped
  std::vector<std::uint32_t> table_;     // power-of-two size
  std::vector<std::uint32_t> free_;      // slot numbers of erased slots
  std::size_t used_ = 0;                 // slots ever handed out (live + free)
  std::size_t size_ = 0;                 // live slots
};

}  // namespace engram::detail
