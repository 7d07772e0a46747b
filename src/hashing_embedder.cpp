// HashingEmbedder: signed feature hashing of words, word bigrams and character n-grams.
// Determinism: features are hashed with XXH3-64 (fixed seeds), then sorted before weights are
// accumulated, so the floating-point summation order never depends on container internals.
#include "engram/embedders/hashing_embedder.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cmath>

#include "engram/errors.hpp"
#include "engram/normalize.hpp"

namespace engram {
namespace {

// One seed per feature family keeps "ab" the word apart from "ab" the character gram.
constexpr XXH64_hash_t kWordSeed = 0x656e6772616d3031ULL;
constexpr XXH64_hash_t kBigramSeed = 0x656e6772616d3032ULL;
constexpr XXH64_hash_t kCharSeed = 0x656e6772616d3033ULL;
constexpr float kWordWeight = 1.0f, kBigramWeight = 0.7f, kCharWeight = 0.35f;

struct Feature {
  std::uint64_t hash;
  float weight;
  friend bool operator<(const Feature& a, const Feature& b) { return a.hash < b.hash; }
};

bool is_word_byte(unsigned char c) {
  return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '\'';
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    const std::size_t start = i;
    while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

std::uint64_t hash_of(std::string_view s, XXH64_hash_t seed) { return XXH3_64bits_withSeed(s.data(), s.size(), seed); }

}  // namespace

HashingEmbedder::HashingEmbedder(std::size_t dim) : dim_(dim) {
  if (dim == 0 || dim > 65536) {
    throw InvalidArgument("HashingEmbedder dimension " + std::to_string(dim) +
                          " is out of range. Remediation: use a dimension in [1, 65536], e.g. 384.");
  }
}

std::string HashingEmbedder::fingerprint() const { return "engram:hashing:v1:d" + std::to_string(dim_); }

std::vector<float> HashingEmbedder::embed(std::string_view text) const {
  const std::string normalized = normalize_query(text);
  const std::vector<std::string_view> words = split_words(normalized);

  std::vector<Feature> features;
  features.reserve(words.size() * 2 + normalized.size() * 3);
  for (std::size_t i = 0; i < words.size(); ++i) {
    features.push_back({hash_of(words[i], kWordSeed), kWordWeight});
    if (i + 1 < words.size()) {
      const std::string bigram = std::string(words[i]) + ' ' + std::string(words[i + 1]);
      features.push_back({hash_of(bigram, kBigramSeed), kBigramWeight});
    }
  }
  // Character grams over the words joined by single spaces, with boundary spaces, so that
  // punctuation differences ("password?" vs "password") do not change them.
  std::string joined = " ";
  for (auto w : words) joined.append(w).push_back(' ');
  for (std::size_t n = 3; n <= 5; ++n)
    for (std::size_t i = 0; i + n <= joined.size(); ++i)
      features.push_back({hash_of(std::string_view(joined).substr(i, n), kCharSeed + n), kCharWeight});

  std::sort(features.begin(), features.end());
  std::vector<float> out(dim_, 0.0f);
  for (std::size_t i = 0; i < features.size();) {
    std::size_t j = i;
    while (j < features.size() && features[j].hash == features[i].hash) ++j;
    const auto tf = static_cast<float>(j - i);
    const float weight = features[i].weight * (1.0f + std::log(tf));  // sublinear term weight
    const std::uint64_t h = features[i].hash;
    const float sign = (h >> 63) ? -1.0f : 1.0f;
    out[(h & 0x7fffffffffffffffULL) % dim_] += sign * weight;
    i = j;
  }
  double norm = 0;
  for (float v : out) norm += static_cast<double>(v) * v;
  if (norm > 0) {
    const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& v : out) v *= inv;
  }
  return out;
}

}  // namespace engram
