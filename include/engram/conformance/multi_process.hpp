#pragma once
// Battery suite "MultiProcess": several fork()ed processes write into one backing at the
// same time, each through its own handle made by Factory::make() in the child. Afterwards
// ids are unique, counts are exact, concurrent upserts of one (ns, hash) collapse into one
// row, and the version counter equals the number of changes, each with its own version in
// the feed. Quotas and meta written by one process are seen by another.
//
// Runs only for factories with kSharedAcrossProcesses = true; for others every test is
// skipped with GTEST_SKIP() (an in-process backing cannot be shared with a child), and the
// skip names the factory on stderr too so that it cannot pass unnoticed.
//
// Children never return into GoogleTest: they report through their exit status (and a line
// on stderr) and leave with _exit(). The parent waits at most two minutes per child.
// Thread safety: test code, single-threaded (until it forks).

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <thread>

#include "engram/conformance/common.hpp"

namespace engram::conformance {

namespace detail {

// Forks `n` children that block until all exist, then run body(index); returns the list of
// failures (empty when every child exited 0 in time).
inline std::vector<std::string> run_children(int n, const std::function<void(int)>& body) {
  std::vector<std::string> failures;
  int gate[2];
  if (::pipe(gate) != 0) return {"pipe() failed"};
  std::fflush(nullptr);  // do not let children replay buffered parent output
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      failures.emplace_back("fork() failed");
      break;
    }
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) > 0) {
      }  // EOF: every sibling is forked, start together
      int status = 0;
      try {
        body(i);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "engram battery: child %d failed: %s\n", i, e.what());
        status = 1;
      } catch (...) {
        std::fprintf(stderr, "engram battery: child %d failed with an unknown exception\n", i);
        status = 1;
      }
      std::fflush(stderr);
      ::_exit(status);
    }
    pids.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  for (std::size_t i = 0; i < pids.size(); ++i) {
    const auto child = static_cast<long long>(i);
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pids[i], &status, WNOHANG);
      if (r == pids[i]) break;
      if (r < 0) {
        failures.push_back(detail::numbered("waitpid failed for child ", child));
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pids[i], SIGKILL);
        ::waitpid(pids[i], &status, 0);
        failures.push_back(detail::numbered("child ", child) + " did not finish within two minutes (deadlock?)");
        status = 0;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
      failures.push_back(
          detail::numbered(detail::numbered("child ", child) + " exited with status ", WEXITSTATUS(status)));
    if (WIFSIGNALED(status))
      failures.push_back(
          detail::numbered(detail::numbered("child ", child) + " was killed by signal ", WTERMSIG(status)));
  }
  return failures;
}

// Throws (and so fails the child) when a condition does not hold.
inline void child_check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

}  // namespace detail

template <class F>
class MultiProcess : public StoreTestBase<F> {
 protected:
  void SetUp() override {
    // Loud on purpose: a factory that forgets kSharedAcrossProcesses would otherwise pass
    // without its store ever facing a second process.
    if constexpr (!shared_across_processes<F>())
      GTEST_SKIP() << detail::loud_skip_reason<F>(
          "kSharedAcrossProcesses is false or absent, so the MultiProcess suite (concurrent writers in "
          "several processes: unique ids, exact counts, no lost versions) did not run. Set "
          "kSharedAcrossProcesses = true in the factory if make() works in a fork()ed child.");
  }

  // Forks `n` writers running body(store, index) on their own handle; fails the test on any
  // child failure.
  void run_writers(int n, const std::function<void(typename F::StoreType&, int)>& body) {
    auto failures = detail::run_children(n, [&](int i) {
      auto s = this->factory_.make();
      s.open(kFingerprint, kDim);
      body(s, i);
      s.close();
    });
    for (const auto& f : failures) ADD_FAILURE() << f;
  }
};
TYPED_TEST_SUITE_P(MultiProcess);

TYPED_TEST_P(MultiProcess, TwoProcessesInsertConcurrently) {
  auto s = this->open_store();  // creates the schema before the children race
  constexpr int kPerChild = 1000;
  this->run_writers(2, [](auto& store, int child) {
    for (int i = 0; i < kPerChild; ++i) {
      // Half in a namespace of its own, half in a namespace both children share.
      const std::string ns = i % 2 ? detail::numbered("child", child) : "shared";
      store.insert(detail::make_entry(ns, detail::numbered(detail::numbered("c", child) + "-", i), i));
    }
  });
  EXPECT_EQ(s.count(), 2u * kPerChild);
  EXPECT_EQ(s.count("shared"), static_cast<std::size_t>(kPerChild));
  EXPECT_EQ(s.count("child0"), static_cast<std::size_t>(kPerChild / 2));
  const auto ids = detail::all_ids(s);
  EXPECT_EQ(std::set<EntryId>(ids.begin(), ids.end()).size(), 2u * kPerChild) << "ids are unique";
  EXPECT_EQ(s.read_version_counter(), 2u * kPerChild) << "one version per change, none lost or doubled";
  const auto changes = detail::all_changes(s);
  ASSERT_EQ(changes.size(), 2u * kPerChild);
  for (std::size_t i = 0; i < changes.size(); ++i) EXPECT_EQ(changes[i].version, i + 1);
  EXPECT_TRUE(s.integrity_check());
}

