// The guard hook and the similarity threshold's resolution, on the in-memory reference store:
// a guard runs on semantic candidates only, before the validator; a rejection is a kGuarded
// miss counted per reason, the next candidate is tried and the store is untouched.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "engram/semantic_cache.hpp"
#include "engram/stores/dict_store.hpp"

namespace engram {
namespace {

// Every embedding is supplied by the test: dimension 4, never called.
struct SuppliedOnly {
  std::size_t dim() const { return 4; }
  std::string fingerprint() const { return "test:supplied:d4"; }
  std::vector<float> embed(std::string_view) const {
    ADD_FAILURE() << "the embedder was called although an embedding was supplied";
    return {1, 0, 0, 0};
  }
};

struct Recommending : SuppliedOnly {
  double value = 0.6;
  double recommended_threshold() const { return value; }
};
static_assert(RecommendsThreshold<Recommending>);
static_assert(!RecommendsThreshold<SuppliedOnly>);

// Rejects a stored query containing `word`, with `reason`; records what it saw.
struct WordGuard {
  std::string word, reason;
  std::shared_ptr<std::vector<std::pair<std::string, std::string>>> seen =
      std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  GuardVerdict operator()(std::string_view query, std::string_view matched) const {
    seen->emplace_back(query, matched);
    if (matched.find(word) != std::string_view::npos) return {false, reason};
    return {};
  }
};

template <class E = SuppliedOnly>
SemanticCache<DictStore, E> make_cache(CacheOptions options, E embedder = E{}) {
  return SemanticCache<DictStore, E>(DictStore(DictStore::make_location()), std::move(embedder), std::move(options));
}

PutOptions at(std::vector<float> v, std::string ns = "") { return {.ns = std::move(ns), .embedding = std::move(v)}; }
GetOptions near(std::vector<float> v, std::string ns = "") { return {.ns = std::move(ns), .embedding = std::move(v)}; }

TEST(CacheGuard, RejectionIsAGuardedMissCountedPerReasonAndLeavesTheStoreAlone) {
  WordGuard guard{"disable", "antonym"};
  std::vector<std::pair<std::string_view, EventAttrs>> events;
  std::vector<std::string> details;
  auto cache = make_cache(
      {.similarity_threshold = 0.9, .guard = guard, .metrics_hook = [&](std::string_view event, const EventAttrs& a) {
         if (event == "miss") details.emplace_back(a.detail);
         events.emplace_back(event, a);
       }});
  cache.put("how to disable dark mode", "Settings > Display > Dark: off", at({1, 0, 0, 0}, "ui"));
  EXPECT_FALSE(cache.get("how to enable dark mode", near({0.99F, 0.1F, 0, 0}, "ui")));

  const Stats stats = cache.stats();
  EXPECT_EQ(stats.total.misses(MissReason::kGuarded), 1U);
  EXPECT_EQ(stats.total.guarded_by_reason.at("antonym"), 1U);
  EXPECT_EQ(stats.by_namespace.at("ui").misses(MissReason::kGuarded), 1U);
  EXPECT_EQ(stats.by_namespace.at("ui").guarded_by_reason.at("antonym"), 1U);
  ASSERT_FALSE(details.empty());
  EXPECT_EQ(details.back(), "antonym");
  EXPECT_EQ(events.back().second.reason, MissReason::kGuarded);
  ASSERT_EQ(guard.seen->size(), 1U);
  EXPECT_EQ(guard.seen->front().first, "how to enable dark mode");  // the caller's text, as given
  EXPECT_EQ(guard.seen->front().second, "how to disable dark mode");

  // Nothing was removed or changed: the entry is still there and served to its own question.
  EXPECT_EQ(cache.size(), 1U);
  auto exact = cache.get("how to disable dark mode", {.ns = "ui"});
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->layer, Layer::kExact);
  EXPECT_EQ(guard.seen->size(), 1U) << "the guard ran on an exact hit";
}

TEST(CacheGuard, TheNextCandidateIsTriedAfterARejection) {
  WordGuard guard{"disable", "antonym"};
  auto cache = make_cache({.similarity_threshold = 0.8, .guard = guard});
  cache.put("how to disable dark mode", "off", at({1, 0, 0, 0}));
  cache.put("steps to turn dark mode on", "on", at({0.9F, 0.43F, 0, 0}));
  auto hit = cache.get("how to enable dark mode", near({1, 0.05F, 0, 0}));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->response, "on");
  EXPECT_EQ(hit->layer, Layer::kSemantic);
  EXPECT_EQ(guard.seen->size(), 2U);
  EXPECT_EQ(cache.stats().total.misses(MissReason::kGuarded), 0U);  // the get was a hit
}

