// IndexKind::kAuto: switching flat -> HNSW past the threshold and back below half of it,
// synchronously and with the background build, without losing any entry.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "engram/index/vector_index.hpp"
#include "test_data.hpp"

namespace engram {
namespace {

using test::random_unit_vectors;

constexpr std::size_t kDim = 24;

IndexConfig auto_config(std::size_t threshold, ElementType e = ElementType::kF32) {
  HnswParams p;
  p.auto_threshold = threshold;
  return IndexConfig{kDim, IndexKind::kAuto, e, p, 1};
}

// A model of what the index must contain, checked entry by entry.
class Model {
 public:
  explicit Model(std::size_t n) : data_(random_unit_vectors(n, kDim, 77)) {}
  std::span<const float> vec(EntryId id) const {
    return std::span<const float>(data_).subspan(static_cast<std::size_t>(id - 1) * kDim, kDim);
  }
  void add(VectorIndex& index, EntryId id) {
    index.add(id, vec(id));
    live_[id] = true;
  }
  void remove(VectorIndex& index, EntryId id) {
    EXPECT_TRUE(index.remove(id));
    live_.erase(id);
  }
  // Every live entry is contained, keeps its stored vector and is found by its own vector.
  void check(const VectorIndex& index, double min_self_recall = 1.0) const {
    ASSERT_EQ(index.size(), live_.size());
    std::size_t self = 0;
    for (const auto& [id, _] : live_) {
      ASSERT_TRUE(index.contains(id)) << id;
      const auto v = index.stored_vector(id);
      ASSERT_TRUE(v.has_value());
      EXPECT_NEAR(test::dot(*v, vec(id)), 1.0, 0.01);
      const auto got = index.search(vec(id), 1);
      ASSERT_FALSE(got.empty());
      if (got[0].id == id) ++self;
    }
    EXPECT_GE(static_cast<double>(self), min_self_recall * static_cast<double>(live_.size()));
  }
  std::size_t size() const { return live_.size(); }
  EntryId first_live() const { return live_.begin()->first; }

 private:
  std::vector<float> data_;
  std::map<EntryId, bool> live_;
};

class AutoTest : public testing::TestWithParam<ElementType> {};

TEST_P(AutoTest, SynchronousSwitchBothWays) {
  Model m(3000);
  VectorIndex index(auto_config(1000, GetParam()), IndexTuning{.background_build = false});
  for (EntryId id = 1; id <= 1000; ++id) m.add(index, id);
  EXPECT_EQ(std::string(index.describe()).substr(0, 4), "flat");
  m.add(index, 1001);  // past the threshold
  EXPECT_EQ(std::string(index.describe()).substr(0, 4), "hnsw");
  m.check(index, 0.99);
  for (EntryId id = 1002; id <= 1500; ++id) m.add(index, id);
  // Shrink: still HNSW at the threshold, flat below half of it (hysteresis).
  for (EntryId id = 1; id <= 1000; ++id) m.remove(index, id);
  EXPECT_EQ(std::string(index.describe()).substr(0, 4), "hnsw");
  m.check(index, 0.99);
  for (EntryId id = 1001; id <= 1001; ++id) m.remove(index, id);
  EXPECT_EQ(std::string(index.describe()).substr(0, 4), "flat");  // 499 < 500
  m.check(index, 1.0);
  // And up again.
  for (EntryId id = 1; id <= 600; ++id) m.add(index, id);
  EXPECT_EQ(std::string(index.describe()).substr(0, 4), "hnsw");
  m.check(index, 0.99);
}

TEST_P(AutoTest, BackgroundBuildKeepsServingAndCatchesUp) {
  Model m(6000);
  VectorIndex index(auto_config(1000, GetParam()));
  for (EntryId id = 1; id <= 1001; ++id) m.add(index, id);
  EXPECT_TRUE(index.build_pending() || std::string(index.describe()).starts_with("hnsw"));
  // While the graph is built, writes go to the flat layout and to the build's log.
  for (EntryId id = 1002; id <= 4000; ++id) m.add(index, id);
  for (EntryId id = 2; id <= 600; id += 3) m.remove(index, id);
  m.check(index, 0.99);
  while (!index.build_ready()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  index.finish_build();
  EXPECT_FALSE(index.build_pending());
  EXPECT_FALSE(index.build_ready());
  EXPECT_EQ(std::string(index.describe()).substr(0, 4), "hnsw");
  m.check(index, 0.99);
}

TEST_P(AutoTest, ShrinkingDuringBuildCancelsIt) {
  Model m(2000);
  VectorIndex index(auto_config(1000, GetParam()));
  for (EntryId id = 1; id <= 1200; ++id) m.add(index, id);
  for (EntryId id = 1; id <= 800; ++id) m.remove(index, id);  // 400 < 500
  EXPECT_FALSE(index.build_pending());
  index.finish_build();
  EXPECT_EQ(std::string(index.describe()).substr(0, 4), "flat");
  m.check(index, 1.0);
}

INSTANTIATE_TEST_SUITE_P(Elements, AutoTest, testing::Values(ElementType::kF32, ElementType::kF16, ElementType::kInt8),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(Auto, DestroyingDuringBuildIsSafe) {
  Model m(3000);
  for (int round = 0; round < 3; ++round) {
    VectorIndex index(auto_config(500));
    for (EntryId id = 1; id <= 3000; ++id) index.add(id, m.vec(id));
  }  // destructor cancels and joins the worker
  SUCCEED();
}

TEST(Auto, MoveKeepsContentAndBuild) {
  Model m(2000);
  VectorIndex index(auto_config(500));
  for (EntryId id = 1; id <= 1500; ++id) m.add(index, id);
  VectorIndex moved(std::move(index));
  moved.finish_build();
  m.check(moved, 0.99);
  index = VectorIndex(auto_config(500));
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace engram
