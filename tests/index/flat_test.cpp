// The flat layout through VectorIndex: brute-force agreement, swap-remove, upserts, threaded
// scans, quantized score accuracy and the memory budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "engram/errors.hpp"
#include "engram/index/vector_index.hpp"
#include "test_data.hpp"

namespace engram {
namespace {

using test::dot;
using test::random_unit_vectors;

std::span<const float> row(const std::vector<float>& data, std::size_t i, std::size_t d) {
  return std::span<const float>(data).subspan(i * d, d);
}

// Exact top-k by double-precision dot over the rows whose id is in `live` (ids are i + 1).
std::vector<std::pair<double, EntryId>> brute_force(const std::vector<float>& data, std::size_t d,
                                                    const std::vector<bool>& live, std::span<const float> q,
                                                    std::size_t k) {
  std::vector<std::pair<double, EntryId>> all;
  for (std::size_t i = 0; i < live.size(); ++i)
    if (live[i]) all.emplace_back(dot(row(data, i, d), q), static_cast<EntryId>(i + 1));
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first > b.first; });
  all.resize(std::min(k, all.size()));
  return all;
}

IndexConfig flat_config(std::size_t d, ElementType e, std::size_t threads = 1) {
  return IndexConfig{d, IndexKind::kFlat, e, HnswParams{}, threads};
}

class FlatTest : public testing::TestWithParam<ElementType> {};

TEST_P(FlatTest, TopKAgreesWithBruteForce) {
  const std::size_t n = 3000, d = 67, k = 5;
  const auto data = random_unit_vectors(n, d, 7);
  const auto queries = random_unit_vectors(50, d, 8);
  VectorIndex index(flat_config(d, GetParam()));
  for (std::size_t i = 0; i < n; ++i) index.add(static_cast<EntryId>(i + 1), row(data, i, d));
  ASSERT_EQ(index.size(), n);
  EXPECT_EQ(index.exact_scores(), GetParam() == ElementType::kF32);
  const double score_tol = GetParam() == ElementType::kF32 ? 1e-5 : GetParam() == ElementType::kF16 ? 2e-3 : 2e-2;
  const std::vector<bool> live(n, true);
  for (std::size_t qi = 0; qi < 50; ++qi) {
    const auto q = row(queries, qi, d);
    const auto got = index.search(q, k);
    const auto want = brute_force(data, d, live, q, k);
    ASSERT_EQ(got.size(), k);
    for (std::size_t j = 0; j < k; ++j) {
      // Every reported score is close to the exact dot of the id it names...
      EXPECT_NEAR(got[j].score, dot(row(data, static_cast<std::size_t>(got[j].id - 1), d), q), score_tol);
      if (j > 0) {
        EXPECT_GE(got[j - 1].score, got[j].score);
      }
    }
    if (GetParam() == ElementType::kF32) {
      for (std::size_t j = 0; j < k; ++j) EXPECT_EQ(got[j].id, want[j].second);
    } else {
      // ...and the true best is never far from the best reported.
      EXPECT_GE(dot(row(data, static_cast<std::size_t>(got[0].id - 1), d), q), want[0].first - 2 * score_tol);
    }
  }
}

TEST_P(FlatTest, RemoveSwapsLastRowAndReAddWorks) {
  const std::size_t n = 2500, d = 33;
  const auto data = random_unit_vectors(n, d, 11);
  VectorIndex index(flat_config(d, GetParam()));
  for (std::size_t i = 0; i < n; ++i) index.add(static_cast<EntryId>(i + 1), row(data, i, d));
  std::vector<bool> live(n, true);
  std::mt19937_64 rng(3);
  for (std::size_t r = 0; r < n / 2; ++r) {
    const std::size_t i = rng() % n;
    EXPECT_EQ(index.remove(static_cast<EntryId>(i + 1)), live[i]);
    live[i] = false;
  }
  EXPECT_FALSE(index.remove(static_cast<EntryId>(n + 100)));
  const auto alive = static_cast<std::size_t>(std::count(live.begin(), live.end(), true));
  ASSERT_EQ(index.size(), alive);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(index.contains(static_cast<EntryId>(i + 1)), live[i]) << i;
    const auto got = index.search(row(data, i, d), 1);
    ASSERT_EQ(got.size(), 1u);
    if (live[i]) {
      EXPECT_EQ(got[0].id, static_cast<EntryId>(i + 1));
    } else {
      EXPECT_NE(got[0].id, static_cast<EntryId>(i + 1));
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!live[i]) index.add(static_cast<EntryId>(i + 1), row(data, i, d));
  ASSERT_EQ(index.size(), n);
  for (std::size_t i = 0; i < n; i += 7) EXPECT_EQ(index.search(row(data, i, d), 1)[0].id, static_cast<EntryId>(i + 1));
  // Remove everything, then the index is empty and still usable.
  for (std::size_t i = 0; i < n; ++i) ASSERT_TRUE(index.remove(static_cast<EntryId>(i + 1)));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_TRUE(index.search(row(data, 0, d), 3).empty());
  index.add(5, row(data, 4, d));
  EXPECT_EQ(index.search(row(data, 4, d), 3).size(), 1u);
}

