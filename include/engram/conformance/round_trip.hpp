#pragma once
// Battery suite "RoundTrip": insert then get_by_id / get_by_hash returns every field as
// written (embeddings bit-exact, including -0.0f and denormals; unicode, NUL bytes, raw UTF-8
// metadata and 1 MiB payloads), an embedding whose length is not the opened dimension is
// rejected without writing, upsert on (ns, hash) keeps the id and replaces every other
// field, ids are assigned by the store.
// Thread safety: test code, single-threaded.

#include <cfloat>
#include <cmath>

#include "engram/conformance/common.hpp"

namespace engram::conformance {

template <class F>
class RoundTrip : public StoreTestBase<F> {};
TYPED_TEST_SUITE_P(RoundTrip);

TYPED_TEST_P(RoundTrip, InsertThenGetByIdReturnsEveryField) {
  auto s = this->open_store();
  auto e = detail::make_entry("tenant-a", "hello", 5);
  e.last_accessed_at = detail::at(9);
  e.ttl = Millis(3'600'000);
  e.access_count = 7;
  e.metadata = R"({"model":"m1","n":[1,2,3]})";
  const EntryId id = s.insert(e);
  EXPECT_GT(id, 0);
  e.id = id;
  EXPECT_TRUE(detail::same_entry(s.get_by_id(id), e));
}

TYPED_TEST_P(RoundTrip, GetByHashIsNamespaceScoped) {
  auto s = this->open_store();
  auto e = detail::make_entry("tenant-a", "hello");
  e.id = s.insert(e);
  EXPECT_TRUE(detail::same_entry(s.get_by_hash("tenant-a", e.query_hash), e));
  EXPECT_FALSE(s.get_by_hash("tenant-b", e.query_hash).has_value()) << "same hash, other namespace";
  EXPECT_FALSE(s.get_by_hash("", e.query_hash).has_value()) << "same hash, default namespace";
  EXPECT_FALSE(s.get_by_hash("tenant-a", detail::hash_of("other")).has_value()) << "other hash";
}

TYPED_TEST_P(RoundTrip, MissingLookupsReturnNullopt) {
  auto s = this->open_store();
  this->put(s, "ns", "k");
  EXPECT_FALSE(s.get_by_id(0).has_value());
  EXPECT_FALSE(s.get_by_id(-1).has_value());
  EXPECT_FALSE(s.get_by_id(std::numeric_limits<EntryId>::max()).has_value());
  EXPECT_FALSE(s.get_by_hash("ns", detail::hash_of("missing")).has_value());
}

TYPED_TEST_P(RoundTrip, EmbeddingsAreBitExact) {
  auto s = this->open_store();
  auto e = detail::make_entry("ns", "floats");
  e.embedding = {-0.0f,
                 std::numeric_limits<float>::denorm_min(),
                 -std::numeric_limits<float>::denorm_min(),
                 FLT_MIN,
                 FLT_MAX,
                 -FLT_MAX,
                 FLT_EPSILON,
                 std::nextafter(1.0f, 2.0f)};
  e.id = s.insert(e);
  auto back = s.get_by_id(e.id);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->embedding.size(), e.embedding.size());
  for (std::size_t i = 0; i < e.embedding.size(); ++i)
    EXPECT_EQ(std::bit_cast<std::uint32_t>(back->embedding[i]), std::bit_cast<std::uint32_t>(e.embedding[i]))
        << "float " << i << " changed its bits";
  EXPECT_TRUE(std::signbit(back->embedding[0])) << "-0.0f must keep its sign";
}

// A realistic width with values that print badly in decimal. The store is opened with that
// dimension (another identity than the battery's), because an embedding must have exactly
// the opened dimension.
TYPED_TEST_P(RoundTrip, WideEmbeddingsAreBitExact) {
  constexpr std::size_t kWide = 1536;
  auto s = this->make();
  s.open("engram:conformance:v1:d1536", kWide);
  auto wide = detail::make_entry("ns", "wide");
  wide.embedding.resize(kWide);
  for (std::size_t i = 0; i < wide.embedding.size(); ++i)
    wide.embedding[i] = static_cast<float>(1.0 / 3.0 + static_cast<double>(i) * 1e-7);
  wide.id = s.insert(wide);
  EXPECT_TRUE(detail::same_entry(s.get_by_id(wide.id), wide));
  EXPECT_TRUE(detail::same_entry(s.get_by_hash("ns", wide.query_hash), wide));
}

TYPED_TEST_P(RoundTrip, UnicodeAndNulBytesSurvive) {
  auto s = this->open_store();
  using namespace std::string_literals;
  auto e = detail::make_entry("ténant-\xf0\x9f\x98\x80-\0-end"s, "k");
  e.query = "Comment réinitialiser mon mot de passe ? 密码 \xf0\x9f\x94\x91 a\0b\0"s;
  e.response = "\0leading NUL, combining e\xcc\x81, RTL \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d, trailing\0"s;
  e.metadata = R"({"note":"caf\u00e9 \ud83d\ude00"})";
  e.id = s.insert(e);
  EXPECT_TRUE(detail::same_entry(s.get_by_id(e.id), e));
  EXPECT_TRUE(detail::same_entry(s.get_by_hash(e.ns, e.query_hash), e));
  EXPECT_FALSE(s.get_by_hash("ténant-\xf0\x9f\x98\x80-", e.query_hash).has_value())
      << "a namespace must not be cut at its NUL byte";
  EXPECT_EQ(s.count(e.ns), 1u);
  EXPECT_EQ(s.list_namespaces(), std::vector<std::string>{e.ns});
}