TEST(CacheGuard, RunsBeforeTheValidatorAndOnlyAboveTheThreshold) {
  WordGuard guard{"x", "custom-check"};
  int validator_calls = 0;
  auto cache = make_cache({.similarity_threshold = 0.9, .guard = guard, .validator = [&](std::string_view) {
                             ++validator_calls;
                             return true;
                           }});
  cache.put("x stored", "r", at({1, 0, 0, 0}));
  EXPECT_FALSE(cache.get("question", near({0, 1, 0, 0})));  // below the threshold
  EXPECT_TRUE(guard.seen->empty());
  EXPECT_EQ(cache.stats().total.misses(MissReason::kBelowThreshold), 1U);
  EXPECT_FALSE(cache.get("question", near({1, 0, 0, 0})));
  EXPECT_EQ(guard.seen->size(), 1U);
  EXPECT_EQ(validator_calls, 0);
  EXPECT_EQ(cache.stats().total.guarded_by_reason.at("custom-check"), 1U);
}

TEST(CacheGuard, AnEmptyReasonIsCountedAsGuard) {
  auto cache = make_cache({.similarity_threshold = 0.5,
                           .guard = [](std::string_view, std::string_view) { return GuardVerdict{.accept = false}; }});
  cache.put("a", "r", at({1, 0, 0, 0}));
  EXPECT_FALSE(cache.get("b", near({1, 0, 0, 0})));
  EXPECT_EQ(cache.stats().total.guarded_by_reason.at("guard"), 1U);
}

TEST(CacheGuard, AThrowingGuardIsAnErrorMissWhenFailingOpenAndThrowsOtherwise) {
  auto throwing = [](std::string_view, std::string_view) -> GuardVerdict { throw std::runtime_error("nli down"); };
  std::atomic<int> errors{0};
  auto open = make_cache(
      {.similarity_threshold = 0.5, .guard = throwing, .on_error = [&](const std::exception&) { ++errors; }});
  open.put("a", "r", at({1, 0, 0, 0}));
  EXPECT_FALSE(open.get("b", near({1, 0, 0, 0})));
  EXPECT_EQ(open.stats().total.misses(MissReason::kError), 1U);
  EXPECT_EQ(errors.load(), 1);

  auto closed = make_cache({.similarity_threshold = 0.5, .fail_open = false, .guard = throwing});
  closed.put("a", "r", at({1, 0, 0, 0}));
  EXPECT_THROW(closed.get("b", near({1, 0, 0, 0})), std::runtime_error);
}

TEST(CacheThreshold, UnsetUsesTheEmbeddersRecommendationElseTheDefault) {
  auto plain = make_cache(CacheOptions{});
  EXPECT_EQ(plain.similarity_threshold(), kDefaultSimilarityThreshold);

  auto recommended = make_cache(CacheOptions{}, Recommending{});
  EXPECT_EQ(recommended.similarity_threshold(), 0.6);
  recommended.put("a", "r", at({1, 0, 0, 0}));
  // cos = 0.7: above the recommendation, below the generic default.
  EXPECT_TRUE(recommended.get("b", near({0.7F, 0.71414284F, 0, 0})));

  auto explicit_option = make_cache({.similarity_threshold = 0.95}, Recommending{});
  EXPECT_EQ(explicit_option.similarity_threshold(), 0.95);
}

TEST(CacheThreshold, AnOutOfRangeRecommendationIsRejected) {
  EXPECT_THROW(make_cache(CacheOptions{}, Recommending{{}, 1.5}), InvalidArgument);
  EXPECT_THROW(make_cache({.similarity_threshold = -2.0}), InvalidArgument);
}

}  // namespace
}  // namespace engram
