#pragma once
// Battery suite "SnapshotRestore": snapshot_to() taken while the store is open and in use,
// restore_from() into Factory::restore_location(): the result is unopened, opens with the
// same embedder identity (and rejects another), and holds every row bit-exact with its id,
// every quota and every meta value as of the snapshot. Later writes on either side do not
// leak into the other; ids are not reused after a restore; an unwritable snapshot target and
// a missing snapshot file are CheckpointErrors, damaged snapshot files are reported.
// Thread safety: test code, single-threaded.

#include <fstream>

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class SnapshotRestore : public StoreTestBase<F> {
 protected:
  using typename StoreTestBase<F>::S;

  // Fills the store with varied rows, quotas and meta; returns the rows as stored.
  std::vector<StoredEntry> fill(S& s) {
    std::vector<StoredEntry> rows;
    for (int i = 0; i < 30; ++i) {
      auto e = detail::make_entry(i % 3 == 0 ? "" : detail::numbered("ns", i % 3), detail::numbered("k", i), i);
      if (i % 4 == 0) e.ttl = Millis(1000 + i);
      e.embedding[0] = (i % 2) ? -0.0f : std::numeric_limits<float>::denorm_min();
      s.insert(e);
    }
    auto big = detail::make_entry("big", "big");
    big.response.assign(256 << 10, '\0');
    s.insert(big);
    const auto ids = detail::all_ids(s);
    s.update_access(ids[3], detail::at(5000));
    EXPECT_TRUE(s.delete_by_id(ids[4]));
    s.set_namespace_quota("ns1", 12);
    s.set_namespace_quota("", 34);
    s.write_meta("user-key", std::string("binary\0value", 12));
    return detail::all_entries(s);
  }

  // Opens a restored store, after checking that restore_from returned it unopened.
  static void open_restored(S& restored) {
    EXPECT_THROW((void)restored.count(), CacheClosed) << "restore_from returns an unopened store";
    restored.open(kFingerprint, kDim);
  }

  // True when restoring `snapshot` reports a problem: a StoreError from restore_from or open(),
  // or integrity_check() false on the result.
  bool restore_reports_problem(const std::filesystem::path& snapshot) {
    try {
      S restored = S::restore_from(snapshot, this->factory_.restore_location());
      restored.open(kFingerprint, kDim);
      return !restored.integrity_check();
    } catch (const StoreError&) {
      return true;
    }
  }
};
TYPED_TEST_SUITE_P(SnapshotRestore);

