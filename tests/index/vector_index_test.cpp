// IndexKind::kAuto: switching flat -> HNSW past the threshold and back below half of it,
// synchronously and with the background build, without losing any entry.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
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

// A flat kAuto namespace restored from a sidecar image (rows read in place) that a put then
// takes over the threshold: the build starts from the borrowed chunks without copying them,
// and must stay correct after the caller let go of the image (the build holds the backing).
TEST(Auto, BuildFromRowsReadInPlace) {
  const std::size_t d = 1024, n = 1500, extra = 200;  // 4 KiB rows: 512-row chunks
  const auto data = random_unit_vectors(n + extra, d, 31);
  auto vec = [&](std::size_t i) { return std::span<const float>(data).subspan(i * d, d); };
  HnswParams p;
  p.auto_threshold = 1600;
  const IndexConfig config{d, IndexKind::kAuto, ElementType::kF32, p, 1};
  VectorIndex source(config);
  for (std::size_t i = 0; i < n; ++i) source.add(static_cast<EntryId>(i + 1), vec(i));
  const IndexImage image = source.image();
  ASSERT_FALSE(image.hnsw);

  // The image's rows in 64-byte-aligned memory, owned by the shared_ptr given as backing.
  struct Aligned {
    std::byte* rows;
    explicit Aligned(std::size_t bytes)
        : rows(static_cast<std::byte*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64))) {}
    ~Aligned() { std::free(rows); }
    Aligned(const Aligned&) = delete;
    Aligned& operator=(const Aligned&) = delete;
  };
  auto backing = std::make_shared<Aligned>(image.rows.size());
  std::memcpy(backing->rows, image.rows.data(), image.rows.size());
  IndexImageView view;
  view.count = image.count;
  view.rows = backing->rows;
  view.ids = image.ids.data();
  view.id_slots = image.id_slots;
  VectorIndex index(config);
  ASSERT_TRUE(index.restore(view, backing));
  EXPECT_GT(index.borrowed_chunks(), 1u);
  backing.reset();  // the index (and its build) keep the memory alive

  for (std::size_t i = n; i < n + extra; ++i) index.add(static_cast<EntryId>(i + 1), vec(i));
  index.finish_build();
  EXPECT_EQ(std::string(index.describe()), "hnsw-f32");
  ASSERT_EQ(index.size(), n + extra);
  std::size_t found = 0;
  for (std::size_t i = 0; i < n + extra; ++i) {
    const auto id = static_cast<EntryId>(i + 1);
    const auto stored = index.stored_vector(id);
    ASSERT_TRUE(stored.has_value()) << id;
    EXPECT_TRUE(std::equal(stored->begin(), stored->end(), vec(i).begin())) << id;
    const auto got = index.search(vec(i), 1);
    found += !got.empty() && got[0].id == id ? 1 : 0;
  }
  EXPECT_GE(static_cast<double>(found) / static_cast<double>(n + extra), 0.99);
}

}  // namespace
}  // namespace engram
