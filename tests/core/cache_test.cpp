// SemanticCache behaviour on the in-memory reference store: the two layers, thresholds,
// namespaces, TTL, LRU eviction and quotas, validator and confidence, single flight,
// concurrency, statistics and bad input.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>

#include "engram/semantic_cache.hpp"
#include "engram/stores/dict_store.hpp"

namespace engram {
namespace {

using namespace std::chrono_literals;

// Wraps HashingEmbedder and counts calls (the exact layer must never embed).
struct CountingEmbedder {
  HashingEmbedder inner{384};
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<bool>> failing = std::make_shared<std::atomic<bool>>(false);
  std::size_t dim() const { return inner.dim(); }
  std::string fingerprint() const { return inner.fingerprint(); }
  std::vector<float> embed(std::string_view text) const {
    ++*calls;
    if (*failing) throw std::runtime_error("embedding service unavailable");
    return inner.embed(text);
  }
};

// For tests that supply every embedding: dimension 4, and calling it is a test failure.
struct SuppliedOnly {
  std::size_t dim() const { return 4; }
  std::string fingerprint() const { return "test:supplied:d4"; }
  std::vector<float> embed(std::string_view) const {
    ADD_FAILURE() << "the embedder was called although an embedding was supplied";
    return {1, 0, 0, 0};
  }
};

// A settable clock.
struct ManualClock {
  std::shared_ptr<std::atomic<std::int64_t>> ms = std::make_shared<std::atomic<std::int64_t>>(1'700'000'000'000);
  Timestamp operator()() const { return Timestamp(Millis(ms->load())); }
  void advance(Millis d) const { *ms += d.count(); }
};

std::vector<float> vec(float a, float b, float c = 0, float d = 0) { return {a, b, c, d}; }

template <class E = CountingEmbedder>
SemanticCache<DictStore, E> make_cache(CacheOptions options = {}, E embedder = E{},
                                       DictStore::Location location = DictStore::make_location()) {
  return SemanticCache<DictStore, E>(DictStore(std::move(location)), std::move(embedder), std::move(options));
}

TEST(Cache, ExactHitNeverCallsTheEmbedder) {
  CountingEmbedder embedder;
  auto cache = make_cache({}, embedder);
  cache.put("How do I reset my password?", "Use the reset link.");
  const int after_put = embedder.calls->load();
  EXPECT_EQ(after_put, 1);
  for (const char* q : {"How do I reset my password?", "  how DO i reset my   password?  "}) {
    auto hit = cache.get(q);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->layer, Layer::kExact);
    EXPECT_EQ(hit->similarity, 1.0);
    EXPECT_EQ(hit->response, "Use the reset link.");
    EXPECT_EQ(hit->matched_query, "How do I reset my password?");
  }
  EXPECT_EQ(embedder.calls->load(), after_put);
}

TEST(Cache, ParaphraseIsASemanticHit) {
  auto cache = make_cache({.similarity_threshold = 0.7});
  cache.put("How do I reset my password?", "Use the reset link.");
  cache.put("What is the capital of France?", "Paris.");
  auto hit = cache.get("how can I reset my password");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->layer, Layer::kSemantic);
  EXPECT_EQ(hit->response, "Use the reset link.");
  EXPECT_GT(hit->similarity, 0.7);
  EXPECT_LT(hit->similarity, 1.0);
  EXPECT_EQ(hit->confidence, hit->similarity);
  EXPECT_FALSE(cache.get("Which river flows through Vienna?"));
}

