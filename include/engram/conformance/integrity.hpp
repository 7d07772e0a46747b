#pragma once
// Battery suite "Integrity": integrity_check() is true on a healthy store (fresh, after
// writes and deletes, after a reopen), false on a handle that is not open, never throws,
// and, when the factory can damage the backing (Factory::corrupt()), the damage is reported:
// open() throws StoreCorrupt or integrity_check() returns false.
// Thread safety: test code, single-threaded.

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class Integrity : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(Integrity);

TYPED_TEST_P(Integrity, HealthyStoreChecksTrue) {
  auto s = this->open_store();
  EXPECT_TRUE(s.integrity_check()) << "fresh store";
  for (int i = 0; i < 50; ++i) this->put(s, detail::numbered("ns", i % 3), detail::numbered("k", i));
  for (EntryId id : s.iter_lru_ids(10)) s.delete_by_id(id);
  s.set_namespace_quota("ns0", 4);
  s.write_meta("k", "v");
  EXPECT_TRUE(s.integrity_check()) << "after writes and deletes";
  s.close();
  auto again = this->open_store();
  EXPECT_TRUE(again.integrity_check()) << "after a reopen";
}

TYPED_TEST_P(Integrity, NotOpenChecksFalseWithoutThrowing) {
  static_assert(noexcept(std::declval<const typename TypeParam::StoreType&>().integrity_check()));
  auto unopened = this->make();
  EXPECT_FALSE(unopened.integrity_check()) << "a handle that is not open cannot vouch for the data";
  auto s = this->open_store();
  this->put(s, "ns", "k");
  s.close();
  EXPECT_FALSE(s.integrity_check()) << "after close()";
}

TYPED_TEST_P(Integrity, InjectedCorruptionIsDetected) {
  {
    auto s = this->open_store();
    for (int i = 0; i < 20; ++i) this->put(s, "ns", detail::numbered("k", i));
    s.set_namespace_quota("ns", 10);
    ASSERT_TRUE(s.integrity_check());
    s.close();
  }
  if constexpr (CorruptibleFactory<TypeParam>) {
    this->factory_.corrupt();
    auto s = this->make();
    bool opened = false;
    try {
      s.open(kFingerprint, kDim);
      opened = true;
    } catch (const StoreCorrupt&) {
      // Reported at open: acceptable.
    }
    if (opened) {
      EXPECT_FALSE(s.integrity_check()) << "open() succeeded on a damaged backing, so integrity_check() must say false";
    }
  } else {
    // Without a way to damage the backing, check the weaker property that a healthy
    // backing survives a close and reopen intact.
    auto s = this->open_store();
    EXPECT_TRUE(s.integrity_check());
    EXPECT_EQ(s.count(), 20u);
  }
}

REGISTER_TYPED_TEST_SUITE_P(Integrity, HealthyStoreChecksTrue, NotOpenChecksFalseWithoutThrowing,
                            InjectedCorruptionIsDetected);

}  // namespace engram::conformance
