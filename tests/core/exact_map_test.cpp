// ExactMap: the exact layer's hash table, checked against std::map under random operations,
// including colliding home cells (backward-shift deletion) and slot stability.
#include <gtest/gtest.h>

#include <map>
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

TEST(ExactMap, FindInsertErase) {
  ExactMap map;
  const QueryHash a = hash_bytes("a"), b = hash_bytes("b");
  EXPECT_EQ(map.find(a), nullptr);
  Slot& slot = map.find_or_insert(a);
  slot.id = 7;
  EXPECT_EQ(map.find(a), &slot);
  EXPECT_EQ(&map.find_or_insert(a), &slot);
  EXPECT_EQ(map.size(), 1u);
  EXPECT_FALSE(map.erase(b));
  EXPECT_TRUE(map.erase(a));
  EXPECT_EQ(map.find(a), nullptr);
  EXPECT_EQ(map.size(), 0u);
}

TEST(ExactMap, MatchesAReferenceUnderRandomOperations) {
  for (bool collide : {false, true}) {
    ExactMap map;
    std::map<QueryHash, EntryId> reference;
    std::map<QueryHash, Slot*> addresses;
    std::mt19937 rng(collide ? 7 : 11);
    for (int step = 0; step < 60000; ++step) {
      const auto n = static_cast<std::uint32_t>(rng() % 5000);
      const QueryHash h = collide ? colliding(n) : hash_bytes(std::to_string(n));
      if (rng() % 3 == 0) {
        EXPECT_EQ(map.erase(h), reference.erase(h) == 1);
        addresses.erase(h);
      } else {
        Slot& slot = map.find_or_insert(h);
        if (auto it = addresses.find(h); it != addresses.end()) {
          EXPECT_EQ(it->second, &slot);  // slots never move
        }
        slot.id = static_cast<EntryId>(n) + 1;
        reference[h] = slot.id;
        addresses[h] = &slot;
      }
    }
    ASSERT_EQ(map.size(), reference.size());
    for (const auto& [h, id] : reference) {
      const Slot* slot = map.find(h);
      ASSERT_NE(slot, nullptr);
      EXPECT_EQ(slot->id, id);
    }
    std::size_t visited = 0;
    map.for_each([&](const Slot& s) {
      ++visited;
      EXPECT_EQ(reference.at(s.hash), s.id);
    });
    EXPECT_EQ(visited, reference.size());
  }
}

TEST(ExactMap, StaysNearSixtyFourBytesPerEntry) {
  ExactMap map;
  constexpr std::uint32_t kEntries = 100'000;
  for (std::uint32_t i = 0; i < kEntries; ++i) map.find_or_insert(hash_bytes(std::to_string(i))).id = i + 1;
  EXPECT_LE(map.memory_bytes() / kEntries, 72u);  // 56-byte slots + 4-byte cells at <= 70 % load
}

}  // namespace
}  // namespace engram::detail