TEST(Cache, ThresholdIsInclusiveAtTheExactEdge) {
  auto cache = make_cache<SuppliedOnly>();
  cache.put("stored", "r", {.embedding = vec(1, 0)});
  // cos = 0.8f exactly as the index computes it in float.
  const auto query = vec(0.8f, 0.6f);
  const double edge = static_cast<double>(0.8f * 1.0f + 0.6f * 0.0f);
  auto at_edge = cache.get("q", {.embedding = query, .threshold = edge});
  ASSERT_TRUE(at_edge);
  EXPECT_NEAR(at_edge->similarity, 0.8, 1e-6);
  EXPECT_FALSE(cache.get("q", {.embedding = query, .threshold = std::nextafter(edge, 2.0)}));
  EXPECT_TRUE(cache.get("q", {.embedding = query, .threshold = -1.0}));
  EXPECT_FALSE(cache.get("q", {.embedding = vec(-1, 0), .threshold = 0.0}));
  EXPECT_THROW(cache.get("q", {.embedding = query, .threshold = 1.5}), InvalidArgument);
  EXPECT_THROW(cache.get("q", {.embedding = query, .threshold = std::nan("")}), InvalidArgument);
}

TEST(Cache, QuantizedIndexesReturnExactSimilarities) {
  for (ElementType element : {ElementType::kInt8, ElementType::kF16}) {
    auto cache = make_cache<SuppliedOnly>({.similarity_threshold = 0.5, .vectors = element});
    cache.put("a", "A", {.embedding = vec(0.9f, 0.1f, 0.3f, 0.2f)});
    cache.put("b", "B", {.embedding = vec(0.1f, 0.9f, 0.2f, 0.3f)});
    const auto query = vec(0.8f, 0.3f, 0.35f, 0.1f);
    auto hit = cache.get("paraphrase", {.embedding = query});
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->response, "A");
    // The similarity is the float32 cosine of the stored and query vectors, not the
    // quantized estimate.
    auto unit = [](std::vector<float> v) {
      double n = 0;
      for (float x : v) n += static_cast<double>(x) * x;
      for (float& x : v) x = static_cast<float>(x / std::sqrt(n));
      return v;
    };
    const auto a = unit(vec(0.9f, 0.1f, 0.3f, 0.2f)), q = unit(query);
    double exact = 0;
    for (std::size_t i = 0; i < 4; ++i) exact += static_cast<double>(a[i]) * q[i];
    EXPECT_NEAR(hit->similarity, exact, 1e-6) << to_string(element);
  }
}

TEST(Cache, NamespacesAreIsolatedIncludingPrefixes) {
  auto cache = make_cache<SuppliedOnly>();
  const auto e = vec(0, 1);
  cache.put("q", "in a", {.ns = "a", .embedding = e});
  cache.put("q", "in a:b", {.ns = "a:b", .embedding = e});
  EXPECT_EQ(cache.get("q", {.ns = "a", .embedding = e})->response, "in a");
  EXPECT_EQ(cache.get("q", {.ns = "a:b", .embedding = e})->response, "in a:b");
  for (const char* other : {"", "a:", "ab", "a:b:c", "A"}) {
    EXPECT_FALSE(cache.get("q", {.ns = other, .embedding = e})) << other;
    EXPECT_FALSE(cache.get("different text", {.ns = other, .embedding = e})) << other;
  }
  EXPECT_EQ(cache.clear_namespace("a"), 1u);
  EXPECT_FALSE(cache.get("q", {.ns = "a", .embedding = e}));
  EXPECT_TRUE(cache.get("q", {.ns = "a:b", .embedding = e}));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(Cache, TtlExpiresExactlyAtCreatedPlusTtl) {
  ManualClock clock;
  auto cache = make_cache<SuppliedOnly>({.clock = clock});
  cache.put("q", "r", {.ttl = 1000ms, .embedding = vec(1, 0)});
  clock.advance(999ms);
  EXPECT_TRUE(cache.get("q", {.embedding = vec(1, 0)}));
  EXPECT_TRUE(cache.get("paraphrase", {.embedding = vec(1, 0)}));
  clock.advance(1ms);  // created_at + ttl == now: expired
  EXPECT_FALSE(cache.get("q", {.embedding = vec(1, 0)}));
  EXPECT_FALSE(cache.get("paraphrase", {.embedding = vec(1, 0)}));
  EXPECT_EQ(cache.stats().total.misses(MissReason::kExpired), 2u);
  // A hit does not extend the expiry; vacuum removes the row.
  EXPECT_EQ(cache.vacuum(), 1u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.stats().total.expirations, 1u);
}

TEST(Cache, DefaultTtlAppliesAndPutTtlOverridesIt) {
  ManualClock clock;
  auto cache = make_cache<SuppliedOnly>({.default_ttl = 100ms, .clock = clock});
  cache.put("short", "r", {.embedding = vec(1, 0)});
  cache.put("long", "r", {.ttl = 10s, .embedding = vec(0, 1)});
  clock.advance(100ms);
  EXPECT_FALSE(cache.get("short", {.embedding = vec(1, 0)}));
  EXPECT_TRUE(cache.get("long", {.embedding = vec(0, 1)}));
}

TEST(Cache, LruEvictionOrderAndBatchSize) {
  ManualClock clock;
  auto location = DictStore::make_location();
  auto cache = make_cache<SuppliedOnly>({.max_entries = 3, .clock = clock}, {}, location);
  auto put = [&](const char* q, std::vector<float> e) {
    clock.advance(10ms);
    cache.put(q, q, {.embedding = std::move(e)});
  };
  put("a", vec(1, 0, 0, 0));
  put("b", vec(0, 1, 0, 0));
  put("c", vec(0, 0, 1, 0));
  clock.advance(10ms);
  ASSERT_TRUE(cache.get("a", {.embedding = vec(1, 0, 0, 0)}));  // a is now the most recent
  put("d", vec(0, 0, 0, 1));                                    // evicts b, the least recent
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.get("b", {.embedding = vec(0, 1, 0, 0), .threshold = 0.99}));
  EXPECT_TRUE(cache.get("a", {.embedding = vec(1, 0, 0, 0)}));
  EXPECT_EQ(cache.stats().total.evictions, 1u);
  // The access reached the store before eviction chose its victim.
  DictStore reader(location);
  reader.open("test:supplied:d4", 4);
  EXPECT_EQ(reader.count(), 3u);
  EXPECT_FALSE(reader.get_by_hash("", hash_query("b")));
}