TYPED_TEST_P(SnapshotRestore, RoundTripKeepsRowsQuotasAndMeta) {
  using S = typename TypeParam::StoreType;
  detail::ScratchDir dir;
  auto s = this->open_store();
  const auto rows = this->fill(s);
  const auto lru = s.iter_lru_ids(1000);
  const auto namespaces = s.list_namespaces();
  s.snapshot_to(dir / "snap");
  EXPECT_TRUE(std::filesystem::exists(dir / "snap"));

  S restored = S::restore_from(dir / "snap", this->factory_.restore_location());
  this->open_restored(restored);
  const auto got = detail::all_entries(restored);
  ASSERT_EQ(got.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_TRUE(detail::same_entry(got[i], rows[i]));
  for (const auto& e : rows) EXPECT_TRUE(detail::same_entry(restored.get_by_hash(e.ns, e.query_hash), e));
  EXPECT_EQ(restored.iter_lru_ids(1000), lru);
  EXPECT_EQ(restored.list_namespaces(), namespaces);
  EXPECT_EQ(restored.count("ns1"), s.count("ns1"));
  EXPECT_EQ(restored.get_namespace_quota("ns1"), std::optional<std::size_t>(12));
  EXPECT_EQ(restored.get_namespace_quota(""), std::optional<std::size_t>(34));
  EXPECT_EQ(restored.read_meta("user-key"), std::optional<std::string>(std::string("binary\0value", 12)));
  EXPECT_EQ(restored.read_meta("fingerprint"), std::optional<std::string>(std::string(kFingerprint)));
  EXPECT_TRUE(restored.integrity_check());
}

TYPED_TEST_P(SnapshotRestore, RestoredStoreKeepsEmbedderIdentity) {
  using S = typename TypeParam::StoreType;
  detail::ScratchDir dir;
  auto s = this->open_store();
  this->put(s, "ns", "k");
  s.snapshot_to(dir / "snap");
  {
    S restored = S::restore_from(dir / "snap", this->factory_.restore_location());
    EXPECT_THROW(restored.open("engram:conformance:other", kDim), EmbedderMismatch);
  }
  {
    S restored = S::restore_from(dir / "snap", this->factory_.restore_location());
    EXPECT_THROW(restored.open(kFingerprint, kDim + 1), DimensionMismatch);
  }
}

TYPED_TEST_P(SnapshotRestore, SnapshotIsPointInTimeAndCopiesAreIndependent) {
  using S = typename TypeParam::StoreType;
  detail::ScratchDir dir;
  auto s = this->open_store();
  const EntryId a = this->put(s, "ns", "a");
  const EntryId b = this->put(s, "ns", "b");
  s.snapshot_to(dir / "snap");
  // The live store keeps working after the snapshot, and its later writes stay out of it.
  const EntryId c = this->put(s, "ns", "c");
  EXPECT_TRUE(s.delete_by_id(a));
  s.write_meta("after", "1");

  S restored = S::restore_from(dir / "snap", this->factory_.restore_location());
  this->open_restored(restored);
  EXPECT_TRUE(restored.get_by_id(a).has_value());
  EXPECT_TRUE(restored.get_by_id(b).has_value());
  EXPECT_FALSE(restored.get_by_id(c).has_value());
  EXPECT_FALSE(restored.read_meta("after").has_value());
  EXPECT_EQ(restored.count(), 2u);

  EXPECT_TRUE(restored.delete_by_id(b));
  this->put(restored, "restored-only", "x");
  EXPECT_TRUE(s.get_by_id(b).has_value()) << "writes to the restored copy must not reach the original";
  EXPECT_EQ(s.count("restored-only"), 0u);
  EXPECT_EQ(s.count(), 2u);
}

TYPED_TEST_P(SnapshotRestore, RestoredStoreDoesNotReuseIds) {
  using S = typename TypeParam::StoreType;
  detail::ScratchDir dir;
  auto s = this->open_store();
  this->put(s, "ns", "a");
  const EntryId newest = this->put(s, "ns", "b");
  EXPECT_TRUE(s.delete_by_id(newest));
  s.snapshot_to(dir / "snap");
  S restored = S::restore_from(dir / "snap", this->factory_.restore_location());
  this->open_restored(restored);
  const EntryId fresh = this->put(restored, "ns", "c");
  EXPECT_GT(fresh, newest) << "a restored store allocates ids above every id allocated before the snapshot";
  EXPECT_GE(restored.read_version_counter(), 4u) << "the counter never goes back below the snapshot's";
}

TYPED_TEST_P(SnapshotRestore, EmptyStoreRoundTrips) {
  using S = typename TypeParam::StoreType;
  detail::ScratchDir dir;
  auto s = this->open_store();
  s.snapshot_to(dir / "snap");
  S restored = S::restore_from(dir / "snap", this->factory_.restore_location());
  this->open_restored(restored);
  EXPECT_EQ(restored.count(), 0u);
  EXPECT_TRUE(restored.list_namespaces().empty());
  EXPECT_TRUE(restored.integrity_check());
}

// Contract row B5: a snapshot into a place that cannot be written is a CheckpointError (not
// just any StoreError), and the store stays usable.
TYPED_TEST_P(SnapshotRestore, UnwritableDestinationThrowsCheckpointError) {
  detail::ScratchDir dir;
  auto s = this->open_store();
  this->put(s, "ns", "k");
  EXPECT_THROW(s.snapshot_to(dir / "no-such-dir" / "deeper" / "snap"), CheckpointError);
  EXPECT_EQ(s.count(), 1u) << "a failed snapshot leaves the store usable";
  this->put(s, "ns", "k2");
  EXPECT_EQ(s.count(), 2u);
}

// Contract row B10: restore_from itself throws CheckpointError for a snapshot file that does
// not exist. Returning a store that later opens with integrity_check() false is not enough:
// the operator must learn at restore time that nothing was restored. When the factory names
// its live location, a failed restore into it must also leave the live store as it was.
TYPED_TEST_P(SnapshotRestore, MissingSnapshotThrowsCheckpointError) {
  using S = typename TypeParam::StoreType;
  detail::ScratchDir dir;
  EXPECT_THROW((void)S::restore_from(dir / "missing", this->factory_.restore_location()), CheckpointError)
      << "restoring from a file that does not exist must throw CheckpointError from restore_from";
  if constexpr (LiveLocationFactory<TypeParam>) {
    auto s = this->open_store();
    const EntryId id = this->put(s, "ns", "k");
    EXPECT_THROW((void)S::restore_from(dir / "missing", this->factory_.live_location()), CheckpointError);
    EXPECT_TRUE(s.get_by_id(id).has_value()) << "a failed restore leaves the destination as it was";
    EXPECT_EQ(s.read_version_counter(), 1u);
  }
}

TYPED_TEST_P(SnapshotRestore, DamagedSnapshotIsReported) {
  detail::ScratchDir dir;
  auto s = this->open_store();
  for (int i = 0; i < 40; ++i) this->put(s, "ns", detail::numbered("k", i));
  s.snapshot_to(dir / "snap");
  const auto size = std::filesystem::file_size(dir / "snap");
  ASSERT_GT(size, 64u);
  {
    std::ofstream garbage(dir / "garbage", std::ios::binary);
    for (std::uintmax_t i = 0; i < size; ++i) garbage.put(static_cast<char>((i * 7919 + 13) & 0xff));
  }
  std::filesystem::copy_file(dir / "snap", dir / "truncated");
  std::filesystem::resize_file(dir / "truncated", size / 2);

  for (const char* name : {"garbage", "truncated"}) {
    EXPECT_TRUE(this->restore_reports_problem(dir / name)) << "a " << name << " snapshot was accepted as healthy";
  }
}

REGISTER_TYPED_TEST_SUITE_P(SnapshotRestore, RoundTripKeepsRowsQuotasAndMeta, RestoredStoreKeepsEmbedderIdentity,
                            SnapshotIsPointInTimeAndCopiesAreIndependent, RestoredStoreDoesNotReuseIds,
                            EmptyStoreRoundTrips, UnwritableDestinationThrowsCheckpointError,
                            MissingSnapshotThrowsCheckpointError, DamagedSnapshotIsReported);

}  // namespace engram::conformance