// Metadata is stored as the bytes given, not re-encoded: raw multibyte UTF-8 (not \uXXXX
// escapes) in keys and values, and the JSON escape \u0000 (six bytes), survive byte-exact,
// also after a reopen and through iter_all. A store that parses and re-serializes the JSON
// (cjson in a Redis script, say) would turn "名前" into escapes or cut the string at NUL.
TYPED_TEST_P(RoundTrip, RawUtf8AndEscapedNulInMetadataAreByteExact) {
  using namespace std::string_literals;
  auto e = detail::make_entry("ns", "utf8");
  e.metadata = "{\"名前\":\"値 \xf0\x9f\x98\x80 caf\xc3\xa9\",\"nul\":\"a\\u0000b\",\"emoji\":\"\xf0\x9f\x94\x91\"}";
  e.query = "名前は? \0 raw NUL"s;
  e.response = "\xf0\x9f\x98\x80\0\xe5\x80\xa4"s;
  {
    auto s = this->open_store();
    e.id = s.insert(e);
    EXPECT_TRUE(detail::same_entry(s.get_by_id(e.id), e));
    EXPECT_TRUE(detail::same_entry(s.get_by_hash("ns", e.query_hash), e));
    s.close();
  }
  auto s = this->open_store();
  EXPECT_TRUE(detail::same_entry(s.get_by_id(e.id), e)) << "after a reopen";
  const auto all = detail::all_entries(s);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(detail::same_entry(all[0], e)) << "through iter_all";
}

// An embedding must have exactly the dimension the store was opened with: any other length
// (shorter, longer, empty) throws InvalidArgument and writes nothing, neither a new row nor
// an upsert of an existing one, and the counter and feed do not move.
TYPED_TEST_P(RoundTrip, WrongEmbeddingLengthThrowsAndWritesNothing) {
  auto s = this->open_store();
  auto good = detail::make_entry("ns", "good");
  good.id = s.insert(good);
  const std::uint64_t counter = s.read_version_counter();
  for (std::size_t len : {kDim - 1, kDim + 1, std::size_t{0}, 2 * kDim}) {
    auto bad = detail::make_entry("ns", "bad");
    bad.embedding = detail::embedding_of(3, len);
    EXPECT_THROW(s.insert(bad), InvalidArgument) << "an embedding of " << len << " floats in a store of dim " << kDim;
    auto upsert = detail::make_entry("ns", "good", 99);
    upsert.embedding = detail::embedding_of(4, len);
    EXPECT_THROW(s.insert(upsert), InvalidArgument) << "an upsert with " << len << " floats";
    if constexpr (BulkInsertStore<typename TypeParam::StoreType>) {
      std::vector<StoredEntry> batch = {detail::make_entry("ns", "batch-ok"), bad};
      EXPECT_THROW(s.insert_many(std::span<const StoredEntry>(batch)), InvalidArgument)
          << "insert_many with one bad entry of " << len << " floats";
    }
  }
  EXPECT_EQ(s.count(), 1u) << "nothing was written";
  EXPECT_EQ(s.read_version_counter(), counter) << "a rejected insert is not a change";
  EXPECT_EQ(detail::all_changes(s).size(), counter);
  EXPECT_TRUE(detail::same_entry(s.get_by_id(good.id), good)) << "a rejected upsert leaves the row as it was";
  EXPECT_FALSE(s.get_by_hash("ns", detail::make_entry("ns", "batch-ok").query_hash).has_value())
      << "insert_many is all-or-nothing";
}

TYPED_TEST_P(RoundTrip, LargePayloadsSurvive) {
  auto s = this->open_store();
  auto e = detail::make_entry("ns", "big");
  e.response.resize(1 << 20);
  for (std::size_t i = 0; i < e.response.size(); ++i) e.response[i] = static_cast<char>((i * 131 + 7) & 0xff);
  e.query.assign(1 << 20, 'q');
  e.query[12345] = '\0';
  e.metadata = R"({"pad":")" + std::string(64 << 10, 'm') + R"("})";
  e.id = s.insert(e);
  EXPECT_TRUE(detail::same_entry(s.get_by_id(e.id), e));
}

TYPED_TEST_P(RoundTrip, EmptyStringsAndDefaultNamespace) {
  auto s = this->open_store();
  auto e = detail::make_entry("", "k");
  e.query.clear();
  e.response.clear();
  e.id = s.insert(e);
  EXPECT_TRUE(detail::same_entry(s.get_by_id(e.id), e));
  EXPECT_TRUE(detail::same_entry(s.get_by_hash("", e.query_hash), e));
  EXPECT_EQ(s.count(""), 1u);
}

