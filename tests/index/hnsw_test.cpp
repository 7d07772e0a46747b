// The HNSW layout: recall against exact search on a fixed seeded set, agreement with the flat
// layout, deletes that reuse slots, growth.
#include <gtest/gtest.h>

#include <algorithm>

#include "engram/index/vector_index.hpp"
#include "test_data.hpp"

namespace engram {
namespace {

using test::random_unit_vectors;

std::span<const float> row(const std::vector<float>& data, std::size_t i, std::size_t d) {
  return std::span<const float>(data).subspan(i * d, d);
}

IndexConfig config(std::size_t d, IndexKind kind, ElementType e) { return IndexConfig{d, kind, e, HnswParams{}, 1}; }

// recall@1 of `index` against an exact flat f32 index over the same data.
double recall_at_1(const VectorIndex& index, const VectorIndex& exact, const std::vector<std::vector<float>>& queries) {
  std::size_t hits = 0;
  for (const auto& q : queries) {
    const auto a = index.search(q, 1), b = exact.search(q, 1);
    if (!a.empty() && !b.empty() && a[0].id == b[0].id) ++hits;
  }
  return static_cast<double>(hits) / static_cast<double>(queries.size());
}

class HnswTest : public testing::TestWithParam<ElementType> {};

TEST_P(HnswTest, RecallAt1OnSeeded20k) {
  const std::size_t n = 20000, d = 96;
  const auto data = random_unit_vectors(n, d, 42);
  VectorIndex hnsw(config(d, IndexKind::kHnsw, GetParam()));
  VectorIndex exact(config(d, IndexKind::kFlat, ElementType::kF32));
  std::vector<EntryId> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<EntryId>(i + 1);
  hnsw.add_batch(ids, data);
  exact.add_batch(ids, data);
  ASSERT_EQ(hnsw.size(), n);
  EXPECT_EQ(std::string(hnsw.describe()).substr(0, 4), "hnsw");
  // Semantic-cache-like queries: paraphrases of stored entries (cosine ~0.75 to the source).
  std::mt19937_64 rng(43);
  std::vector<std::vector<float>> queries;
  for (std::size_t i = 0; i < 500; ++i) queries.push_back(test::noisy_copy(row(data, (i * 37) % n, d), 0.09f, rng));
  const double recall = recall_at_1(hnsw, exact, queries);
  RecordProperty("recall_at_1", std::to_string(recall));
  EXPECT_GE(recall, 0.95);
}

TEST_P(HnswTest, AgreesWithFlatOnScores) {
  const std::size_t n = 3000, d = 48;
  const auto data = random_unit_vectors(n, d, 5);
  VectorIndex hnsw(config(d, IndexKind::kHnsw, GetParam()));
  VectorIndex flat(config(d, IndexKind::kFlat, GetParam()));
  for (std::size_t i = 0; i < n; ++i) {
    hnsw.add(static_cast<EntryId>(i + 1), row(data, i, d));
    flat.add(static_cast<EntryId>(i + 1), row(data, i, d));
  }
  const auto queries = random_unit_vectors(100, d, 6);
  std::size_t same_top1 = 0;
  for (std::size_t q = 0; q < 100; ++q) {
    const auto a = hnsw.search(row(queries, q, d), 5), b = flat.search(row(queries, q, d), 5);
    ASSERT_EQ(a.size(), 5u);
    if (a[0].id == b[0].id) {
      ++same_top1;
      // Same id, same score up to the (quantized) query encoding of each layout.
      EXPECT_NEAR(a[0].score, b[0].score, GetParam() == ElementType::kF32 ? 1e-5 : 1e-2);
    }
    for (std::size_t j = 1; j < a.size(); ++j) EXPECT_GE(a[j - 1].score, a[j].score);
  }
  EXPECT_GE(same_top1, 95u);
}

TEST_P(HnswTest, RemovesReuseSlotsAndReAddsAreFound) {
  const std::size_t n = 4000, d = 40;
  const auto data = random_unit_vectors(2 * n, d, 9);
  VectorIndex index(config(d, IndexKind::kHnsw, GetParam()));
  for (std::size_t i = 0; i < n; ++i) index.add(static_cast<EntryId>(i + 1), row(data, i, d));
  const std::size_t mem_full = index.memory_bytes();
  // Remove every other entry; removed ids must never come back from a search.
  for (std::size_t i = 0; i < n; i += 2) ASSERT_TRUE(index.remove(static_cast<EntryId>(i + 1)));
  EXPECT_FALSE(index.remove(1));
  EXPECT_EQ(index.size(), n / 2);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(index.contains(static_cast<EntryId>(i + 1)), i % 2 == 1);
    for (const Candidate& c : index.search(row(data, i, d), 3)) EXPECT_EQ((c.id - 1) % 2, 1) << c.id;
  }
  // New ids fill the freed slots: the graph does not grow.
  for (std::size_t i = n; i < n + n / 2; ++i) index.add(static_cast<EntryId>(i + 1), row(data, i, d));
  EXPECT_EQ(index.size(), n);
  EXPECT_LE(index.memory_bytes(), mem_full + mem_full / 20);
  std::size_t found = 0, probes = 0;
  for (std::size_t i = 1; i < n + n / 2; i += 2) {
    if (i < n && i % 2 == 0) continue;
    ++probes;
    const auto got = index.search(row(data, i, d), 1);
    if (!got.empty() && got[0].id == static_cast<EntryId>(i + 1)) ++found;
  }
  for (std::size_t i = n; i < n + n / 2; ++i) {
    ++probes;
    const auto got = index.search(row(data, i, d), 1);
    if (!got.empty() && got[0].id == static_cast<EntryId>(i + 1)) ++found;
  }
  EXPECT_GE(static_cast<double>(found) / static_cast<double>(probes), 0.99);
  // Upsert of a present id moves it.
  index.add(2, row(data, 2 * n - 1, d));
  EXPECT_EQ(index.search(row(data, 2 * n - 1, d), 1)[0].id, 2);
  EXPECT_EQ(index.size(), n);
}

TEST_P(HnswTest, RemoveAllThenAdd) {
  const std::size_t d = 8;
  const auto data = random_unit_vectors(50, d, 1);
  VectorIndex index(config(d, IndexKind::kHnsw, GetParam()));
  EXPECT_TRUE(index.search(row(data, 0, d), 1).empty());
  for (std::size_t i = 0; i < 50; ++i) index.add(static_cast<EntryId>(i + 1), row(data, i, d));
  for (std::size_t i = 0; i < 50; ++i) ASSERT_TRUE(index.remove(static_cast<EntryId>(i + 1)));
  EXPECT_TRUE(index.search(row(data, 0, d), 1).empty());
  index.add(100, row(data, 3, d));
  const auto got = index.search(row(data, 3, d), 5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, 100);
}

INSTANTIATE_TEST_SUITE_P(Elements, HnswTest, testing::Values(ElementType::kF32, ElementType::kF16, ElementType::kInt8),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace engram
