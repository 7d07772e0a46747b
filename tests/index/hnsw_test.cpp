// The HNSW layout: recall against exact search on a fixed seeded set, agreement with the flat
// layout, deletes that reuse slots, growth.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "codec.hpp"
#include "engram/index/vector_index.hpp"
#include "hnsw_layout.hpp"
#include "test_data.hpp"

namespace engram {
namespace {

using test::random_unit_vectors;

std::span<const float> row(const std::vector<float>& data, std::size_t i, std::size_t d) {
  return std::span<const float>(data).subspan(i * d, d);
}

IndexConfig config(std::size_t d, IndexKind kind, ElementType e) { return IndexConfig{d, kind, e, HnswParams{}, 1}; }

// Adds rows [0, n) of `data` as ids 1..n in one add_batch.
void add_first(VectorIndex& index, const std::vector<float>& data, std::size_t n, std::size_t d) {
  std::vector<EntryId> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<EntryId>(i + 1);
  index.add_batch(ids, std::span<const float>(data).subspan(0, n * d));
}

// A view of an HNSW image held in memory (level 0 copied at restore).
IndexImageView view_of(const IndexImage& image) {
  IndexImageView view;
  view.hnsw = true;
  view.count = image.count;
  view.graph = image.graph;
  view.level0 = image.level0;
  return view;
}

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
  add_first(hnsw, data, n, d);
  add_first(exact, data, n, d);
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
  index.wait_linked();  // memory is compared in the steady state, not with rows in the tail
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
  index.wait_linked();
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

// Rows added to a built graph land in its tail first (graph_with_tail.hpp): each must be found
// from the moment add() returns, with the same answers once the linker has moved it into the
// graph; an update or a remove must never let an old row be served in between.
TEST_P(HnswTest, AddedRowsAreFoundBeforeAndAfterLinking) {
  const std::size_t base = 3000, fresh = 600, d = 48;
  const auto data = random_unit_vectors(base + fresh + 100, d, 21);
  VectorIndex index(config(d, IndexKind::kHnsw, GetParam()));
  add_first(index, data, base, d);
  EXPECT_EQ(index.unlinked(), 0u);
  auto top1 = [&](std::size_t vector_row) {
    const auto got = index.search(row(data, vector_row, d), 1);
    return got.empty() ? EntryId{0} : got[0].id;
  };
  for (std::size_t i = base; i < base + fresh; ++i) {
    index.add(static_cast<EntryId>(i + 1), row(data, i, d));
    ASSERT_EQ(top1(i), static_cast<EntryId>(i + 1)) << "row " << i << " not found right after add()";
  }
  EXPECT_EQ(index.size(), base + fresh);
  // Updates of linked ids move them; removes of (possibly still unlinked) ids hide them.
  for (std::size_t j = 0; j < 100; ++j) index.add(static_cast<EntryId>(j + 1), row(data, base + fresh + j, d));
  for (std::size_t i = base + fresh - 50; i < base + fresh; ++i) ASSERT_TRUE(index.remove(static_cast<EntryId>(i + 1)));
  auto check = [&] {
    EXPECT_EQ(index.size(), base + fresh - 50);
    for (std::size_t j = 0; j < 100; ++j) {
      EXPECT_EQ(top1(base + fresh + j), static_cast<EntryId>(j + 1));
      // The old row must be gone: id j + 1 may still be a candidate, but scored by its new row.
      const double dot_new = test::dot(row(data, j, d), row(data, base + fresh + j, d));
      for (const Candidate& c : index.search(row(data, j, d), 3)) {
        if (c.id == static_cast<EntryId>(j + 1)) {
          EXPECT_NEAR(c.score, dot_new, 0.02);
        }
      }
    }
    for (std::size_t i = base + fresh - 50; i < base + fresh; ++i) {
      EXPECT_FALSE(index.contains(static_cast<EntryId>(i + 1)));
      for (const Candidate& c : index.search(row(data, i, d), 3)) EXPECT_NE(c.id, static_cast<EntryId>(i + 1));
    }
    std::size_t found = 0;
    for (std::size_t i = 100; i < base + fresh - 50; ++i) found += top1(i) == static_cast<EntryId>(i + 1) ? 1 : 0;
    EXPECT_GE(static_cast<double>(found) / static_cast<double>(base + fresh - 150), 0.99);
  };
  check();
  index.wait_linked();
  EXPECT_EQ(index.unlinked(), 0u);
  check();
}

// Upserts that arrive while the linker holds the graph for a link are handed to it and applied
// before it lets go (graph_with_tail.hpp): whoever asks next, the writer included, must find
// the latest row of every id, in the order the upserts were made, never an older one.
TEST_P(HnswTest, UpsertsDuringLinksLandInOrder) {
  const std::size_t base = 2000, fresh = 1500, hot = 16, d = 32;
  const auto data = random_unit_vectors(base + fresh + hot * 8, d, 29);
  VectorIndex index(config(d, IndexKind::kHnsw, GetParam()));
  add_first(index, data, base, d);
  auto close_to = [&](EntryId id, std::size_t vector_row) {
    const auto stored = index.stored_vector(id);
    return stored && test::dot(*stored, row(data, vector_row, d)) > 0.98;
  };
  std::vector<std::size_t> last(hot);
  for (std::size_t i = 0; i < fresh; ++i) {
    // New rows keep the linker busy; the hot ids (linked or still in the tail) change under it.
    index.add(static_cast<EntryId>(base + i + 1), row(data, base + i, d));
    // Three updates of one id in a row, no read between: deferred together, they must apply
    // in order.
    const std::size_t h = i % hot;
    std::size_t r = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      r = base + fresh + (i / hot + k) % 8 * hot + h;
      index.add(static_cast<EntryId>(h + 1), row(data, r, d));
    }
    last[h] = r;
    ASSERT_TRUE(close_to(static_cast<EntryId>(h + 1), r)) << "id " << h + 1 << " lost its latest row";
    ASSERT_TRUE(index.contains(static_cast<EntryId>(base + i + 1)));
  }
  EXPECT_EQ(index.size(), base + fresh);
  index.wait_linked();
  EXPECT_EQ(index.size(), base + fresh);
  for (std::size_t h = 0; h < hot; ++h) {
    EXPECT_TRUE(close_to(static_cast<EntryId>(h + 1), last[h]));
    const auto got = index.search(row(data, last[h], d), 1);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got[0].id, static_cast<EntryId>(h + 1));
  }
}