TYPED_TEST_P(RoundTrip, TtlAndTimestampsRoundTrip) {
  auto s = this->open_store();
  auto none = detail::make_entry("ns", "no-ttl");
  auto zero = detail::make_entry("ns", "zero-ttl");
  zero.ttl = Millis(0);
  auto long_ttl = detail::make_entry("ns", "long-ttl");
  long_ttl.ttl = Millis(100LL * 365 * 24 * 3600 * 1000);
  auto epoch = detail::make_entry("ns", "epoch");
  epoch.created_at = Timestamp(Millis(0));
  epoch.last_accessed_at = Timestamp(Millis(1));
  auto future = detail::make_entry("ns", "future");
  future.created_at = Timestamp(Millis(4'102'444'800'000LL));  // 2100-01-01
  future.last_accessed_at = future.created_at + Millis(1);
  future.access_count = std::numeric_limits<std::int32_t>::max() + 10LL;
  for (auto* e : {&none, &zero, &long_ttl, &epoch, &future}) e->id = s.insert(*e);
  for (auto* e : {&none, &zero, &long_ttl, &epoch, &future})
    EXPECT_TRUE(detail::same_entry(s.get_by_id(e->id), *e)) << detail::printable(e->query);
}

TYPED_TEST_P(RoundTrip, InsertIgnoresCallerId) {
  auto s = this->open_store();
  auto a = detail::make_entry("ns", "a");
  auto b = detail::make_entry("ns", "b");
  a.id = 42;
  b.id = 42;
  const EntryId ida = s.insert(a);
  const EntryId idb = s.insert(b);
  EXPECT_GT(ida, 0);
  EXPECT_GT(idb, 0);
  EXPECT_NE(ida, idb) << "entry.id is ignored: the store assigns ids";
  EXPECT_EQ(s.count(), 2u);
  ASSERT_TRUE(s.get_by_id(ida).has_value());
  EXPECT_EQ(s.get_by_id(ida)->id, ida);
  EXPECT_EQ(s.get_by_id(ida)->query, a.query);
  EXPECT_EQ(s.get_by_id(idb)->query, b.query);
}

TYPED_TEST_P(RoundTrip, UpsertKeepsIdAndReplacesEveryField) {
  auto s = this->open_store();
  auto first = detail::make_entry("ns", "k", 0);
  first.ttl = Millis(1000);
  first.access_count = 3;
  const EntryId id = s.insert(first);
  const EntryId other = this->put(s, "ns", "other");

  auto second = first;
  second.query = "a different raw query";
  second.response = "a different response";
  second.embedding = detail::embedding_of(99);
  second.metadata = R"({"v":2})";
  second.created_at = detail::at(500);
  second.last_accessed_at = detail::at(600);
  second.ttl = std::nullopt;
  second.access_count = 0;
  EXPECT_EQ(s.insert(second), id) << "upsert on (ns, hash) keeps the id";
  second.id = id;
  EXPECT_TRUE(detail::same_entry(s.get_by_id(id), second));
  EXPECT_TRUE(detail::same_entry(s.get_by_hash("ns", first.query_hash), second));
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(detail::all_ids(s), (std::vector<EntryId>{std::min(id, other), std::max(id, other)}));
}

TYPED_TEST_P(RoundTrip, SameHashInOtherNamespaceIsAnotherRow) {
  auto s = this->open_store();
  auto a = detail::make_entry("x", "k");
  auto b = a;
  b.ns = "y";
  b.response = "y's answer";
  const EntryId ida = s.insert(a);
  const EntryId idb = s.insert(b);
  EXPECT_NE(ida, idb);
  EXPECT_EQ(s.get_by_hash("x", a.query_hash)->response, a.response);
  EXPECT_EQ(s.get_by_hash("y", a.query_hash)->response, b.response);
  EXPECT_EQ(s.count(), 2u);
}

TYPED_TEST_P(RoundTrip, IdsArePositiveUniqueAndIncreasing) {
  auto s = this->open_store();
  EntryId last = 0;
  std::set<EntryId> seen;
  for (int i = 0; i < 200; ++i) {
    const EntryId id = this->put(s, detail::numbered("ns", i % 3), detail::numbered("k", i));
    EXPECT_GT(id, last) << "a new row gets an id greater than every id allocated before";
    last = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(s.count(), 200u);
}

REGISTER_TYPED_TEST_SUITE_P(RoundTrip, InsertThenGetByIdReturnsEveryField, GetByHashIsNamespaceScoped,
                            MissingLookupsReturnNullopt, EmbeddingsAreBitExact, WideEmbeddingsAreBitExact,
                            UnicodeAndNulBytesSurvive, RawUtf8AndEscapedNulInMetadataAreByteExact,
                            WrongEmbeddingLengthThrowsAndWritesNothing, LargePayloadsSurvive,
                            EmptyStringsAndDefaultNamespace, TtlAndTimestampsRoundTrip, InsertIgnoresCallerId,
                            UpsertKeepsIdAndReplacesEveryField, SameHashInOtherNamespaceIsAnotherRow,
                            IdsArePositiveUniqueAndIncreasing);

}  // namespace engram::conformance