TEST(Cache, EvictionBatchRemovesAtLeastThatMany) {
  ManualClock clock;
  auto cache = make_cache<SuppliedOnly>({.max_entries = 4, .clock = clock, .eviction_batch = 3});
  for (int i = 0; i < 5; ++i) {
    clock.advance(1ms);
    cache.put("q" + std::to_string(i), "r", {.embedding = vec(1, static_cast<float>(i))});
  }
  // The fifth put overflowed by one; three victims went: q0, q1, q2.
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.stats().total.evictions, 3u);
  EXPECT_TRUE(cache.get("q3", {.embedding = vec(1, 3)}));
  EXPECT_TRUE(cache.get("q4", {.embedding = vec(1, 4)}));
  EXPECT_FALSE(cache.get("q0", {.embedding = vec(1, 0), .threshold = 0.9999}));
}

TEST(Cache, NamespaceQuotaEvictsOnlyInThatNamespace) {
  ManualClock clock;
  auto cache = make_cache<SuppliedOnly>({.clock = clock});
  for (int i = 0; i < 3; ++i) {
    clock.advance(1ms);
    cache.put("other" + std::to_string(i), "r", {.ns = "other", .embedding = vec(1, static_cast<float>(i))});
  }
  cache.set_namespace_quota("t", 2);
  EXPECT_EQ(cache.namespace_quota("t"), 2u);
  for (int i = 0; i < 4; ++i) {
    clock.advance(1ms);
    cache.put("t" + std::to_string(i), "r", {.ns = "t", .embedding = vec(1, static_cast<float>(i))});
  }
  EXPECT_EQ(cache.size("t"), 2u);
  EXPECT_EQ(cache.size("other"), 3u);
  EXPECT_EQ(cache.stats().by_namespace.at("t").evictions, 2u);
  EXPECT_TRUE(cache.get("t3", {.ns = "t", .embedding = vec(1, 3)}));
  // Lowering the quota evicts at once.
  cache.set_namespace_quota("other", 1);
  EXPECT_EQ(cache.size("other"), 1u);
}

