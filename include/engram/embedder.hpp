#pragma once
// The Embedder concept: turns text into a vector of dim() floats. embed() must be safe to
// call from several threads at once; the cache never calls it under a lock. fingerprint() is
// an opaque identity (e.g. "engram:hashing:v1:d384") recorded by the store on first open and
// compared for equality on every later open. The cache L2-normalizes whatever embed() returns.

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace engram {

template <class E>
concept Embedder = requires(const E& e, std::string_view text) {
  { e.dim() } -> std::convertible_to<std::size_t>;
  { e.fingerprint() } -> std::convertible_to<std::string>;
  { e.embed(text) } -> std::same_as<std::vector<float>>;
};

// Optional: embed several texts in one call (an HTTP embedder batches requests).
template <class E>
concept BatchEmbedder = Embedder<E> && requires(const E& e, std::span<const std::string> texts) {
  { e.embed_batch(texts) } -> std::same_as<std::vector<std::vector<float>>>;
};

// Optional: the cosine threshold the embedder's authors measured as right for it (its
// similarity scale depends on the model: MiniLM's paraphrases score lower than a lexical
// embedder's). The cache uses it when CacheOptions::similarity_threshold is unset.
template <class E>
concept RecommendsThreshold = Embedder<E> && requires(const E& e) {
  { e.recommended_threshold() } -> std::convertible_to<double>;
};

}  // namespace engram
