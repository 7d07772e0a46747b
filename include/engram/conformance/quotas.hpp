#pragma once
// Battery suite "Quotas": set/get/overwrite of per-namespace entry limits, independence of
// prefix namespaces, quotas for namespaces without entries, and persistence across reopen
// (a quota set by one process or handle is seen by every other).
// Thread safety: test code, single-threaded.

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class Quotas : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(Quotas);

TYPED_TEST_P(Quotas, UnsetQuotaIsNullopt) {
  auto s = this->open_store();
  this->put(s, "ns", "k");
  EXPECT_FALSE(s.get_namespace_quota("ns").has_value());
  EXPECT_FALSE(s.get_namespace_quota("").has_value());
}

TYPED_TEST_P(Quotas, SetGetOverwrite) {
  auto s = this->open_store();
  s.set_namespace_quota("ns", 100);
  EXPECT_EQ(s.get_namespace_quota("ns"), std::optional<std::size_t>(100));
  s.set_namespace_quota("ns", 5);
  EXPECT_EQ(s.get_namespace_quota("ns"), std::optional<std::size_t>(5)) << "a later set replaces the quota";
  s.set_namespace_quota("ns", 0);
  EXPECT_EQ(s.get_namespace_quota("ns"), std::optional<std::size_t>(0)) << "0 is a quota, not 'unset'";
  s.set_namespace_quota("big", std::size_t{1} << 40);
  EXPECT_EQ(s.get_namespace_quota("big"), std::optional<std::size_t>(std::size_t{1} << 40));
}

TYPED_TEST_P(Quotas, QuotasArePerNamespace) {
  auto s = this->open_store();
  s.set_namespace_quota("a", 1);
  s.set_namespace_quota("a:", 2);
  s.set_namespace_quota("a:b", 3);
  s.set_namespace_quota("", 4);
  EXPECT_EQ(s.get_namespace_quota("a"), std::optional<std::size_t>(1));
  EXPECT_EQ(s.get_namespace_quota("a:"), std::optional<std::size_t>(2));
  EXPECT_EQ(s.get_namespace_quota("a:b"), std::optional<std::size_t>(3));
  EXPECT_EQ(s.get_namespace_quota(""), std::optional<std::size_t>(4));
  EXPECT_FALSE(s.get_namespace_quota("a:b:c").has_value());
  EXPECT_FALSE(s.get_namespace_quota("A").has_value());
}

TYPED_TEST_P(Quotas, QuotaNeedsNoEntriesAndCreatesNone) {
  auto s = this->open_store();
  s.set_namespace_quota("empty", 9);
  EXPECT_EQ(s.get_namespace_quota("empty"), std::optional<std::size_t>(9));
  EXPECT_EQ(s.count(), 0u);
  EXPECT_TRUE(s.list_namespaces().empty());
}

TYPED_TEST_P(Quotas, QuotasPersistAcrossReopen) {
  {
    auto s = this->open_store();
    s.set_namespace_quota("tenant-a", 11);
    s.set_namespace_quota("tenant-b", 22);
    s.set_namespace_quota("tenant-a", 33);
    s.close();
  }
  auto s = this->open_store();
  EXPECT_EQ(s.get_namespace_quota("tenant-a"), std::optional<std::size_t>(33));
  EXPECT_EQ(s.get_namespace_quota("tenant-b"), std::optional<std::size_t>(22));
}

REGISTER_TYPED_TEST_SUITE_P(Quotas, UnsetQuotaIsNullopt, SetGetOverwrite, QuotasArePerNamespace,
                            QuotaNeedsNoEntriesAndCreatesNone, QuotasPersistAcrossReopen);

}  // namespace engram::conformance