TEST(Cache, ValidatorDropsAPoisonedCandidate) {
  auto cache = make_cache<SuppliedOnly>({.similarity_threshold = 0.5, .validator = [](std::string_view r) {
                                           return r.find("POISON") == std::string_view::npos;
                                         }});
  cache.put("poisoned", "POISON answer", {.embedding = vec(1, 0)});
  cache.put("good", "good answer", {.embedding = vec(0.9f, 0.1f)});
  auto hit = cache.get("query", {.embedding = vec(1, 0)});
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->response, "good answer");
  EXPECT_TRUE(cache.erase("good"));
  EXPECT_FALSE(cache.get("query", {.embedding = vec(1, 0)}));
  EXPECT_EQ(cache.stats().total.misses(MissReason::kRejected), 1u);
}

TEST(Cache, ConfidenceFunctionAndMinimum) {
  ManualClock clock;
  auto cache =
      make_cache<SuppliedOnly>({.similarity_threshold = 0.5,
                                .clock = clock,
                                .confidence_fn =
                                    [](double s, Millis age, std::string_view meta) {
                                      const double decay = age >= 1000ms ? 0.5 : 1.0;
                                      return meta.find("\"trusted\":true") != std::string_view::npos ? s * decay : 0.0;
                                    },
                                .min_confidence = 0.6});
  cache.put("trusted", "t", {.metadata = R"({"trusted":true})", .embedding = vec(1, 0)});
  cache.put("untrusted", "u", {.metadata = R"({"trusted":false})", .embedding = vec(0, 1)});
  auto hit = cache.get("trusted", {.embedding = vec(1, 0)});
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->confidence, 1.0);
  EXPECT_EQ(hit->metadata, R"({"trusted":true})");
  EXPECT_FALSE(cache.get("untrusted", {.embedding = vec(0, 1)}));
  clock.advance(1000ms);
  EXPECT_FALSE(cache.get("trusted", {.embedding = vec(1, 0)}));  // confidence decayed to 0.5
  EXPECT_EQ(cache.stats().total.misses(MissReason::kLowConfidence), 2u);
}

TEST(Cache, UpsertKeepsTheIdAndReplacesEverything) {
  auto cache = make_cache<SuppliedOnly>();
  const EntryId first = cache.put("q", "old", {.metadata = R"({"v":1})", .embedding = vec(1, 0)});
  const EntryId second = cache.put("Q ", "new", {.metadata = R"({"v":2})", .embedding = vec(0, 1)});
  EXPECT_EQ(first, second);
  EXPECT_EQ(cache.size(), 1u);
  auto hit = cache.get("q", {.embedding = vec(0, 1)});
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->response, "new");
  EXPECT_EQ(hit->metadata, R"({"v":2})");
  // The old embedding no longer matches semantically; the new one does.
  EXPECT_FALSE(cache.get("other", {.embedding = vec(1, 0), .threshold = 0.9}));
  EXPECT_TRUE(cache.get("other", {.embedding = vec(0, 1), .threshold = 0.9}));
}

