#pragma once
// Shared fixture and helpers of the compliance battery (see battery.hpp for how to use it).
//
// Purpose. Every suite of the battery derives its fixture from StoreTestBase<Factory>, which
// constructs a fresh Factory per test (a fresh, empty backing) and offers helpers to make,
// open and fill stores with deterministic entries. The helpers compare entries field by
// field, embeddings bit by bit, so that -0.0f, denormals and the exact float bits of a row
// survive every store.
//
// Thread safety. Test code: one test runs at a time on one thread; the multi-process suite
// forks, and its children only use fork-safe helpers and _exit().

#include <gtest/gtest.h>
#include <unistd.h>

#include <cxxabi.h>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "engram/errors.hpp"
#include "engram/store.hpp"
#include "engram/types.hpp"

namespace engram::conformance {

// Every store in the battery is opened with this embedder identity.
inline constexpr std::string_view kFingerprint = "engram:conformance:v1:d8";
inline constexpr std::size_t kDim = 8;

// A factory may provide corrupt(): damage the backing so that open() throws StoreCorrupt or
// integrity_check() returns false.
template <class F>
concept CorruptibleFactory = requires(F& f) {
  f.corrupt();
};

// F::kSharedAcrossProcesses, or false when the factory does not declare it.
template <class F>
constexpr bool shared_across_processes() {
  if constexpr (requires { F::kSharedAcrossProcesses; }) return static_cast<bool>(F::kSharedAcrossProcesses);
  else return false;
}

// A factory may provide live_location(): the Location of the backing that make() opens, so
// that the battery can restore a snapshot INTO the live store (the lineage rules L2 and L3 of
// docs/store-contract.md are about exactly that case). Optional so that factories written
// before it existed keep compiling; the tests that need it skip loudly without it.
template <class F>
concept LiveLocationFactory = requires(F& f) {
  { f.live_location() } -> std::convertible_to<typename F::StoreType::Location>;
};

namespace detail {

// The factory's type, readable ("(anonymous namespace)::DictFactory"), for skip messages.
template <class F>
std::string type_name() {
  int status = 0;
  char* readable = abi::__cxa_demangle(typeid(F).name(), nullptr, nullptr, &status);
  std::string out = status == 0 && readable ? readable : typeid(F).name();
  std::free(readable);
  return out;
}

// The reason a test is skipped, said twice: as GTEST_SKIP's message (which ctest and
// --gtest_brief can hide) and as a line on stderr naming the test and the factory, because a
// suite that silently skips lets a store pass requirements it was never checked against.
template <class F>
std::string loud_skip_reason(const std::string& reason) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "?";
  std::string message = "NOT CHECKED for factory " + type_name<F>() + ": " + reason;
  std::fprintf(stderr, "engram battery: SKIPPED %s -- %s\n", test.c_str(), message.c_str());
  std::fflush(stderr);
  return message;
}

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction. The battery
// ships its own so that a third-party project needs nothing from engram's test tree.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): test code, nothing sets the environment
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/engram-battery-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("engram battery: mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::uint64_t fnv1a(std::string_view bytes, std::uint64_t basis) {
  std::uint64_t h = basis;
  for (char c : bytes) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ULL;
  return h;
}

// A deterministic 16-byte stand-in for the XXH3-128 of a query: stores treat the hash as
// opaque bytes, so the battery needs only distinct, reproducible values.
inline QueryHash hash_of(std::string_view key) {
  QueryHash h;
  const std::uint64_t hi = fnv1a(key, 0xcbf29ce484222325ULL);
  const std::uint64_t lo = fnv1a(key, 0x84222325cbf29ce4ULL);
  for (int i = 0; i < 8; ++i) {
    h.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
    h.bytes[8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
  }
  return h;
}

// A deterministic unit vector of `dim` floats.
inline std::vector<float> embedding_of(std::uint64_t seed, std::size_t dim = kDim) {
  std::vector<float> v(dim);
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  double norm = 0;
  for (auto& f : v) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    f = static_cast<float>(static_cast<double>(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    norm += static_cast<double>(f) * f;
  }
  if (norm > 0)
    for (auto& f : v) f = static_cast<float>(f / std::sqrt(norm));
  return v;
}

// An arbitrary fixed instant (2023-11-14T22:13:20Z) plus `offset_ms`.
inline Timestamp at(std::int64_t offset_ms) { return Timestamp(Millis(1'700'000'000'000LL + offset_ms)); }

// A complete entry keyed by (ns, key); every field differs between keys.
// `prefix` followed by the decimal `n`. Built by appending because g++ 12 at -O3 reports a
// false -Wrestrict on "literal" + std::to_string(n) (libstdc++ PR 105329), and users compile
// this battery with -Werror.
inline std::string numbered(std::string_view prefix, long long n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

inline StoredEntry make_entry(std::string ns, const std::string& key, std::int64_t t = 0) {
  StoredEntry e;
  e.ns = std::move(ns);
  e.query_hash = hash_of(e.ns + '\x1f' + key);
  e.query = "query " + key;
  e.response = "response for " + key;
  e.embedding = embedding_of(fnv1a(key, 7));
  e.metadata = R"({"key":")" + key + R"("})";
  e.created_at = at(t);
  e.last_accessed_at = at(t);
  e.access_count = 0;
  return e;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i])) return false;
  return true;
}

inline std::string printable(std::string_view s, std::size_t max = 80) {
  std::ostringstream out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) out << s[i];
    else
      out << "\\x"
          << "0123456789abcdef"[c >> 4] << "0123456789abcdef"[c & 15];
  }
  if (s.size() > max) out << "...(" << s.size() << " bytes)";
  return out.str();
}

