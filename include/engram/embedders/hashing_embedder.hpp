#pragma once
// HashingEmbedder: a deterministic, dependency-free text embedder for demos and tests.
// Features: word unigrams and bigrams plus character 3-, 4- and 5-grams of the normalized
// text (case-folded, whitespace-collapsed), each hashed (XXH3-64) with a sign into one of
// dim() buckets, with sublinear (1 + log tf) term weights, then L2-normalized. The same text
// gives bit-identical vectors on every run and machine. Paraphrases that share words and
// character n-grams score high; unrelated texts score near 0. Thread-safe (immutable).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace engram {

class HashingEmbedder {
 public:
  // Throws InvalidArgument if dim is 0 or larger than 65536.
  explicit HashingEmbedder(std::size_t dim = 384);

  std::size_t dim() const noexcept { return dim_; }
  // "engram:hashing:v1:d<dim>"
  std::string fingerprint() const;
  // A unit vector of dim() floats (all zeros only for text with no features, e.g. "").
  // Throws InvalidArgument on invalid UTF-8.
  std::vector<float> embed(std::string_view text) const;

 private:
  std::size_t dim_;
};

}  // namespace engram