TEST(CacheConcurrency, GetOrComputeRunsOnceAcrossEightThreads) {
  auto cache = make_cache();
  std::atomic<int> computed{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::vector<std::string> results(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      results[static_cast<std::size_t>(t)] = cache.get_or_compute("What is 6 x 7?", [&] {
        ++computed;
        std::this_thread::sleep_for(50ms);
        return std::string("42");
      });
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(computed.load(), 1);
  for (const auto& r : results) EXPECT_EQ(r, "42");
  EXPECT_EQ(cache.get_or_compute("what is 6 x 7?", [&]() -> std::string { throw std::logic_error("not called"); }),
            "42");
}

TEST(Cache, GetOrComputePropagatesTheComputationsError) {
  auto cache = make_cache();
  EXPECT_THROW(cache.get_or_compute("q", []() -> std::string { throw std::runtime_error("llm down"); }),
               std::runtime_error);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.get_or_compute("q", [] { return "recovered"; }), "recovered");
}

TEST(Cache, BadInputThrowsAndWritesNothing) {
  auto location = DictStore::make_location();
  auto cache = make_cache({.max_query_bytes = 64, .max_response_bytes = 128, .max_metadata_bytes = 32}, {}, location);
  cache.put("seed", "r");
  DictStore probe(location);
  probe.open(HashingEmbedder().fingerprint(), 384);
  const auto version = probe.read_version_counter();
  const auto nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> wrong_dim(10, 0.1f), with_nan(384, 0.1f), zeros(384, 0.0f);
  with_nan[7] = nan;

  EXPECT_THROW(cache.put(std::string(65, 'q'), "r"), InvalidArgument);
  EXPECT_THROW(cache.put("q", std::string(129, 'r')), InvalidArgument);
  EXPECT_THROW(cache.put("q", "r", {.metadata = R"({"k":"0123456789012345678901234"})"}), InvalidArgument);
  EXPECT_THROW(cache.put("q", "r", {.metadata = "{not json"}), InvalidArgument);
  EXPECT_THROW(cache.put("q", "r", {.metadata = "[1,2]"}), InvalidArgument);
  EXPECT_THROW(cache.put("q", "r", {.metadata = ""}), InvalidArgument);
  EXPECT_THROW(cache.put("q", "r", {.embedding = wrong_dim}), InvalidArgument);
  EXPECT_THROW(cache.put("q", "r", {.embedding = with_nan}), InvalidArgument);
  EXPECT_THROW(cache.put("q", "r", {.embedding = zeros}), InvalidArgument);
  EXPECT_THROW(cache.put("bad \xff utf8", "r"), InvalidArgument);
  EXPECT_THROW(cache.put("q", "r", {.ns = "bad \xc3"}), InvalidArgument);
  EXPECT_THROW(cache.put("q", "r", {.ttl = 0ms}), InvalidArgument);
  EXPECT_THROW(cache.get("bad \xff utf8"), InvalidArgument);
  EXPECT_THROW(cache.get(std::string(65, 'q')), InvalidArgument);
  EXPECT_THROW(cache.get("q", {.embedding = wrong_dim}), InvalidArgument);
  EXPECT_THROW(cache.get("q", {.embedding = with_nan}), InvalidArgument);

  EXPECT_EQ(probe.read_version_counter(), version);
  EXPECT_EQ(probe.count(), 1u);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.stats().total.puts, 1u);
  EXPECT_TRUE(cache.get("seed"));
}

TEST(Cache, InvalidOptionsAreRejected) {
  EXPECT_THROW(make_cache({.similarity_threshold = 1.01}), InvalidArgument);
  EXPECT_THROW(make_cache({.max_entries = 0}), InvalidArgument);
  EXPECT_THROW(make_cache({.top_k = 0}), InvalidArgument);
}

TEST(Cache, FailOpenTurnsEmbedderErrorsIntoCountedMisses) {
  CountingEmbedder embedder;
  std::atomic<int> reported{0};
  auto cache = make_cache({.on_error = [&](const std::exception&) { ++reported; }}, embedder);
  cache.put("known", "r");
  *embedder.failing = true;
  EXPECT_TRUE(cache.get("known"));           // exact layer needs no embedding
  EXPECT_FALSE(cache.get("unknown words"));  // semantic layer fails open
  EXPECT_EQ(reported.load(), 1);
  EXPECT_EQ(cache.stats().total.misses(MissReason::kError), 1u);
  EXPECT_THROW(cache.put("new", "r"), std::runtime_error);  // put never fails open

  auto strict = make_cache({.fail_open = false}, embedder);
  EXPECT_THROW(strict.get("unknown words"), std::runtime_error);
}

