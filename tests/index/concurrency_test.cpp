// Searches racing exclusive writers, the way SemanticCache drives an index: a std::shared_mutex
// held shared by searchers and exclusively by add/remove. Meant for ThreadSanitizer
// (ENGRAM_SANITIZE=thread, ctest -R Concurrency): any data race inside the index, the thread
// pool, hnswlib or the background build shows up here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "engram/index/vector_index.hpp"
#include "test_data.hpp"

namespace engram {
namespace {

constexpr std::size_t kDim = 32;

struct Scenario {
  const char* name;
  IndexKind kind;
  ElementType element;
  std::size_t search_threads;
  std::size_t threshold;
  // HNSW: the stable entries come from a restored image, level 0 mapped from a file, so the
  // race starts while the linker thread is still checking the graph.
  bool restored = false;
};

// `index` restored from an image of `source`, with level 0 in a real (unlinked) file.
void restore_through_a_file(const VectorIndex& source, VectorIndex& index) {
  source.wait_linked();
  const IndexImage image = source.image();
  char name[] = "/tmp/engram-concurrency-XXXXXX";
  const int fd = ::mkstemp(name);
  ASSERT_GE(fd, 0);
  ::unlink(name);
  ASSERT_EQ(::pwrite(fd, image.level0.data(), image.level0.size(), 0), static_cast<ssize_t>(image.level0.size()));
  IndexImageView view;
  view.hnsw = true;
  view.count = image.count;
  view.graph = image.graph;
  view.level0 = image.level0;
  view.level0_fd = fd;
  ASSERT_TRUE(index.restore(view, nullptr));
  ::close(fd);  // the mapping keeps the file
}

class ConcurrencyTest : public testing::TestWithParam<Scenario> {};

TEST_P(ConcurrencyTest, SearchesDuringExclusiveWrites) {
  const Scenario s = GetParam();
  const std::size_t stable = 1500, churn = 1000;
  const auto data = test::random_unit_vectors(stable + churn, kDim, 99);
  auto vec = [&](std::size_t i) { return std::span<const float>(data).subspan(i * kDim, kDim); };
  HnswParams p;
  p.auto_threshold = s.threshold;
  p.ef_construction = 64;
  VectorIndex index(IndexConfig{kDim, s.kind, s.element, p, s.search_threads});
  // The stable entries are never removed: searches for them must always succeed.
  if (s.restored) {
    VectorIndex source(IndexConfig{kDim, s.kind, s.element, p, s.search_threads});
    for (std::size_t i = 0; i < stable; ++i) source.add(static_cast<EntryId>(i + 1), vec(i));
    restore_through_a_file(source, index);
  } else {
    for (std::size_t i = 0; i < stable; ++i) index.add(static_cast<EntryId>(i + 1), vec(i));
  }

  std::shared_mutex mu;
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> searches{0}, self_hits{0};
  auto reader = [&](std::size_t seed) {
    std::size_t i = seed;
    while (!stop.load()) {
      i = (i * 2654435761u + 1) % stable;
      std::shared_lock lock(mu);
      const auto got = index.search(vec(i), 4);
      EXPECT_FALSE(got.empty());
      if (!got.empty() && got[0].id == static_cast<EntryId>(i + 1)) ++self_hits;
      ++searches;
      (void)index.size();
      (void)index.memory_bytes();
      (void)index.contains(static_cast<EntryId>(i + 1));
      lock.unlock();
      // glibc's rwlock prefers readers: without a gap, back-to-back shared locks from several
      // readers can starve the writer indefinitely.
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  };
  std::vector<std::thread> readers;
  for (std::size_t t = 0; t < 3; ++t) readers.emplace_back(reader, t * 97);

  // The writer adds and removes the churn entries in waves, crossing the auto thresholds.
  for (int wave = 0; wave < 3; ++wave) {
    for (std::size_t i = stable; i < stable + churn; ++i) {
      std::unique_lock lock(mu);
      index.add(static_cast<EntryId>(i + 1), vec(i));
    }
    for (std::size_t i = stable; i < stable + churn; ++i) {
      std::unique_lock lock(mu);
      EXPECT_TRUE(index.remove(static_cast<EntryId>(i + 1)));
    }
  }
  {
    std::unique_lock lock(mu);
    index.finish_build();
  }
  while (searches.load() < 200) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(index.size(), stable);
  EXPECT_GE(static_cast<double>(self_hits.load()), 0.95 * static_cast<double>(searches.load()));
}

INSTANTIATE_TEST_SUITE_P(Layouts, ConcurrencyTest,
                         testing::Values(Scenario{"flat_f32_threaded", IndexKind::kFlat, ElementType::kF32, 2, 0},
                                         Scenario{"flat_int8", IndexKind::kFlat, ElementType::kInt8, 1, 0},
                                         Scenario{"hnsw_f16", IndexKind::kHnsw, ElementType::kF16, 1, 0},
                                         Scenario{"hnsw_f32_restored", IndexKind::kHnsw, ElementType::kF32, 1, 0, true},
                                         Scenario{"auto_int8_switching", IndexKind::kAuto, ElementType::kInt8, 1,
                                                  2000}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace engram
