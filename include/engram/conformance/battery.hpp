#pragma once
// The engram store compliance battery: proves that a type satisfying engram::Store meets the
// behavioural contract the cache relies on (docs/store-contract.md), not just the signatures.
//
// Usage, in one test source file at global scope:
//
//   #include <engram/conformance/battery.hpp>
//   struct MyFactory {
//     using StoreType = MyStore;
//     static constexpr bool kSharedAcrossProcesses = true;  // optional, default false
//     MyFactory();                      // per test: a fresh, empty backing; ~MyFactory cleans up
//     MyStore make();                   // a new, UNOPENED handle on this test's backing; every
//                                       // call is another handle (a "reopen") on the same data;
//                                       // must work in a fork()ed child when shared
//     MyStore::Location restore_location();  // a fresh, empty destination for restore_from
//     MyStore::Location live_location();     // optional: the Location make() opens, so that a
//                                            // snapshot can be restored INTO the live store
//                                            // (suite Lineage); without it those tests skip
//     void corrupt();                   // optional: damage the backing so that open() throws
//                                       // StoreCorrupt or integrity_check() returns false
//   };
//   ENGRAM_INSTANTIATE_STORE_BATTERY(MyStore, MyFactory);
//
// and link GTest::gtest_main (or your own main). Tests are named
// <Prefix>/<Suite>/0.<Test>, e.g. MyStore/Lifecycle/0.CloseIsIdempotent. The suites are
// Lifecycle, RoundTrip, Namespaces, LruOrdering, UpdateDelete, Quotas, VersionAndChanges,
// Lineage, Meta, Integrity, SnapshotRestore, Robustness, Refinements and MultiProcess. Tests
// the factory cannot support skip themselves (GTEST_SKIP) and also print a line starting
// "engram battery: SKIPPED" on stderr naming the factory and what was not checked: the
// MultiProcess tests when kSharedAcrossProcesses is false, the Lineage tests that restore
// into the live location when live_location() is absent.
//
// The battery opens every store with fingerprint "engram:conformance:v1:d8" and dimension
// 8, except where a test deliberately uses another identity. It needs GoogleTest and POSIX
// (fork, pipe, mkdtemp).
//
// Thread safety: the tests call the store from one thread; the MultiProcess suite forks.

#include "engram/conformance/common.hpp"
#include "engram/conformance/integrity.hpp"
#include "engram/conformance/lifecycle.hpp"
#include "engram/conformance/lineage.hpp"
#include "engram/conformance/lru_ordering.hpp"
#include "engram/conformance/meta.hpp"
#include "engram/conformance/multi_process.hpp"
#include "engram/conformance/namespaces.hpp"
#include "engram/conformance/quotas.hpp"
#include "engram/conformance/refinements.hpp"
#include "engram/conformance/robustness.hpp"
#include "engram/conformance/round_trip.hpp"
#include "engram/conformance/snapshot_restore.hpp"
#include "engram/conformance/update_delete.hpp"
#include "engram/conformance/version_and_changes.hpp"

namespace engram::conformance {

// Checks, at compile time, what the battery needs from a factory beyond engram::Store.
template <class F>
concept StoreFactory = requires(F& f) {
  typename F::StoreType;
  requires engram::Store<typename F::StoreType>;
  requires std::default_initializable<F>;
  { f.make() } -> std::same_as<typename F::StoreType>;
  { f.restore_location() } -> std::convertible_to<typename F::StoreType::Location>;
};

}  // namespace engram::conformance

// Instantiates every suite of the battery for `Factory`, with test names prefixed by
// `Prefix` (an identifier). Use once per factory, at global scope, in a test source file.
#define ENGRAM_INSTANTIATE_STORE_BATTERY(Prefix, Factory)                                        \
  static_assert(::engram::conformance::StoreFactory<Factory>,                                    \
                #Factory " does not meet the battery's factory requirements (see battery.hpp)"); \
  namespace engram::conformance {                                                                \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, Lifecycle, ::testing::Types<Factory>);                  \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, RoundTrip, ::testing::Types<Factory>);                  \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, Namespaces, ::testing::Types<Factory>);                 \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, LruOrdering, ::testing::Types<Factory>);                \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, UpdateDelete, ::testing::Types<Factory>);               \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, Quotas, ::testing::Types<Factory>);                     \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, VersionAndChanges, ::testing::Types<Factory>);          \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, Lineage, ::testing::Types<Factory>);                    \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, Meta, ::testing::Types<Factory>);                       \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, Integrity, ::testing::Types<Factory>);                  \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, SnapshotRestore, ::testing::Types<Factory>);            \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, Robustness, ::testing::Types<Factory>);                 \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, Refinements, ::testing::Types<Factory>);                \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, MultiProcess, ::testing::Types<Factory>);               \
  }                                                                                              \
  static_assert(true, "")