TEST(Cache, StatsCountEveryOutcomePerNamespace) {
  std::vector<std::string> events;
  auto cache = make_cache<SuppliedOnly>(
      {.metrics_hook = [&](std::string_view event, const EventAttrs&) { events.emplace_back(event); }});
  cache.put("q", "r", {.ns = "n", .embedding = vec(1, 0)});
  cache.get("q", {.ns = "n", .embedding = vec(1, 0)});      // exact
  cache.get("other", {.ns = "n", .embedding = vec(1, 0)});  // semantic
  cache.get("other", {.ns = "n", .embedding = vec(0, 1)});  // below threshold
  cache.get("other", {.ns = "n", .embedding = vec(0, 1), .bypass = true});
  cache.get("other", {.ns = "empty", .embedding = vec(0, 1)});  // no candidate
  const Stats s = cache.stats();
  const NamespaceStats& n = s.by_namespace.at("n");
  EXPECT_EQ(n.entries, 1u);
  EXPECT_EQ(n.puts, 1u);
  EXPECT_EQ(n.hits_exact, 1u);
  EXPECT_EQ(n.hits_semantic, 1u);
  EXPECT_EQ(n.misses(MissReason::kBelowThreshold), 1u);
  EXPECT_EQ(n.misses(MissReason::kBypass), 1u);
  EXPECT_EQ(s.total.misses(MissReason::kNoCandidate), 1u);
  EXPECT_EQ(s.total.misses(), 3u);
  EXPECT_GT(n.index_memory_bytes, 0u);
  EXPECT_EQ(n.index_layout, "flat-f32");
  EXPECT_EQ(n.index_unlinked, 0u);
  EXPECT_EQ(s.get_latency.count, 5u);
  EXPECT_EQ(events, (std::vector<std::string>{"rebuild", "put", "hit", "hit", "miss", "miss", "miss"}));
}

TEST(Cache, HealthReportsTheStore) {
  auto cache = make_cache();
  cache.put("q", "r", {.ns = "x"});
  const Health h = cache.health();
  EXPECT_TRUE(h.healthy) << h.message;
  EXPECT_TRUE(h.integrity_ok);
  EXPECT_TRUE(h.embedder_fingerprint_match);
  EXPECT_EQ(h.entries, 1u);
  EXPECT_EQ(h.namespaces, 1u);
  EXPECT_EQ(h.index_backend.rfind("flat", 0), 0u);
}

TEST(Cache, AccessesAreBufferedAndWrittenBackByFlush) {
  ManualClock clock;
  auto location = DictStore::make_location();
  auto cache = make_cache<SuppliedOnly>({.clock = clock, .flush_interval = 0ms}, {}, location);
  const EntryId id = cache.put("q", "r", {.embedding = vec(1, 0)});
  DictStore probe(location);
  probe.open("test:supplied:d4", 4);
  clock.advance(5ms);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache.get("q", {.embedding = vec(1, 0)}));
  EXPECT_EQ(probe.get_by_id(id)->access_count, 0);  // not one store write per hit
  cache.flush();
  EXPECT_EQ(probe.get_by_id(id)->access_count, 3);
  EXPECT_EQ(probe.get_by_id(id)->last_accessed_at, clock());
}

TEST(Cache, WithoutAFlusherThreadTheGetThatFillsABatchWritesIt) {
  auto location = DictStore::make_location();
  auto cache = make_cache<SuppliedOnly>({.touch_batch = 2, .flush_interval = 0ms}, {}, location);
  const EntryId a = cache.put("a", "r", {.embedding = vec(1, 0)});
  const EntryId b = cache.put("b", "r", {.embedding = vec(0, 1)});
  DictStore probe(location);
  probe.open("test:supplied:d4", 4);
  ASSERT_TRUE(cache.get("a", {.embedding = vec(1, 0)}));
  EXPECT_EQ(probe.get_by_id(a)->access_count, 0);  // one entry pending: below the batch
  ASSERT_TRUE(cache.get("b", {.embedding = vec(0, 1)}));
  EXPECT_EQ(probe.get_by_id(a)->access_count, 1);  // two pending: this get wrote both
  EXPECT_EQ(probe.get_by_id(b)->access_count, 1);
}

