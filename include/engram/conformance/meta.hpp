#pragma once
// Battery suite "Meta": the store's key/value meta table: missing keys, write, overwrite,
// binary-safe keys and values, persistence across reopen, and meta never touching entries.
// Thread safety: test code, single-threaded.

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class Meta : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(Meta);

TYPED_TEST_P(Meta, MissingKeyIsNullopt) {
  auto s = this->open_store();
  EXPECT_FALSE(s.read_meta("no-such-key").has_value());
  EXPECT_FALSE(s.read_meta("").has_value());
}

TYPED_TEST_P(Meta, WriteReadOverwrite) {
  auto s = this->open_store();
  s.write_meta("k", "v1");
  EXPECT_EQ(s.read_meta("k"), std::optional<std::string>("v1"));
  s.write_meta("k", "v2");
  EXPECT_EQ(s.read_meta("k"), std::optional<std::string>("v2"));
  s.write_meta("k", "");
  EXPECT_EQ(s.read_meta("k"), std::optional<std::string>("")) << "an empty value is a value, not a delete";
  s.write_meta("k2", "other");
  EXPECT_EQ(s.read_meta("k"), std::optional<std::string>(""));
  EXPECT_FALSE(s.read_meta("k1").has_value());
}

TYPED_TEST_P(Meta, KeysAndValuesAreBinarySafe) {
  auto s = this->open_store();
  using namespace std::string_literals;
  const std::vector<std::pair<std::string, std::string>> kv = {
      {"with:colon", "a:b"},
      {"nul\0key"s, "nul\0value\0"s},
      {"caf\xc3\xa9", "\xf0\x9f\x98\x80 \xe5\xaf\x86"},
      {"big", std::string(100 << 10, 'x')},
      {"*", "%_?[]"},
  };
  for (const auto& [k, v] : kv) s.write_meta(k, v);
  for (const auto& [k, v] : kv) EXPECT_EQ(s.read_meta(k), std::optional<std::string>(v)) << detail::printable(k);
  EXPECT_FALSE(s.read_meta("nul").has_value()) << "a key must not be cut at its NUL byte";
}

TYPED_TEST_P(Meta, MetaPersistsAcrossReopen) {
  {
    auto s = this->open_store();
    s.write_meta("a", "1");
    s.write_meta("b", "2");
    s.write_meta("a", "3");
    s.close();
  }
  auto s = this->open_store();
  EXPECT_EQ(s.read_meta("a"), std::optional<std::string>("3"));
  EXPECT_EQ(s.read_meta("b"), std::optional<std::string>("2"));
  EXPECT_EQ(s.read_meta("fingerprint"), std::optional<std::string>(std::string(kFingerprint)));
}

TYPED_TEST_P(Meta, MetaDoesNotTouchEntries) {
  auto s = this->open_store();
  auto e = detail::make_entry("ns", "k");
  e.id = s.insert(e);
  s.write_meta("ns", "value");
  s.write_meta(e.query_hash.hex(), "value");
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(s.list_namespaces(), std::vector<std::string>{"ns"});
  EXPECT_TRUE(detail::same_entry(s.get_by_id(e.id), e));
}

REGISTER_TYPED_TEST_SUITE_P(Meta, MissingKeyIsNullopt, WriteReadOverwrite, KeysAndValuesAreBinarySafe,
                            MetaPersistsAcrossReopen, MetaDoesNotTouchEntries);

}  // namespace engram::conformance
