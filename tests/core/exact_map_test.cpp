// ExactMap: the exact layer's hash table, checked against std::map under random operations,
// including colliding home cells (backward-shift deletion) and slot stability.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "engram/detail/exact_map.hpp"
#include "engram/hash.hpp"

namespace engram::detail {
namespace {

// Hashes whose first eight bytes (the table hash) collide in the low bits, to force long
// probe runs and wrap-around.
QueryHash colliding(std::uint32_t n) {
  QueryHash h = hash_bytes(std::to_string(n));
  h.bytes[0] = static_cast<std::uint8_t>(n % 3);
  for (int i = 1; i < 8; ++i) h.bytes[static_cast<std::size_t>(i)] = 0xff;
  return h;
}

// Sets slot `number`'s id, as CacheState does after find_or_insert.
void set_id(ExactMap& map, std::uint32_t number, EntryId id) { map.writable_record(number).id = id; }

TEST(ExactMap, FindInsertErase) {
  ExactMap map;
  const QueryHash a = hash_bytes("a"), b = hash_bytes("b");
  EXPECT_FALSE(map.find(a));
  const std::uint32_t n = map.find_or_insert(a);
  set_id(map, n, 7);
  ASSERT_TRUE(map.find(a));
  EXPECT_EQ(map.find(a).number, n);
  EXPECT_EQ(map.find(a).record->id, 7);
  EXPECT_EQ(map.find_or_insert(a), n);
  EXPECT_EQ(map.size(), 1u);
  EXPECT_FALSE(map.erase(b));
  EXPECT_TRUE(map.erase(a));
  EXPECT_FALSE(map.find(a));
  EXPECT_EQ(map.size(), 0u);
}

TEST(ExactMap, MatchesAReferenceUnderRandomOperations) {
  for (bool collide : {false, true}) {
    ExactMap map;
    std::map<QueryHash, EntryId> reference;
    std::map<QueryHash, std::uint32_t> numbers;
    std::map<QueryHash, SlotAccess*> accesses;
    std::mt19937 rng(collide ? 7 : 11);
    for (int step = 0; step < 60000; ++step) {
      const auto n = static_cast<std::uint32_t>(rng() % 5000);
      const QueryHash h = collide ? colliding(n) : hash_bytes(std::to_string(n));
      if (rng() % 3 == 0) {
        EXPECT_EQ(map.erase(h), reference.erase(h) == 1);
        numbers.erase(h);
        accesses.erase(h);
      } else {
        const std::uint32_t number = map.find_or_insert(h);
        if (auto it = numbers.find(h); it != numbers.end()) {
          EXPECT_EQ(it->second, number);                       // a live entry keeps its slot number
          EXPECT_EQ(accesses.at(h), map.slot(number).access);  // and its access part never moves
        }
        set_id(map, number, static_cast<EntryId>(n) + 1);
        reference[h] = static_cast<EntryId>(n) + 1;
        numbers[h] = number;
        accesses[h] = map.slot(number).access;
      }
    }
    ASSERT_EQ(map.size(), reference.size());
    for (const auto& [h, id] : reference) {
      const SlotRef slot = map.find(h);
      ASSERT_TRUE(slot);
      EXPECT_EQ(slot.record->id, id);
      EXPECT_EQ(slot.number, numbers.at(h));
    }
    std::size_t visited = 0;
    map.for_each([&](const SlotRecord& record, std::uint32_t number) {
      ++visited;
      EXPECT_EQ(reference.at(record.hash), record.id);
      EXPECT_EQ(numbers.at(record.hash), number);
    });
    EXPECT_EQ(visited, reference.size());
  }
}

TEST(ExactMap, StaysNearSixtyFourBytesPerEntry) {
  ExactMap map;
  constexpr std::uint32_t kEntries = 100'000;
  for (std::uint32_t i = 0; i < kEntries; ++i) set_id(map, map.find_or_insert(hash_bytes(std::to_string(i))), i + 1);
  EXPECT_LE(map.memory_bytes() / kEntries, 72u);  // 40 + 16-byte slots + 4-byte cells at <= 70 % load
}

// A map saved as the sidecar saves it, in memory that stands for the sidecar's mapping.
struct SavedMap {
  std::vector<SlotRecord> records;  // 8-byte aligned, like a sidecar section
  std::vector<std::uint32_t> table, free_list;
  std::map<QueryHash, EntryId> entries;
};

SavedMap saved_map(std::uint32_t n_entries, std::uint32_t n_erased) {
  ExactMap map;
  SavedMap saved;
  for (std::uint32_t i = 0; i < n_entries; ++i) {
    const QueryHash h = hash_bytes("q" + std::to_string(i));
    set_id(map, map.find_or_insert(h), i + 1);
    saved.entries[h] = i + 1;
  }
  for (std::uint32_t i = 0; i < n_erased; ++i) {
    const QueryHash h = hash_bytes("q" + std::to_string(i * 7));
    map.erase(h);
    saved.entries.erase(h);
  }
  saved.records = map.slot_records();
  saved.table = map.table();
  saved.free_list = map.free_slots();
  return saved;
}

bool points_into(const std::vector<SlotRecord>& buffer, const SlotRecord* record) {
  return record >= buffer.data() && record < buffer.data() + buffer.size();
}

void expect_entries(const ExactMap& map, const std::map<QueryHash, EntryId>& entries) {
  ASSERT_EQ(map.size(), entries.size());
  for (const auto& [h, id] : entries) {
    const SlotRef slot = map.find(h);
    ASSERT_TRUE(slot);
    EXPECT_EQ(slot.record->id, id);
  }
}

TEST(ExactMap, ReadsRecordsInPlaceAndCopiesOnlyTheChunksItChanges) {
  // 2,500 slots: two full chunks of 1,024 and a short last one; 40 erased (on the free list).
  SavedMap saved = saved_map(2500, 40);
  const std::vector<SlotRecord> pristine = saved.records;
  auto backing = std::make_shared<int>(0);
  const std::weak_ptr<int> backing_alive = backing;
  ExactMap map;
  std::uint32_t generation = 0;
  ASSERT_TRUE(map.assign(reinterpret_cast<const std::byte*>(saved.records.data()), saved.records.size(), saved.table,
                         saved.free_list, &generation, std::move(backing)));
  expect_entries(map, saved.entries);
  EXPECT_EQ(generation, saved.entries.size());  // one generation per live slot
  std::size_t in_place = 0;
  map.for_each([&](const SlotRecord& record, std::uint32_t) { in_place += points_into(saved.records, &record); });
  EXPECT_EQ(in_place, saved.entries.size());
  // Only the access parts, the table and the free list are this process's memory.
  EXPECT_LT(map.memory_bytes(), saved.records.size() * sizeof(SlotRecord));

  // Changes land in copies: a new entry (reusing a free slot), an updated one and an erased one.
  const QueryHash added = hash_bytes("added"), updated = hash_bytes("q1"), erased = hash_bytes("q2");
  set_id(map, map.find_or_insert(added), 9999);
  map.writable_record(map.find(updated).number).expires_ms = 42;
  ASSERT_TRUE(map.erase(erased));
  saved.entries[added] = 9999;
  saved.entries.erase(erased);
  expect_entries(map, saved.entries);
  EXPECT_EQ(map.find(updated).record->expires_ms, 42);
  EXPECT_FALSE(points_into(saved.records, map.find(updated).record));
  EXPECT_EQ(std::memcmp(saved.records.data(), pristine.data(), pristine.size() * sizeof(SlotRecord)), 0)
      << "the mapped records must never be written";
  // Chunks nobody changed are still read in place.
  const std::uint32_t untouched = map.find(hash_bytes("q2400")).number;
  ASSERT_GE(untouched, 2048u);
  EXPECT_TRUE(points_into(saved.records, map.find(hash_bytes("q2400")).record));

  // Slots past the mapped ones (the short last chunk, then a new chunk) are written privately.
  for (std::uint32_t i = 0; i < 700; ++i) {
    const QueryHash h = hash_bytes("new" + std::to_string(i));
    set_id(map, map.find_or_insert(h), 100000 + i);
    saved.entries[h] = 100000 + i;
  }
  expect_entries(map, saved.entries);
  EXPECT_EQ(std::memcmp(saved.records.data(), pristine.data(), pristine.size() * sizeof(SlotRecord)), 0);

  EXPECT_FALSE(backing_alive.expired());
  map.clear();
  EXPECT_TRUE(backing_alive.expired()) << "clear() releases the mapping";
}

TEST(ExactMap, CopiesRecordsWithoutABackingOrWhenMisaligned) {
  const SavedMap saved = saved_map(1500, 10);
  std::vector<std::byte> shifted(saved.records.size() * sizeof(SlotRecord) + 1);
  std::memcpy(shifted.data() + 1, saved.records.data(), saved.records.size() * sizeof(SlotRecord));
  for (const bool misaligned : {false, true}) {
    ExactMap map;
    std::uint32_t generation = 0;
    const std::byte* records =
        misaligned ? shifted.data() + 1 : reinterpret_cast<const std::byte*>(saved.records.data());
    ASSERT_TRUE(map.assign(records, saved.records.size(), saved.table, saved.free_list, &generation,
                           misaligned ? std::make_shared<int>(0) : nullptr));
    expect_entries(map, saved.entries);
    map.for_each([&](const SlotRecord& record, std::uint32_t) {
      EXPECT_FALSE(points_into(saved.records, &record));
      EXPECT_FALSE(reinterpret_cast<const std::byte*>(&record) >= shifted.data() &&
                   reinterpret_cast<const std::byte*>(&record) < shifted.data() + shifted.size());
    });
  }
}

}  // namespace
}  // namespace engram::detail