TEST_P(FlatTest, AddReplacesExistingVector) {
  const std::size_t d = 16;
  const auto data = random_unit_vectors(3, d, 5);
  VectorIndex index(flat_config(d, GetParam()));
  index.add(1, row(data, 0, d));
  index.add(2, row(data, 1, d));
  index.add(1, row(data, 2, d));
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.search(row(data, 2, d), 1)[0].id, 1);
  const auto v = index.stored_vector(1);
  ASSERT_TRUE(v.has_value());
  for (std::size_t j = 0; j < d; ++j) EXPECT_NEAR((*v)[j], data[2 * d + j], 0.005);
  EXPECT_FALSE(index.stored_vector(3).has_value());
}

TEST_P(FlatTest, ThreadedScanEqualsSingleThreaded) {
  const std::size_t d = 384;
  // Large enough (> 8 MiB even for int8) that the scan is split across the pool.
  const std::size_t n = GetParam() == ElementType::kInt8 ? 30000 : 15000;
  const auto data = random_unit_vectors(n, d, 21);
  VectorIndex one(flat_config(d, GetParam(), 1)), two(flat_config(d, GetParam(), 2));
  for (std::size_t i = 0; i < n; ++i) {
    one.add(static_cast<EntryId>(i + 1), row(data, i, d));
    two.add(static_cast<EntryId>(i + 1), row(data, i, d));
  }
  const auto queries = random_unit_vectors(20, d, 22);
  for (std::size_t q = 0; q < 20; ++q) {
    const auto a = one.search(row(queries, q, d), 10), b = two.search(row(queries, q, d), 10);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t j = 0; j < a.size(); ++j) {
      EXPECT_EQ(a[j].id, b[j].id);
      EXPECT_EQ(a[j].score, b[j].score);
    }
  }
}

TEST_P(FlatTest, MemoryPerEntryWithinBudget) {
  const std::size_t d = 384, n = 100000;
  const std::size_t elem = GetParam() == ElementType::kF32 ? 4 : GetParam() == ElementType::kF16 ? 2 : 1;
  std::vector<float> v(d, 0.0f);
  VectorIndex index(flat_config(d, GetParam()));
  for (std::size_t i = 0; i < n; ++i) {
    v[i % d] = 1.0f;
    index.add(static_cast<EntryId>(i + 1), v);
    v[i % d] = 0.0f;
  }
  const double per_entry = static_cast<double>(index.memory_bytes()) / n;
  RecordProperty("bytes_per_entry", std::to_string(per_entry));
  EXPECT_LE(per_entry, static_cast<double>(d * elem + 64));
}

INSTANTIATE_TEST_SUITE_P(Elements, FlatTest, testing::Values(ElementType::kF32, ElementType::kF16, ElementType::kInt8),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(Flat, EdgeCases) {
  VectorIndex index(flat_config(4, ElementType::kF32));
  const float q[4] = {1, 0, 0, 0};
  EXPECT_TRUE(index.search(q, 5).empty());
  index.add(3, q);
  EXPECT_TRUE(index.search(q, 0).empty());
  EXPECT_EQ(index.search(q, 5).size(), 1u);
  const float bad[3] = {1, 0, 0};
  EXPECT_THROW(index.add(4, bad), InvalidArgument);
  EXPECT_THROW(index.search(bad, 1), InvalidArgument);
  EXPECT_THROW(index.add(0, q), InvalidArgument);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_STREQ(index.describe(), "flat-f32");
  EXPECT_NE(VectorIndex::kernel_name(), nullptr);
}

TEST(Flat, TiesBreakByLowerId) {
  VectorIndex index(flat_config(2, ElementType::kF32));
  const float v[2] = {1, 0};
  for (EntryId id : {9, 4, 7, 1}) index.add(id, v);
  const auto got = index.search(v, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].id, 1);
  EXPECT_EQ(got[1].id, 4);
  EXPECT_EQ(got[2].id, 7);
}

}  // namespace
}  // namespace engram
