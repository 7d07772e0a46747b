// CachingEmbedder<E>: LRU by bytes of normalized text -> vector, counters, batch forwarding of
// misses, thread safety, identity of the wrapped embedder. And EmbedderUnavailable through
// SemanticCache: get fails open (a counted kError miss reported to on_error), put throws.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "engram/embedders/caching_embedder.hpp"
#include "engram/errors.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/stores/dict_store.hpp"

namespace engram {
namespace {

// HashingEmbedder that counts embed() calls and can fail with EmbedderUnavailable.
struct Counting {
  HashingEmbedder inner{16};
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<bool>> failing = std::make_shared<std::atomic<bool>>(false);
  std::size_t dim() const { return inner.dim(); }
  std::string fingerprint() const { return "test:counting:d16"; }
  std::vector<float> embed(std::string_view text) const {
    ++*calls;
    if (*failing) throw EmbedderUnavailable("the embedding service is down. Remediation: start it.");
    return inner.embed(text);
  }
};

// The same with embed_batch, recording the size of every batch it is given.
struct Batching : Counting {
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::vector<std::string>>> batches =
      std::make_shared<std::vector<std::vector<std::string>>>();
  std::vector<std::vector<float>> embed_batch(std::span<const std::string> texts) const {
    {
      std::lock_guard lock(*mu);
      batches->emplace_back(texts.begin(), texts.end());
    }
    std::vector<std::vector<float>> out;
    for (const auto& t : texts) out.push_back(inner.embed(t));
    return out;
  }
};

static_assert(Embedder<CachingEmbedder<Counting>>);
static_assert(BatchEmbedder<CachingEmbedder<Counting>>);
static_assert(BatchEmbedder<CachingEmbedder<HashingEmbedder>>);

constexpr std::size_t kEntry16 = 16 * sizeof(float) + CachingEmbedder<Counting>::kEntryOverheadBytes;

TEST(CachingEmbedder, SameIdentityAsTheWrappedEmbedder) {
  CachingEmbedder cached(HashingEmbedder(64), 1 << 20);
  EXPECT_EQ(cached.dim(), 64u);
  EXPECT_EQ(cached.fingerprint(), HashingEmbedder(64).fingerprint());
  EXPECT_EQ(cached.embed("Reset my password"), HashingEmbedder(64).embed("reset my password"));
}

TEST(CachingEmbedder, RepeatsAndSpellingsOfOneTextAreEmbeddedOnce) {
  Counting inner;
  CachingEmbedder cached(inner, 1 << 20);
  const auto a = cached.embed("How do I reset my password?");
  const auto b = cached.embed("  how DO i reset my   password?  ");
  const auto c = cached.embed("How do I reset my password?");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_EQ(inner.calls->load(), 1);
  const auto s = cached.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.max_bytes, std::size_t{1} << 20);
}

TEST(CachingEmbedder, EvictsLeastRecentlyUsedByBytes) {
  Counting inner;
  // Keys "a", "b", "c" cost 1 + kEntry16 each: room for exactly two.
  CachingEmbedder cached(inner, 2 * (1 + kEntry16));
  cached.embed("a");
  cached.embed("b");
  cached.embed("a");  // "b" is now the least recently used
  cached.embed("c");  // evicts "b"
  EXPECT_EQ(cached.stats().evictions, 1u);
  EXPECT_EQ(cached.stats().entries, 2u);
  EXPECT_LE(cached.stats().bytes, 2 * (1 + kEntry16));
  const int before = inner.calls->load();
  cached.embed("a");
  cached.embed("c");
  EXPECT_EQ(inner.calls->load(), before);
  cached.embed("b");
  EXPECT_EQ(inner.calls->load(), before + 1);
}

TEST(CachingEmbedder, ZeroBytesCachesNothing) {
  Counting inner;
  CachingEmbedder cached(inner, 0);
  cached.embed("a");
  cached.embed("a");
  EXPECT_EQ(inner.calls->load(), 2);
  EXPECT_EQ(cached.stats().entries, 0u);
}

TEST(CachingEmbedder, ClearDropsEntriesKeepsCounters) {
  Counting inner;
  CachingEmbedder cached(inner, 1 << 20);
  cached.embed("a");
  cached.clear();
  EXPECT_EQ(cached.stats().entries, 0u);
  EXPECT_EQ(cached.stats().bytes, 0u);
  cached.embed("a");
  EXPECT_EQ(inner.calls->load(), 2);
  EXPECT_EQ(cached.stats().misses, 2u);
}

TEST(CachingEmbedder, BatchForwardsOnlyMissesInOneInnerBatch) {
  Batching inner;
  CachingEmbedder cached(inner, 1 << 20);
  cached.embed("One");
  const std::vector<std::string> texts = {"one", "two", "Three", "two", "ONE"};
  const auto out = cached.embed_batch(texts);
  ASSERT_EQ(out.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(out[i], inner.inner.embed(texts[i])) << i;
  ASSERT_EQ(inner.batches->size(), 1u);
  EXPECT_EQ(inner.batches->front(), (std::vector<std::string>{"two", "three"}));  // normalized, once each
  EXPECT_EQ(cached.stats().hits, 2u);                                             // "one", "ONE"
  EXPECT_EQ(cached.stats().misses, 4u);                                           // "One" first, "two" twice, "Three"
  EXPECT_EQ(cached.embed_batch(texts), out);
  EXPECT_EQ(inner.batches->size(), 1u);  // all hits now
}

TEST(CachingEmbedder, BatchWithoutInnerBatchEmbedsEachMiss) {
  Counting inner;
  CachingEmbedder cached(inner, 1 << 20);
  const std::vector<std::string> texts = {"x", "y", "x"};
  const auto out = cached.embed_batch(texts);
  EXPECT_EQ(out[0], out[2]);
  EXPECT_EQ(inner.calls->load(), 2);
}

TEST(CachingEmbedder, ErrorsPropagateAndAreNotCached) {
  Counting inner;
  CachingEmbedder cached(inner, 1 << 20);
  *inner.failing = true;
  EXPECT_THROW(cached.embed("a"), EmbedderUnavailable);
  EXPECT_THROW(cached.embed_batch(std::vector<std::string>{"a"}), EmbedderUnavailable);
  *inner.failing = false;
  EXPECT_EQ(cached.embed("a"), inner.inner.embed("a"));
  EXPECT_EQ(cached.stats().entries, 1u);
  EXPECT_THROW(cached.embed("\xff"), InvalidArgument);
}

TEST(CachingEmbedder, ConcurrentCallersGetCorrectVectors) {
  Counting inner;
  CachingEmbedder cached(inner, 40 * (2 + kEntry16));  // smaller than the working set: evictions too
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string text = std::to_string((i * 7 + t) % 60);
        const auto v =
            (i % 5 == 0) ? cached.embed_batch(std::vector<std::string>{text, "fixed"}).at(0) : cached.embed(text);
        if (v != inner.inner.embed(text)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  const auto s = cached.stats();
  EXPECT_LE(s.bytes, s.max_bytes);
  EXPECT_GT(s.hits, 0u);
  EXPECT_GT(s.evictions, 0u);
}

TEST(CachingEmbedder, InASemanticCacheTheGetThenPutEmbedsOnce) {
  Counting inner;
  SemanticCache<DictStore, CachingEmbedder<Counting>> cache(DictStore(DictStore::make_location()),
                                                            CachingEmbedder<Counting>(inner, 1 << 20));
  EXPECT_FALSE(cache.get("What is the capital of France?"));
  cache.put("What is the capital of France?", "Paris.");
  EXPECT_EQ(inner.calls->load(), 1);
}

TEST(CachingEmbedder, CopiesShareTheCacheAndCounters) {
  Counting inner;
  CachingEmbedder<Counting> kept(inner, 1 << 20);
  SemanticCache<DictStore, CachingEmbedder<Counting>> cache(DictStore(DictStore::make_location()), kept);
  cache.put("What is the capital of France?", "Paris.");
  EXPECT_EQ(kept.stats().misses, 1u);
  EXPECT_EQ(kept.stats().entries, 1u);
  (void)kept.embed("what is the capital of france?");
  EXPECT_EQ(kept.stats().hits, 1u);
  EXPECT_EQ(inner.calls->load(), 1);
}

// ---- EmbedderUnavailable through SemanticCache ------------------------------------------------

TEST(EmbedderUnavailable, IsARetryableEngramErrorWithItsOwnCode) {
  const EmbedderUnavailable e("down. Remediation: retry.");
  const Error& base = e;
  EXPECT_EQ(base.code(), ErrorCode::kEmbedderUnavailable);
  EXPECT_EQ(dynamic_cast<const StoreError*>(&base), nullptr);
  EXPECT_EQ(dynamic_cast<const InvalidArgument*>(&base), nullptr);
}

TEST(EmbedderUnavailable, GetFailsOpenAsCountedErrorMissAndPutThrows) {
  Counting inner;
  std::vector<ErrorCode> reported;
  CacheOptions options;
  options.on_error = [&](const std::exception& e) {
    const auto* err = dynamic_cast<const Error*>(&e);
    reported.push_back(err ? err->code() : ErrorCode::kStore);
  };
  SemanticCache<DictStore, Counting> cache(DictStore(DictStore::make_location()), inner, options);
  cache.put("How do I reset my password?", "Use the reset link.");
  *inner.failing = true;

  EXPECT_FALSE(cache.get("how can I reset my password"));
  EXPECT_EQ(cache.stats().total.misses(MissReason::kError), 1u);
  EXPECT_EQ(cache.stats().errors, 1u);
  EXPECT_EQ(reported, std::vector<ErrorCode>{ErrorCode::kEmbedderUnavailable});
  EXPECT_TRUE(cache.get("How do I reset my password?"));  // exact hits need no embedder
  EXPECT_THROW(cache.put("What is the capital of France?", "Paris."), EmbedderUnavailable);
  // get_or_compute: the value is computed and returned; the failed put is reported.
  EXPECT_EQ(cache.get_or_compute("What is 6 x 7?", [] { return std::string("42"); }), "42");
  EXPECT_EQ(reported.size(), 3u);
}

TEST(EmbedderUnavailable, GetThrowsWhenFailOpenIsOff) {
  Counting inner;
  CacheOptions options;
  options.fail_open = false;
  SemanticCache<DictStore, Counting> cache(DictStore(DictStore::make_location()), inner, options);
  *inner.failing = true;
  EXPECT_THROW(cache.get("anything"), EmbedderUnavailable);
}

}  // namespace
}  // namespace engram
