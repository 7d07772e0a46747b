#pragma once
// Battery suite "Namespaces": count per namespace and in total, list_namespaces (byte-order
// sorted, distinct, only namespaces that hold entries, "" included when it does), namespaces
// disappearing when emptied by any delete path, and isolation of namespaces that are
// prefixes of each other or contain separator, glob and SQL wildcard characters.
// Thread safety: test code, single-threaded.

#include <algorithm>

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class Namespaces : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(Namespaces);

TYPED_TEST_P(Namespaces, CountPerNamespaceAndTotal) {
  auto s = this->open_store();
  for (int i = 0; i < 5; ++i) this->put(s, "a", detail::numbered("k", i));
  for (int i = 0; i < 3; ++i) this->put(s, "b", detail::numbered("k", i));
  this->put(s, "", "k");
  EXPECT_EQ(s.count(), 9u);
  EXPECT_EQ(s.count(std::nullopt), 9u);
  EXPECT_EQ(s.count("a"), 5u);
  EXPECT_EQ(s.count("b"), 3u);
  EXPECT_EQ(s.count(""), 1u);
  EXPECT_EQ(s.count("c"), 0u);
  this->put(s, "a", "k0");  // an upsert does not add a row
  EXPECT_EQ(s.count("a"), 5u);
}

TYPED_TEST_P(Namespaces, ListIsSortedDistinctAndNonEmptyOnly) {
  auto s = this->open_store();
  const std::vector<std::string> inserted = {"b", "a", "\xc3\xa9t\xc3\xa9", "B", "a", "", "b", "a:b", "~", "a"};
  for (std::size_t i = 0; i < inserted.size(); ++i)
    this->put(s, inserted[i], detail::numbered("k", static_cast<long long>(i)));
  s.set_namespace_quota("quota-only", 5);  // a quota alone does not make a namespace exist
  std::vector<std::string> expected = {"", "B", "a", "a:b", "b", "~", "\xc3\xa9t\xc3\xa9"};
  EXPECT_EQ(s.list_namespaces(), expected) << "byte order (unsigned), distinct, only namespaces with entries";
}

TYPED_TEST_P(Namespaces, NamespaceDisappearsWhenEmptied) {
  auto s = this->open_store();
  const EntryId by_id = this->put(s, "by-id", "k");
  this->put(s, "by-clear", "k1");
  this->put(s, "by-clear", "k2");
  auto expiring = detail::make_entry("by-expiry", "k", 0);
  expiring.ttl = Millis(10);
  s.insert(expiring);
  const EntryId many1 = this->put(s, "by-many", "k1");
  const EntryId many2 = this->put(s, "by-many", "k2");
  this->put(s, "stays", "k");
  EXPECT_EQ(s.list_namespaces().size(), 5u);

  EXPECT_TRUE(s.delete_by_id(by_id));
  EXPECT_EQ(s.clear_namespace("by-clear"), 2u);
  EXPECT_EQ(s.delete_expired(detail::at(10)), 1u);
  const EntryId both[] = {many1, many2};
  EXPECT_EQ(s.delete_many(both), 2u);
  EXPECT_EQ(s.list_namespaces(), std::vector<std::string>{"stays"});
  EXPECT_EQ(s.count("by-clear"), 0u);
  EXPECT_TRUE(s.iter_lru_ids(10, "by-many").empty());
}

TYPED_TEST_P(Namespaces, PrefixNamespacesAreIndependent) {
  auto s = this->open_store();
  const std::vector<std::string> names = {"a", "a:b", "a:", ""};
  std::vector<StoredEntry> entries;
  for (const auto& ns : names) {
    auto e = detail::make_entry(ns, "same-key");
    e.query_hash = detail::hash_of("one hash for all");  // identical hash in every namespace
    e.response = "answer in '" + ns + "'";
    e.ttl = Millis(5);
    e.id = s.insert(e);
    entries.push_back(e);
  }
  EXPECT_EQ(s.count(), 4u);
  for (const auto& e : entries) {
    EXPECT_EQ(s.count(e.ns), 1u) << "ns '" << e.ns << "'";
    EXPECT_TRUE(detail::same_entry(s.get_by_hash(e.ns, e.query_hash), e)) << "ns '" << e.ns << "'";
    EXPECT_EQ(s.iter_lru_ids(10, e.ns), std::vector<EntryId>{e.id}) << "ns '" << e.ns << "'";
  }
  EXPECT_EQ(s.list_namespaces(), (std::vector<std::string>{"", "a", "a:", "a:b"}));

  EXPECT_EQ(s.delete_expired(detail::at(100), std::string_view("a:")), 1u);
  EXPECT_FALSE(s.get_by_id(entries[2].id).has_value());
  EXPECT_EQ(s.clear_namespace("a"), 1u);
  EXPECT_TRUE(s.get_by_id(entries[1].id).has_value()) << "clearing 'a' must not touch 'a:b'";
  EXPECT_TRUE(s.get_by_id(entries[3].id).has_value()) << "clearing 'a' must not touch ''";
  EXPECT_EQ(s.clear_namespace(""), 1u);
  EXPECT_TRUE(s.get_by_id(entries[1].id).has_value()) << "clearing '' must not touch 'a:b'";
  EXPECT_EQ(s.list_namespaces(), std::vector<std::string>{"a:b"});
}

TYPED_TEST_P(Namespaces, SeparatorsAndWildcardsAreLiteral) {
  auto s = this->open_store();
  // Characters that key-pattern (Redis glob), LIKE (SQL) or path-based schemes treat
  // specially, each next to a plain namespace the pattern would also match.
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"a*", "ab"}, {"a?", "ac"},       {"a[b]", "ab]"}, {"a%", "ax"},    {"a_", "ay"},
      {"a/b", "a"}, {"a\\b", "a\\\\b"}, {"a b", "a\tb"}, {"a'b", "a\"b"}, {"a{x}", "a:x"},
  };
  for (const auto& [special, plain] : pairs) {
    this->put(s, special, "k");
    this->put(s, plain, "k");
  }
  for (const auto& [special, plain] : pairs) {
    EXPECT_EQ(s.count(special), 1u) << "'" << special << "'";
    EXPECT_EQ(s.count(plain), 1u) << "'" << plain << "'";
  }
  for (const auto& [special, plain] : pairs) {
    const std::size_t plain_before = s.count(plain);
    EXPECT_EQ(s.clear_namespace(special), 1u) << "'" << special << "'";
    EXPECT_EQ(s.count(plain), plain_before) << "clearing '" << special << "' touched '" << plain << "'";
  }
  for (const auto& [special, plain] : pairs) EXPECT_EQ(s.count(special), 0u);
}

TYPED_TEST_P(Namespaces, ManyNamespaces) {
  auto s = this->open_store();
  std::vector<std::string> expected;
  for (int i = 0; i < 300; ++i) {
    std::string ns = detail::numbered("tenant-", i);
    this->put(s, ns, "k1");
    this->put(s, ns, "k2");
    expected.push_back(ns);
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(s.list_namespaces(), expected);
  EXPECT_EQ(s.count(), 600u);
  EXPECT_EQ(s.count("tenant-17"), 2u);
}

REGISTER_TYPED_TEST_SUITE_P(Namespaces, CountPerNamespaceAndTotal, ListIsSortedDistinctAndNonEmptyOnly,
                            NamespaceDisappearsWhenEmptied, PrefixNamespacesAreIndependent,
                            SeparatorsAndWildcardsAreLiteral, ManyNamespaces);

}  // namespace engram::conformance
