// DictStore behaviour beyond the battery: handles and Locations, change-log retention (the
// only way to see changes_since return nullopt for an old reader), and the snapshot format
// (every truncation and every flipped byte is reported as StoreCorrupt, leaving the
// destination untouched).
#include <gtest/gtest.h>

#include <engram/conformance/common.hpp>
#include <engram/stores/dict_store.hpp>
#include <fstream>
#include <iterator>
#include <string>

#include "temp_dir.hpp"

namespace {

using engram::DictStore;
using engram::conformance::kDim;
using engram::conformance::kFingerprint;
using engram::conformance::detail::make_entry;

DictStore opened(DictStore::Location location) {
  DictStore s(std::move(location));
  s.open(kFingerprint, kDim);
  return s;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(DictStore, DefaultHandlesHavePrivateBackings) {
  DictStore a;
  DictStore b;
  a.open(kFingerprint, kDim);
  b.open(kFingerprint, kDim);
  a.insert(make_entry("ns", "k"));
  EXPECT_EQ(a.count(), 1u);
  EXPECT_EQ(b.count(), 0u);
  EXPECT_NE(a.location(), b.location());
}

TEST(DictStore, HandlesOnOneLocationShareData) {
  auto loc = DictStore::make_location();
  auto a = opened(loc);
  auto b = opened(loc);
  const auto id = a.insert(make_entry("ns", "k"));
  EXPECT_TRUE(b.get_by_id(id).has_value());
  a.close();
  DictStore c(a.location());
  c.open(kFingerprint, kDim);
  EXPECT_EQ(c.count(), 1u) << "close() keeps the data in the backing";
}

TEST(DictStore, MovedFromHandleIsClosed) {
  DictStore a;
  a.open(kFingerprint, kDim);
  DictStore b(std::move(a));
  EXPECT_EQ(b.count(), 0u);
  EXPECT_THROW((void)a.count(), engram::CacheClosed);  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_FALSE(a.integrity_check());
}

TEST(DictStore, ZeroRetentionIsRejected) {
  EXPECT_THROW(DictStore::make_location(DictStore::Options{.change_log_retention = 0}), engram::InvalidArgument);
}

TEST(DictStore, ChangeLogRetentionBoundsTheFeed) {
  auto s = opened(DictStore::make_location(DictStore::Options{.change_log_retention = 3}));
  for (int i = 0; i < 5; ++i) s.insert(make_entry("ns", "k" + std::to_string(i)));
  EXPECT_EQ(s.read_version_counter(), 5u);
  EXPECT_FALSE(s.changes_since(0, 10).has_value()) << "versions 1-2 were dropped: the reader must rebuild";
  EXPECT_FALSE(s.changes_since(1, 10).has_value());
  auto from2 = s.changes_since(2, 10);
  ASSERT_TRUE(from2.has_value()) << "versions 3-5 are retained";
  ASSERT_EQ(from2->size(), 3u);
  EXPECT_EQ(from2->front().version, 3u);
  EXPECT_EQ(from2->back().version, 5u);
  EXPECT_TRUE(s.changes_since(5, 10)->empty());
  EXPECT_TRUE(s.integrity_check());
}

TEST(DictStore, RestoredStoreKeepsCounterButNotTheLog) {
  engram::testing::TempDir dir;
  auto s = opened(DictStore::make_location());
  for (int i = 0; i < 4; ++i) s.insert(make_entry("ns", "k" + std::to_string(i)));
  s.snapshot_to(dir / "snap");
  auto r = DictStore::restore_from(dir / "snap", nullptr);
  r.open(kFingerprint, kDim);
  EXPECT_EQ(r.read_version_counter(), 4u);
  EXPECT_TRUE(r.changes_since(4, 10)->empty());
  EXPECT_FALSE(r.changes_since(3, 10).has_value()) << "a restored log starts empty: older readers rebuild";
  r.insert(make_entry("ns", "new"));
  EXPECT_EQ(r.changes_since(4, 10)->size(), 1u);
}

TEST(DictStore, RestoreReplacesDestinationSeenByItsHandles) {
  engram::testing::TempDir dir;
  auto src = opened(DictStore::make_location());
  src.insert(make_entry("src", "k"));
  src.snapshot_to(dir / "snap");
  auto dest = DictStore::make_location();
  auto existing = opened(dest);
  existing.insert(make_entry("old", "k1"));
  existing.insert(make_entry("old", "k2"));
  auto restored = DictStore::restore_from(dir / "snap", dest);
  EXPECT_EQ(restored.location(), dest);
  EXPECT_EQ(existing.list_namespaces(), std::vector<std::string>{"src"});
  EXPECT_FALSE(std::filesystem::exists(dir / "snap.tmp")) << "the temporary file is renamed into place";
}

TEST(DictStore, SnapshotStartsWithMagic) {
  engram::testing::TempDir dir;
  auto s = opened(DictStore::make_location());
  s.snapshot_to(dir / "snap");
  EXPECT_EQ(read_file(dir / "snap").substr(0, 8), std::string("ENGDICT\x01", 8));
}

TEST(DictStore, EveryTruncationAndFlippedByteIsStoreCorrupt) {
  engram::testing::TempDir dir;
  auto s = opened(DictStore::make_location());
  auto e = make_entry("ns", "k");
  e.ttl = engram::Millis(5);
  s.insert(e);
  s.insert(make_entry("", "k2"));
  s.set_namespace_quota("ns", 3);
  s.snapshot_to(dir / "snap");
  const std::string good = read_file(dir / "snap");
  auto dest = DictStore::make_location();
  auto sentinel = opened(dest);
  sentinel.insert(make_entry("sentinel", "k"));

  for (std::size_t len = 0; len < good.size(); ++len) {
    write_file(dir / "bad", std::string_view(good).substr(0, len));
    EXPECT_THROW(DictStore::restore_from(dir / "bad", dest), engram::StoreCorrupt) << "truncated to " << len;
  }
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    write_file(dir / "bad", bad);
    EXPECT_THROW(DictStore::restore_from(dir / "bad", dest), engram::StoreCorrupt) << "byte " << i << " flipped";
  }
  write_file(dir / "bad", good + "x");
  EXPECT_THROW(DictStore::restore_from(dir / "bad", dest), engram::StoreCorrupt) << "trailing byte";
  EXPECT_EQ(sentinel.list_namespaces(), std::vector<std::string>{"sentinel"}) << "a failed restore leaves dest alone";
  EXPECT_THROW(DictStore::restore_from(dir / "missing", dest), engram::CheckpointError);
}

TEST(DictStore, HugeLengthFieldDoesNotAllocate) {
  // A snapshot whose first meta count claims 2^63 records must fail fast, not allocate.
  engram::testing::TempDir dir;
  std::string bytes("ENGDICT\x01", 8);
  bytes += std::string(16, '\0');                               // version, next_id
  bytes += std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8);  // meta count
  write_file(dir / "bad", bytes);
  EXPECT_THROW(DictStore::restore_from(dir / "bad", nullptr), engram::StoreCorrupt);
}

}  // namespace