// wait_linked() returns also when removes, not the linker, empty the tail.
TEST_P(HnswTest, WaitLinkedReturnsWhenRemovesEmptyTheTail) {
  const std::size_t d = 16;
  const auto data = random_unit_vectors(200, d, 23);
  VectorIndex index(config(d, IndexKind::kHnsw, GetParam()));
  for (int round = 0; round < 20; ++round) {
    for (std::size_t i = 0; i < 200; ++i) index.add(static_cast<EntryId>(i + 1), row(data, i, d));
    for (std::size_t i = 0; i < 200; ++i) ASSERT_TRUE(index.remove(static_cast<EntryId>(i + 1)));
    index.wait_linked();
    EXPECT_EQ(index.unlinked(), 0u);
    EXPECT_EQ(index.size(), 0u);
  }
}

// The sidecar image of an HNSW index carries its unlinked rows: a restore answers the same,
// and a damaged image is refused rather than half-loaded.
TEST_P(HnswTest, ImageKeepsUnlinkedRows) {
  const std::size_t base = 1500, fresh = 400, d = 32;
  const auto data = random_unit_vectors(base + fresh, d, 22);
  VectorIndex index(config(d, IndexKind::kHnsw, GetParam()));
  add_first(index, data, base, d);
  for (std::size_t i = base; i < base + fresh; ++i) index.add(static_cast<EntryId>(i + 1), row(data, i, d));
  const IndexImage image = index.image();
  ASSERT_TRUE(image.hnsw);
  EXPECT_EQ(image.count, base + fresh);

  IndexImageView view = view_of(image);
  VectorIndex restored(config(d, IndexKind::kHnsw, GetParam()));
  ASSERT_TRUE(restored.restore(view, nullptr));
  EXPECT_EQ(restored.size(), base + fresh);
  EXPECT_EQ(restored.id_digest(), index.id_digest());
  for (std::size_t i = 0; i < base + fresh; i += 7) {
    const auto id = static_cast<EntryId>(i + 1);
    ASSERT_EQ(restored.stored_vector(id), index.stored_vector(id)) << id;
  }
  restored.wait_linked();
  std::size_t found = 0;
  for (std::size_t i = 0; i < base + fresh; ++i) {
    const auto got = restored.search(row(data, i, d), 1);
    found += !got.empty() && got[0].id == static_cast<EntryId>(i + 1) ? 1 : 0;
  }
  EXPECT_GE(static_cast<double>(found) / static_cast<double>(base + fresh), 0.99);

  for (const std::size_t cut : {std::size_t{1}, std::size_t{8}, d, image.graph.size() / 2}) {
    view.graph = std::span<const std::byte>(image.graph).first(image.graph.size() - cut);
    VectorIndex damaged(config(d, IndexKind::kHnsw, GetParam()));
    EXPECT_FALSE(damaged.restore(view, nullptr)) << "cut " << cut;
    EXPECT_EQ(damaged.size(), 0u);
  }
  view.graph = image.graph;
  view.level0 = std::span<const std::byte>(image.level0).first(image.level0.size() - 1);
  VectorIndex short_level0(config(d, IndexKind::kHnsw, GetParam()));
  EXPECT_FALSE(short_level0.restore(view, nullptr));
  EXPECT_EQ(short_level0.size(), 0u);
}

