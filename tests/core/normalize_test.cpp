// Normalization and hashing: what makes two queries "the same" for the exact layer.
#include <gtest/gtest.h>

#include "engram/errors.hpp"
#include "engram/hash.hpp"
#include "engram/normalize.hpp"

namespace engram {
namespace {

TEST(Normalize, TrimsAndCollapsesAsciiWhitespace) {
  EXPECT_EQ(normalize_query("  How   do\tI\n\r reset  "), "how do i reset");
  EXPECT_EQ(normalize_query(""), "");
  EXPECT_EQ(normalize_query(" \t\n "), "");
}

TEST(Normalize, CollapsesUnicodeWhitespace) {
  // NBSP, ideographic space, em space and line separator are all whitespace.
  EXPECT_EQ(normalize_query("a\u00a0\u3000b\u2003c\u2028d"), "a b c d");
  EXPECT_EQ(normalize_query("\u3000Ünïcode\u00a0"), "ünïcode");
}

TEST(Normalize, FullUnicodeCaseFolding) {
  EXPECT_EQ(normalize_query("STRAßE"), "strasse");
  EXPECT_EQ(normalize_query("Straße"), normalize_query("STRASSE"));
  EXPECT_EQ(normalize_query("ΣΊΣΥΦΟΣ"), normalize_query("σίσυφος"));
  EXPECT_EQ(normalize_query("ÀÉÎ"), "àéî");
}

TEST(Normalize, AsciiFastPathAgreesWithUnicodePath) {
  // The same ASCII words with one non-ASCII space take the slow path; results must agree.
  EXPECT_EQ(normalize_query("Hello  WORLD"), "hello world");
  EXPECT_EQ(normalize_query("Hello\u00a0WORLD"), "hello world");
}

TEST(Normalize, NfkcIsOptional) {
  const std::string fullwidth = "\uff26\uff55\uff4c\uff4c";  // "Ｆｕｌｌ"
  EXPECT_NE(normalize_query(fullwidth), "full");
  EXPECT_EQ(normalize_query(fullwidth, {.nfkc = true}), "full");
  EXPECT_EQ(normalize_query("ﬁle", {.nfkc = true}), "file");  // ligature
}

TEST(Normalize, RejectsInvalidUtf8) {
  for (const std::string& bad : {std::string("\xff"), std::string("abc\xc3"), std::string("\xc0\xaf"),  // overlong
                                 std::string("\xed\xa0\x80"),                                           // surrogate
                                 std::string("\xf4\x90\x80\x80"), std::string("a\x80 b")}) {
    EXPECT_FALSE(is_valid_utf8(bad));
    EXPECT_THROW(normalize_query(bad), InvalidArgument);
    EXPECT_THROW(hash_query(bad), InvalidArgument);
  }
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80 emoji"));
}

TEST(Hash, EqualAfterNormalizationAndDistinctOtherwise) {
  EXPECT_EQ(hash_query("How do I reset my password?"), hash_query("  how DO i reset   my PASSWORD?"));
  EXPECT_NE(hash_query("reset password"), hash_query("reset passwords"));
  EXPECT_EQ(hash_query("STRAßE"), hash_query("strasse"));
}

TEST(Hash, IsTheCanonicalXxh3_128) {
  // Fixed values: a change here changes every stored hash, breaking existing caches.
  EXPECT_EQ(hash_bytes("").hex(), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(hash_query("Hello World").hex(), hash_bytes("hello world").hex());
  EXPECT_EQ(hash_bytes("hello world").hex().size(), 32u);
}

}  // namespace
}  // namespace engram
