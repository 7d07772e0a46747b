#pragma once
// Internal: the exact layer of one namespace, query hash -> Slot, in about 64 bytes per entry.
//
// Slots live in fixed-size chunks that never move, so a Slot& stays valid until that entry
// is erased (the id map and concurrent readers rely on it). Erased slots go on a free list
// and are reused by later inserts. Lookup goes through an open-addressing table of 32-bit
// slot numbers (linear probing, backward-shift deletion, no tombstones) kept at most 70 %
// full, so a lookup is one probe into the table and one into the chunk in the common case.
//
// Thread safety: find() and for_each() may run concurrently with each other; find_or_insert()
// and erase() need exclusive access. A Slot's atomics may be updated under shared access.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engram/types.hpp"

namespace engram::detail {

struct Slot {
  QueryHash hash{};
  EntryId id = 0;  // 0: the slot is free
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;  // kNever when the entry has no TTL
  // Accesses not yet written back to the store.
  std::atomic<std::int64_t> last_access_ms{0};
  std::atomic<std::uint32_t> pending_hits{0};
  std::uint32_t generation = 0;  // see CacheState::generation(); fills what was padding
};

class ExactMap {
 public:
  ExactMap() = default;
  ExactMap(const ExactMap&) = delete;
  ExactMap& operator=(const ExactMap&) = delete;

  // The slot holding `hash`, or nullptr.
  Slot* find(const QueryHash& hash) const;
  // The slot holding `hash`, created (id 0, everything else zero) when missing.
  Slot& find_or_insert(const QueryHash& hash);
  // Frees the slot of `hash`; false when there was none.
  bool erase(const QueryHash& hash);
  void clear();

  std::size_t size() const { return size_; }
  // Chunks, free slots and the probe table.
  std::size_t memory_bytes() const;

  // ---- persistence (the sidecar) ----
  // A slot as the sidecar stores it: 40 bytes, no atomics.
  struct SlotRecord {
    QueryHash hash;
    EntryId id = 0;  // 0: a free slot
    std::int64_t created_ms = 0;
    std::int64_t expires_ms = 0;
  };
  static_assert(sizeof(SlotRecord) == 40);
  // Slots ever handed out (live and free), in slot-number order; the probe table; the free list.
  std::vector<SlotRecord> slot_records() const;
  const std::vector<std::uint32_t>& table() const noexcept { return table_; }
  const std::vector<std::uint32_t>& free_slots() const noexcept { return free_; }
  // Replaces the contents with records/table/free list written by the three calls above
  // (records may be unaligned: they are read with memcpy). Each live slot gets a generation
  // from ++*generation (never 0). Returns false, leaving the map empty, when they do not fit
  // together (a table that is not a power of two or over 70 % full, a cell naming a free or
  // missing slot or the same slot twice, a free-list entry naming a live slot, counts that do
  // not add up).
  bool assign(const std::byte* records, std::size_t used, std::span<const std::uint32_t> table,
              std::span<const std::uint32_t> free_list, std::uint32_t* generation);

  // Calls fn(Slot&) for every live slot.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t n = 0; n < used_; ++n) {
      Slot& slot = at(static_cast<std::uint32_t>(n));
      if (slot.id != 0) fn(slot);
    }
  }

 private:
  static constexpr std::size_t kChunkSlots = 1024;
  static constexpr std::uint32_t kEmpty = 0;  // table cells hold slot number + 1

  Slot& at(std::uint32_t n) const { return chunks_[n / kChunkSlots][n % kChunkSlots]; }
  std::size_t home(const QueryHash& hash) const;
  std::uint32_t new_slot();
  void grow_table();

  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::vector<std::uint32_t> table_;  // power-of-two size
  std::vector<std::uint32_t> free_;   // slot numbers of erased slots
  std::size_t used_ = 0;              // slots ever handed out (live + free)
  std::size_t size_ = 0;              // live slots
};

}  // namespace engram::detail