// An HNSW image in a real file, as the sidecar holds it: level 0 page-aligned, mapped
// copy-on-write by restore().
class Level0File {
 public:
  explicit Level0File(const std::vector<std::byte>& level0) {
    char name[] = "/tmp/engram-level0-XXXXXX";
    fd_ = ::mkstemp(name);
    ::unlink(name);
    std::vector<std::byte> page(kOffset, std::byte{0x5a});  // something else before it
    EXPECT_EQ(::pwrite(fd_, page.data(), page.size(), 0), static_cast<ssize_t>(page.size()));
    EXPECT_EQ(::pwrite(fd_, level0.data(), level0.size(), kOffset), static_cast<ssize_t>(level0.size()));
    EXPECT_EQ(::pwrite(fd_, page.data(), page.size(), static_cast<off_t>(kOffset + level0.size())),
              static_cast<ssize_t>(page.size()));
  }
  ~Level0File() { ::close(fd_); }
  Level0File(const Level0File&) = delete;
  Level0File& operator=(const Level0File&) = delete;
  void point(IndexImageView& view, std::span<const std::byte> bytes) const {
    view.level0 = bytes;
    view.level0_fd = fd_;
    view.level0_offset = kOffset;
  }
  // The file's level 0 after a restore that wrote to its mapping.
  std::vector<std::byte> read(std::size_t bytes) const {
    std::vector<std::byte> out(bytes);
    EXPECT_EQ(::pread(fd_, out.data(), bytes, kOffset), static_cast<ssize_t>(bytes));
    return out;
  }

 private:
  static constexpr std::size_t kOffset = 4096;
  int fd_ = -1;
};