TEST(Cache, SecondCacheOnTheSameStoreSeesInsertsUpdatesAndDeletes) {
  auto location = DictStore::make_location();
  auto writer = make_cache<SuppliedOnly>({}, {}, location);
  auto reader = make_cache<SuppliedOnly>({}, {}, location);
  writer.put("q", "v1", {.embedding = vec(1, 0)});
  EXPECT_EQ(reader.get("q", {.embedding = vec(1, 0)})->response, "v1");
  writer.put("q", "v2", {.embedding = vec(0, 1)});
  EXPECT_EQ(reader.get("q", {.embedding = vec(0, 1)})->response, "v2");
  EXPECT_EQ(reader.get("paraphrase", {.embedding = vec(0, 1)})->response, "v2");
  EXPECT_FALSE(reader.get("paraphrase", {.embedding = vec(1, 0), .threshold = 0.9}));
  EXPECT_TRUE(writer.erase("q"));
  EXPECT_FALSE(reader.get("q", {.embedding = vec(0, 1)}));
  EXPECT_EQ(reader.size(), 0u);
}

TEST(Cache, ReaderFarBehindTheChangeLogRebuilds) {
  auto location = DictStore::make_location(DictStore::Options{.change_log_retention = 4});
  auto writer = make_cache<SuppliedOnly>({}, {}, location);
  auto reader = make_cache<SuppliedOnly>({}, {}, location);
  for (int i = 0; i < 20; ++i) writer.put("q" + std::to_string(i), "r", {.embedding = vec(1, static_cast<float>(i))});
  writer.erase("q3");
  reader.sync();
  EXPECT_EQ(reader.size(), 19u);
  EXPECT_GE(reader.stats().rebuilds, 2u);  // the open plus the fallen-behind sync
  EXPECT_FALSE(reader.get("q3", {.embedding = vec(0, 0, 0, 1), .threshold = 0.99}));
  EXPECT_TRUE(reader.get("q4", {.embedding = vec(0, 0, 0, 1), .threshold = 0.99}));
}

TEST(Cache, SyncIntervalDelaysVisibility) {
  auto location = DictStore::make_location();
  auto writer = make_cache<SuppliedOnly>({}, {}, location);
  auto reader = make_cache<SuppliedOnly>({.sync_interval = 200ms}, {}, location);
  reader.get("warm-up", {.embedding = vec(1, 0)});  // the first check happens now
  writer.put("q", "r", {.embedding = vec(1, 0)});
  EXPECT_FALSE(reader.get("q", {.embedding = vec(1, 0)}));  // inside the interval
  std::this_thread::sleep_for(250ms);
  EXPECT_TRUE(reader.get("q", {.embedding = vec(1, 0)}));
}

TEST(Cache, CloseIsIdempotentAndFinal) {
  auto cache = make_cache();
  cache.put("q", "r");
  cache.close();
  cache.close();
  EXPECT_TRUE(cache.closed());
  EXPECT_THROW(cache.get("q"), CacheClosed);
  EXPECT_THROW(cache.put("q", "r"), CacheClosed);
  EXPECT_FALSE(cache.health().healthy);
}

TEST(CacheConcurrency, EightThreadMixedStressKeepsCountersConsistent) {
  auto location = DictStore::make_location();
  auto cache = make_cache({.similarity_threshold = 0.99}, {}, location);
  constexpr int kThreads = 8, kOps = 1500, kKeys = 64;
  std::atomic<std::uint64_t> gets{0}, puts{0}, hits{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < kOps; ++i) {
        const int key = static_cast<int>(rng() % kKeys);
        const std::string q = "key " + std::to_string(key);
        switch (rng() % 10) {
          case 0:
            cache.erase(q);
            break;
          case 1:
          case 2:
            cache.put(q, "value " + std::to_string(key));
            ++puts;
            break;
          default: {
            auto hit = cache.get(q);
            ++gets;
            if (hit) {
              ++hits;
              EXPECT_EQ(hit->response, "value " + std::to_string(key));
            }
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const Stats s = cache.stats();
  EXPECT_EQ(s.total.hits_exact + s.total.hits_semantic, hits.load());
  EXPECT_EQ(s.total.hits_exact + s.total.hits_semantic + s.total.misses(), gets.load());
  EXPECT_EQ(s.total.puts, puts.load());
  DictStore probe(location);
  probe.open(HashingEmbedder().fingerprint(), 384);
  EXPECT_EQ(cache.size(), probe.count());
}

}  // namespace
}  // namespace engram