TYPED_TEST_P(MultiProcess, FourProcessesMixedWrites) {
  auto s = this->open_store();
  constexpr int kChildren = 4, kOwn = 400, kShared = 100, kDeleted = 100;
  this->run_writers(kChildren, [](auto& store, int child) {
    std::vector<EntryId> own;
    for (int i = 0; i < kOwn; ++i) {
      own.push_back(store.insert(detail::make_entry(detail::numbered("own", child), detail::numbered("k", i), i)));
      if (i < kShared)  // every child upserts the same kShared keys: they collapse into kShared rows
        store.insert(detail::make_entry("hot", detail::numbered("k", i), i));
    }
    for (int i = 0; i < kDeleted; ++i)
      detail::child_check(store.delete_by_id(own[static_cast<std::size_t>(i) * 2]), "own row vanished before delete");
    detail::child_check(store.count(detail::numbered("own", child)) == static_cast<std::size_t>(kOwn - kDeleted),
                        "own count wrong in child");
  });
  EXPECT_EQ(s.count("hot"), static_cast<std::size_t>(kShared)) << "concurrent upserts of one key make one row";
  for (int c = 0; c < kChildren; ++c)
    EXPECT_EQ(s.count(detail::numbered("own", c)), static_cast<std::size_t>(kOwn - kDeleted));
  EXPECT_EQ(s.count(), static_cast<std::size_t>(kShared + kChildren * (kOwn - kDeleted)));
  const auto ids = detail::all_ids(s);
  EXPECT_EQ(std::set<EntryId>(ids.begin(), ids.end()).size(), ids.size());
  const std::uint64_t total_changes = std::uint64_t{kChildren} * (kOwn + kShared + kDeleted);
  EXPECT_EQ(s.read_version_counter(), total_changes);
  const auto changes = detail::all_changes(s);
  ASSERT_EQ(changes.size(), total_changes);
  std::size_t deletes = 0;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].version, i + 1);
    deletes += changes[i].kind == ChangeKind::kDelete ? 1 : 0;
  }
  EXPECT_EQ(deletes, static_cast<std::size_t>(kChildren * kDeleted));
  std::set<EntryId> hot_ids;
  for (int i = 0; i < kShared; ++i) {
    auto e = s.get_by_hash("hot", detail::make_entry("hot", detail::numbered("k", i)).query_hash);
    ASSERT_TRUE(e.has_value());
    hot_ids.insert(e->id);
  }
  EXPECT_EQ(hot_ids.size(), static_cast<std::size_t>(kShared));
  EXPECT_TRUE(s.integrity_check());
}

TYPED_TEST_P(MultiProcess, ProcessesSeeEachOthersWrites) {
  auto s = this->open_store();
  const EntryId parent_row = this->put(s, "ns", "from-parent");
  s.set_namespace_quota("ns", 5);
  this->run_writers(1, [parent_row](auto& store, int) {
    detail::child_check(store.get_by_id(parent_row).has_value(), "child cannot see the parent's row");
    detail::child_check(store.get_namespace_quota("ns") == std::optional<std::size_t>(5),
                        "child cannot see the parent's quota");
    store.set_namespace_quota("ns", 9);
    store.write_meta("written-by", "child");
    store.insert(detail::make_entry("ns", "from-child"));
  });
  EXPECT_EQ(s.get_namespace_quota("ns"), std::optional<std::size_t>(9)) << "a quota set by another process applies";
  EXPECT_EQ(s.read_meta("written-by"), std::optional<std::string>("child"));
  EXPECT_TRUE(s.get_by_hash("ns", detail::make_entry("ns", "from-child").query_hash).has_value());
  EXPECT_EQ(s.read_version_counter(), 2u);
  const auto changes = detail::all_changes(s, 1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, ChangeKind::kUpsert);
}

REGISTER_TYPED_TEST_SUITE_P(MultiProcess, TwoProcessesInsertConcurrently, FourProcessesMixedWrites,
                            ProcessesSeeEachOthersWrites);

}  // namespace engram::conformance