// A graph restored from a file answers exactly while its level 0 is unchecked and like the
// original once checked; removes, updates and growth past the mapped part work, and nothing
// it does is written back to the file.
TEST_P(HnswTest, RestoredFromAFileMapsLevel0) {
  const std::size_t n = 3000, more = 2000, d = 32;
  const auto data = random_unit_vectors(n + more, d, 31);
  VectorIndex index(config(d, IndexKind::kHnsw, GetParam()));
  add_first(index, data, n, d);
  for (EntryId id = 1; id <= 300; ++id) ASSERT_TRUE(index.remove(id));  // deleted marks in level 0
  const IndexImage image = index.image();
  const Level0File file(image.level0);
  IndexImageView view = view_of(image);
  file.point(view, image.level0);

  VectorIndex restored(config(d, IndexKind::kHnsw, GetParam()));
  ASSERT_TRUE(restored.restore(view, nullptr));
  EXPECT_EQ(restored.size(), n - 300);
  EXPECT_EQ(restored.id_digest(), index.id_digest());
  // Right after the restore (the check may not have run): every live row is its own best
  // match, a removed one is never returned.
  for (std::size_t i = 0; i < n; i += 13) {
    const auto got = restored.search(row(data, i, d), 1);
    if (i < 300) {
      EXPECT_TRUE(got.empty() || got[0].id != static_cast<EntryId>(i + 1));
    } else {
      ASSERT_FALSE(got.empty());
      EXPECT_EQ(got[0].id, static_cast<EntryId>(i + 1));
    }
  }
  // Removes and updates, then growth well past the mapped reservation (n + n / 4).
  for (EntryId id = 301; id <= 400; ++id) ASSERT_TRUE(restored.remove(id));
  restored.add(401, row(data, 0, d));
  for (std::size_t i = n; i < n + more; ++i) restored.add(static_cast<EntryId>(i + 1), row(data, i, d));
  restored.wait_linked();
  EXPECT_EQ(restored.unlinked(), 0u);
  EXPECT_EQ(restored.size(), n - 400 + more);
  std::size_t found = 0, checked = 0;
  for (std::size_t i = 401; i < n + more; i += 3, ++checked) {
    const auto got = restored.search(row(data, i, d), 1);
    found += !got.empty() && got[0].id == static_cast<EntryId>(i + 1) ? 1 : 0;
  }
  EXPECT_GE(static_cast<double>(found) / static_cast<double>(checked), 0.98);
  const auto moved = restored.search(row(data, 0, d), 1);
  ASSERT_FALSE(moved.empty());
  EXPECT_EQ(moved[0].id, 401);  // the updated row, not its old position
  for (EntryId id = 301; id <= 400; ++id) EXPECT_FALSE(restored.stored_vector(id).has_value());
  EXPECT_EQ(file.read(image.level0.size()), image.level0);  // copy-on-write: the file is untouched
}

// A restored graph defers what only writers need (hnswlib's label map and locks) to its first
// write; that holds for an empty graph too.
TEST_P(HnswTest, RestoredEmptyGraphTakesWrites) {
  const std::size_t n = 500, d = 16;
  const auto data = random_unit_vectors(n, d, 35);
  const IndexImage image = VectorIndex(config(d, IndexKind::kHnsw, GetParam())).image();
  const IndexImageView view = view_of(image);
  VectorIndex restored(config(d, IndexKind::kHnsw, GetParam()));
  ASSERT_TRUE(restored.restore(view, nullptr));
  EXPECT_TRUE(restored.search(row(data, 0, d), 1).empty());
  for (std::size_t i = 0; i < n; ++i) restored.add(static_cast<EntryId>(i + 1), row(data, i, d));
  restored.wait_linked();
  EXPECT_EQ(restored.size(), n);
  std::size_t found = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto got = restored.search(row(data, i, d), 1);
    found += !got.empty() && got[0].id == static_cast<EntryId>(i + 1) ? 1 : 0;
  }
  EXPECT_GE(found, n - n / 100);
}