// Field-by-field equality with bit-exact embeddings. With check_id false the ids may differ.
inline ::testing::AssertionResult same_entry(const StoredEntry& actual, const StoredEntry& expected,
                                             bool check_id = true) {
  auto fail = [](const char* field, const std::string& a, const std::string& e) {
    return ::testing::AssertionFailure() << "field " << field << " differs: stored '" << a << "', expected '" << e
                                         << "'";
  };
  if (check_id && actual.id != expected.id) return fail("id", std::to_string(actual.id), std::to_string(expected.id));
  if (actual.ns != expected.ns) return fail("ns", printable(actual.ns), printable(expected.ns));
  if (actual.query_hash != expected.query_hash)
    return fail("query_hash", actual.query_hash.hex(), expected.query_hash.hex());
  if (actual.query != expected.query) return fail("query", printable(actual.query), printable(expected.query));
  if (actual.response != expected.response)
    return fail("response", printable(actual.response), printable(expected.response));
  if (!same_bits(actual.embedding, expected.embedding))
    return fail("embedding", std::to_string(actual.embedding.size()) + " floats",
                std::to_string(expected.embedding.size()) + " floats, bit-exact");
  if (actual.metadata != expected.metadata)
    return fail("metadata", printable(actual.metadata), printable(expected.metadata));
  if (actual.created_at != expected.created_at)
    return fail("created_at", std::to_string(actual.created_at.time_since_epoch().count()),
                std::to_string(expected.created_at.time_since_epoch().count()));
  if (actual.last_accessed_at != expected.last_accessed_at)
    return fail("last_accessed_at", std::to_string(actual.last_accessed_at.time_since_epoch().count()),
                std::to_string(expected.last_accessed_at.time_since_epoch().count()));
  if (actual.ttl != expected.ttl)
    return fail("ttl", actual.ttl ? std::to_string(actual.ttl->count()) : "none",
                expected.ttl ? std::to_string(expected.ttl->count()) : "none");
  if (actual.access_count != expected.access_count)
    return fail("access_count", std::to_string(actual.access_count), std::to_string(expected.access_count));
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_entry(const std::optional<StoredEntry>& actual, const StoredEntry& expected,
                                             bool check_id = true) {
  if (!actual) return ::testing::AssertionFailure() << "entry is missing (nullopt)";
  return same_entry(*actual, expected, check_id);
}

template <class S>
std::vector<StoredEntry> all_entries(const S& s) {
  std::vector<StoredEntry> out;
  s.iter_all([&](const StoredEntry& e) {
    out.push_back(e);
    return true;
  });
  return out;
}

template <class S>
std::vector<EntryId> all_ids(const S& s) {
  std::vector<EntryId> out;
  s.iter_all([&](const StoredEntry& e) {
    out.push_back(e.id);
    return true;
  });
  return out;
}

template <class S>
std::vector<Change> all_changes(const S& s, std::uint64_t since = 0) {
  auto changes = s.changes_since(since, std::numeric_limits<std::size_t>::max());
  if (!changes) {
    ADD_FAILURE() << "changes_since(" << since << ") returned nullopt on a store whose counter is "
                  << s.read_version_counter() << " (the retained log must reach back that far)";
    return {};
  }
  return *changes;
}

// insert_many when the store has it (one transaction), else insert in a loop, as the cache
// does.
template <class S>
std::vector<EntryId> insert_batch(S& s, std::span<const StoredEntry> entries) {
  if constexpr (BulkInsertStore<S>) {
    return s.insert_many(entries);
  } else {
    std::vector<EntryId> ids;
    for (const auto& e : entries) ids.push_back(s.insert(e));
    return ids;
  }
}

inline const char* kind_name(ChangeKind k) { return k == ChangeKind::kUpsert ? "upsert" : "delete"; }

}  // namespace detail

// Base of every suite's fixture: a fresh Factory (and so a fresh, empty backing) per test.
template <class F>
class StoreTestBase : public ::testing::Test {
 protected:
  using S = typename F::StoreType;
  static_assert(engram::Store<S>, "Factory::StoreType must satisfy engram::Store");

  // A new unopened handle on this test's backing.
  S make() { return factory_.make(); }

  // A new handle on this test's backing, opened with the battery's embedder identity.
  S open_store() {
    S s = factory_.make();
    s.open(kFingerprint, kDim);
    return s;
  }

  // Inserts make_entry(ns, key, t) and returns the id.
  static EntryId put(S& s, const std::string& ns, const std::string& key, std::int64_t t = 0) {
    return s.insert(detail::make_entry(ns, key, t));
  }

  F factory_;
};

}  // namespace engram::conformance
