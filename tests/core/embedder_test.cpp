// HashingEmbedder: deterministic unit vectors in which paraphrases are close.
#include <gtest/gtest.h>

#include <cmath>

#include "engram/embedders/hashing_embedder.hpp"
#include "engram/errors.hpp"

namespace engram {
namespace {

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

TEST(HashingEmbedder, UnitLengthAndDimension) {
  for (std::size_t dim : {1u, 7u, 384u, 1536u}) {
    HashingEmbedder e(dim);
    const auto v = e.embed("How do I reset my password?");
    ASSERT_EQ(v.size(), dim);
    EXPECT_NEAR(cosine(v, v), 1.0, 1e-5);
  }
}

TEST(HashingEmbedder, Fingerprint) {
  EXPECT_EQ(HashingEmbedder().fingerprint(), "engram:hashing:v1:d384");
  EXPECT_EQ(HashingEmbedder(64).fingerprint(), "engram:hashing:v1:d64");
}

TEST(HashingEmbedder, DeterministicAcrossInstances) {
  EXPECT_EQ(HashingEmbedder().embed("the same text"), HashingEmbedder().embed("the same text"));
}

TEST(HashingEmbedder, StableAcrossMachines) {
  // Pinned bit-exact output: a change here silently invalidates every stored embedding, so
  // the fingerprint version must be bumped along with it.
  const std::vector<float> expected = {0x1.785a1ep-2f, 0x0p+0f,        -0x1.0cd2aap-1f, 0x0p+0f,
                                       0x1.785a2p-3f,  0x1.785a2p-2f,  0x0p+0f,         0x1.785a2p-2f,
                                       0x1.785a2p-3f,  -0x1.785a2p-3f, -0x1.785a2p-3f,  0x1.5d7842p-2f,
                                       0x1.785a2p-3f,  0x0p+0f,        0x0p+0f,         0x1.785a2p-3f};
  EXPECT_EQ(HashingEmbedder(16).embed("reset password"), expected);
}

TEST(HashingEmbedder, ParaphrasesAreCloserThanUnrelatedText) {
  HashingEmbedder e;
  const auto a = e.embed("How do I reset my password?");
  const auto b = e.embed("how can I reset my password");
  const auto c = e.embed("What is the capital of France?");
  EXPECT_GT(cosine(a, b), 0.7);
  EXPECT_LT(cosine(a, c), 0.3);
  EXPECT_GT(cosine(a, b), cosine(a, c) + 0.4);
}

TEST(HashingEmbedder, CaseAndSpacingDoNotMatter) {
  HashingEmbedder e;
  EXPECT_EQ(e.embed("Reset  my PASSWORD"), e.embed("reset my password"));
}

TEST(HashingEmbedder, EmptyTextIsZeroAndInvalidInputThrows) {
  HashingEmbedder e(8);
  for (float x : e.embed("")) EXPECT_EQ(x, 0.0f);
  EXPECT_THROW(e.embed("\xff\xfe"), InvalidArgument);
  EXPECT_THROW(HashingEmbedder(0), InvalidArgument);
}

}  // namespace
}  // namespace engram