// Damage to level 0 that its checksum would not catch (a sidecar from a faulty writer): a
// link past the end, a label or a deleted mark that disagrees with the labels.
struct Level0Damage {
  const char* what;
  std::size_t element, at;  // `at` within the element; xor'ed with `value`
  std::byte value;
};
std::vector<Level0Damage> level0_damages(std::size_t element_bytes) {
  return {{"a link past the end", 777, 4 + 1, std::byte{0x7f}},  // link 0's second byte
          {"a label", 1500, element_bytes - sizeof(std::size_t), std::byte{0x01}},
          {"a deleted mark", 42, 2, std::byte{0x01}}};
}

// load() takes such a level 0 (it reads none of it); check_elements() refuses it.
TEST_P(HnswTest, CheckElementsFindsDamageToLevel0) {
  const std::size_t n = 2000, d = 24;
  const auto data = random_unit_vectors(n, d, 33);
  const detail::Codec codec(GetParam(), d);
  detail::HnswLayout layout(codec, HnswParams{}, n);
  std::vector<std::byte> encoded(codec.row_bytes());
  for (std::size_t i = 0; i < n; ++i) {
    codec.encode(row(data, i, d), encoded.data());
    layout.upsert(static_cast<EntryId>(i + 1), encoded.data());
  }
  std::vector<std::byte> meta;
  layout.serialize(meta);
  const auto level0 = layout.level0();
  const auto intact = detail::HnswLayout::load(codec, HnswParams{}, meta, {.bytes = level0});
  ASSERT_NE(intact, nullptr);
  EXPECT_FALSE(intact->checked());
  EXPECT_TRUE(intact->check_elements(0, n));
  for (const Level0Damage& damage : level0_damages(level0.size() / n)) {
    std::vector<std::byte> bytes(level0.begin(), level0.end());
    bytes[damage.element * (level0.size() / n) + damage.at] ^= damage.value;
    const auto damaged = detail::HnswLayout::load(codec, HnswParams{}, meta, {.bytes = bytes});
    ASSERT_NE(damaged, nullptr) << damage.what;
    EXPECT_TRUE(damaged->check_elements(0, damage.element)) << damage.what;
    EXPECT_FALSE(damaged->check_elements(damage.element, damage.element + 1)) << damage.what;
    EXPECT_FALSE(damaged->check_elements(0, n)) << damage.what;
  }
}

// Restored through VectorIndex, such a graph is dropped after the check and its rows linked
// again: every row, the damaged elements' included, is still its own best match.
TEST_P(HnswTest, RestoredLevel0ThatFailsTheCheckIsRelinked) {
  const std::size_t n = 2000, d = 24;
  const auto data = random_unit_vectors(n, d, 33);
  VectorIndex index(config(d, IndexKind::kHnsw, GetParam()));
  for (std::size_t i = 0; i < n; ++i) index.add(static_cast<EntryId>(i + 1), row(data, i, d));
  index.wait_linked();
  const IndexImage image = index.image();
  const std::size_t element = image.level0.size() / n;
  for (const Level0Damage& damage : level0_damages(element)) {
    std::vector<std::byte> level0 = image.level0;
    level0[damage.element * element + damage.at] ^= damage.value;
    const Level0File file(level0);
    IndexImageView view = view_of(image);
    file.point(view, level0);
    VectorIndex restored(config(d, IndexKind::kHnsw, GetParam()));
    ASSERT_TRUE(restored.restore(view, nullptr)) << damage.what;
    restored.wait_linked();
    EXPECT_EQ(restored.size(), n) << damage.what;
    std::size_t found = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto got = restored.search(row(data, i, d), 1);
      const bool own = !got.empty() && got[0].id == static_cast<EntryId>(i + 1);
      found += own ? 1 : 0;
      if (i == damage.element) {
        EXPECT_TRUE(own) << damage.what;
      }
    }
    EXPECT_GE(static_cast<double>(found) / static_cast<double>(n), 0.99) << damage.what;
  }
}

INSTANTIATE_TEST_SUITE_P(Elements, HnswTest, testing::Values(ElementType::kF32, ElementType::kF16, ElementType::kInt8),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace engram
