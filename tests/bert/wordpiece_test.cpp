// WordPieceTokenizer: id-for-id parity with the reference tokenizer (tests/data/bert/tokens.json,
// written by tools/bert_reference_tokens.py), every code point's treatment against the reference
// (unicode_classes.json), each rule on a tiny vocabulary, and bad model files.
//
// The model comes from ${ENGRAM_MODEL_DIR:-$HOME/.cache/engram/models}/all-MiniLM-L6-v2; when it is
// missing the model tests fail (they do not skip): run scripts/fetch-model.sh first.
#include "wordpiece.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "engram/errors.hpp"
#include "temp_dir.hpp"

namespace {

using engram::InvalidArgument;
using engram::detail::bert_pre_tokenize;
using engram::detail::WordPieceOptions;
using engram::detail::WordPieceTokenizer;
namespace fs = std::filesystem;

const std::string kData = ENGRAM_TEST_DATA_DIR "/bert";

fs::path model_dir() {
  const char* env = std::getenv("ENGRAM_MODEL_DIR");  // NOLINT(concurrency-mt-unsafe): nothing sets it
  const char* home = std::getenv("HOME");             // NOLINT(concurrency-mt-unsafe): nothing sets it
  const fs::path base = env && *env ? fs::path(env) : fs::path(home ? home : "") / ".cache/engram/models";
  return base / "all-MiniLM-L6-v2";
}

// Fails the calling test when the model is absent (never skips).
#define REQUIRE_MODEL()                                                                                  \
  do {                                                                                                   \
    if (!fs::exists(model_dir() / "tokenizer.json")) {                                                   \
      FAIL() << "the model is missing: " << model_dir().string()                                         \
             << "/tokenizer.json not found. Run scripts/fetch-model.sh (or set ENGRAM_MODEL_DIR to the " \
                "directory holding all-MiniLM-L6-v2/).";                                                 \
    }                                                                                                    \
  } while (0)

void write(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

struct Case {
  std::string text;
  std::vector<std::int32_t> ids_256, ids_512;
};

std::vector<Case> load_cases(const char* group) {
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.load(kData + "/tokens.json");
  std::vector<Case> cases;
  for (simdjson::dom::element item : root[group].get_array()) {
    Case c;
    c.text = std::string(std::string_view(item["text"]));
    for (std::int64_t id : item["ids_256"].get_array()) c.ids_256.push_back(static_cast<std::int32_t>(id));
    for (std::int64_t id : item["ids_512"].get_array()) c.ids_512.push_back(static_cast<std::int32_t>(id));
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string join(const std::vector<std::int32_t>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

// Compares every case; reports the first difference in full and returns how many matched.
std::size_t expect_parity(const WordPieceTokenizer& tokenizer, const std::vector<Case>& cases, bool at_256) {
  std::size_t identical = 0;
  bool reported = false;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& expected = at_256 ? cases[i].ids_256 : cases[i].ids_512;
    const auto actual = tokenizer.encode(cases[i].text);
    if (actual == expected) {
      ++identical;
      continue;
    }
    if (!reported) {
      std::size_t at = 0;
      while (at < actual.size() && at < expected.size() && actual[at] == expected[at]) ++at;
      ADD_FAILURE() << "case " << i << " (max_length " << (at_256 ? 256 : 512) << ") differs at position " << at
                    << "\n  text:      " << cases[i].text << "\n  reference: " << join(expected)
                    << "\n  engram:    " << join(actual);
      reported = true;
    }
  }
  EXPECT_EQ(identical, cases.size()) << identical << " of " << cases.size() << " identical";
  return identical;
}

// ---- Parity with the reference on the real vocabulary ------------------------------------------

TEST(WordPieceParity, SentencesMatchReferenceAt256) {
  REQUIRE_MODEL();
  const auto tokenizer = WordPieceTokenizer::from_directory(model_dir(), 256);
  const auto cases = load_cases("sentences");
  ASSERT_GE(cases.size(), 100u);
  expect_parity(tokenizer, cases, true);
}

TEST(WordPieceParity, SentencesMatchReferenceAt512) {
  REQUIRE_MODEL();
  const auto tokenizer = WordPieceTokenizer::from_directory(model_dir(), 512);
  expect_parity(tokenizer, load_cases("sentences"), false);
}

TEST(WordPieceParity, ExtraCasesMatchReference) {
  REQUIRE_MODEL();
  const auto cases = load_cases("extra");
  expect_parity(WordPieceTokenizer::from_directory(model_dir(), 256), cases, true);
  expect_parity(WordPieceTokenizer::from_directory(model_dir(), 512), cases, false);
}

TEST(WordPieceParity, LoadsMiniLmSettings) {
  REQUIRE_MODEL();
  const auto tokenizer = WordPieceTokenizer::from_directory(model_dir(), 256);
  EXPECT_EQ(tokenizer.vocab_size(), 30522u);
  EXPECT_EQ(tokenizer.cls_id(), 101);
  EXPECT_EQ(tokenizer.sep_id(), 102);
  EXPECT_EQ(tokenizer.pad_id(), 0);
  EXPECT_EQ(tokenizer.unk_id(), 100);
  EXPECT_TRUE(tokenizer.options().lowercase);
  EXPECT_FALSE(tokenizer.options().strip_accents.has_value());
  EXPECT_TRUE(tokenizer.options().split_cjk);
  EXPECT_EQ(tokenizer.options().max_length, 256u);
  EXPECT_EQ(WordPieceTokenizer::from_directory(model_dir(), 100000).options().max_length, 512u);  // model_max_length
}

TEST(WordPieceParity, VocabTxtAndTokenizerJsonGiveTheSameIds) {
  REQUIRE_MODEL();
  engram::testing::TempDir dir;
  fs::copy_file(model_dir() / "vocab.txt", dir / "vocab.txt");
  fs::copy_file(model_dir() / "tokenizer_config.json", dir / "tokenizer_config.json");
  const auto from_txt = WordPieceTokenizer::from_directory(dir.path(), 512);
  const auto from_json = WordPieceTokenizer::from_directory(model_dir(), 512);
  ASSERT_EQ(from_txt.vocab_size(), from_json.vocab_size());
  for (std::int32_t id = 0; id < static_cast<std::int32_t>(from_txt.vocab_size()); ++id)
    ASSERT_EQ(from_txt.token(id), from_json.token(id)) << "id " << id;
  for (const char* group : {"sentences", "extra"}) {
    for (const auto& c : load_cases(group)) EXPECT_EQ(from_txt.encode(c.text), from_json.encode(c.text)) << c.text;
  }
  expect_parity(from_txt, load_cases("sentences"), false);
}

// Every code point, in "a" + c + "b", is dropped, turned into a word boundary, isolated, stripped
// and lower-cased exactly as the reference does.
TEST(WordPieceUnicode, EveryCodePointIsClassifiedAsTheReferenceDoes) {
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.load(kData + "/unicode_classes.json");
  auto in_ranges = [&](const char* name) {
    std::vector<bool> set(0x110000, false);
    for (simdjson::dom::element range : root[name].get_array()) {
      const auto first = static_cast<std::uint32_t>(std::int64_t(range.at(0)));
      const auto last = static_cast<std::uint32_t>(std::int64_t(range.at(1)));
      for (std::uint32_t cp = first; cp <= last; ++cp) set[cp] = true;
    }
    return set;
  };
  const auto dropped = in_ranges("dropped"), whitespace = in_ranges("whitespace"), isolated = in_ranges("isolated"),
             marks = in_ranges("nonspacing_mark");
  std::vector<std::string> lowercase(0x110000);
  for (auto [key, value] : root["lowercase"].get_object())
    lowercase[std::stoul(std::string(key), nullptr, 16)] = std::string(std::string_view(value));

  WordPieceOptions plain{.lowercase = false, .strip_accents = false};
  WordPieceOptions strip{.lowercase = false, .strip_accents = true};
  WordPieceOptions lower{.lowercase = true, .strip_accents = false};
  std::size_t differences = 0;
  for (std::uint32_t cp = 0; cp < 0x110000 && differences < 10; ++cp) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    std::string c;
    if (cp < 0x80) {
      c += static_cast<char>(cp);
    } else if (cp < 0x800) {
      c += static_cast<char>(0xc0 | (cp >> 6));
      c += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      c += static_cast<char>(0xe0 | (cp >> 12));
      c += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      c += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      c += static_cast<char>(0xf0 | (cp >> 18));
      c += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      c += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      c += static_cast<char>(0x80 | (cp & 0x3f));
    }
    const std::string text = "a" + c + "b";
    const auto words = bert_pre_tokenize(text, plain);
    const bool is_dropped = words == std::vector<std::string>{"ab"};
    const bool is_space = words == std::vector<std::string>{"a", "b"};
    const bool is_isolated = words == std::vector<std::string>{"a", c, "b"};
    bool ok = is_dropped == dropped[cp] && (is_dropped || (is_space == whitespace[cp] && is_isolated == isolated[cp]));
    if (ok && !is_dropped) {
      ok = (bert_pre_tokenize(text, strip) == std::vector<std::string>{"ab"}) == marks[cp];
      const auto lowered = bert_pre_tokenize(text, lower);
      if (lowercase[cp].empty()) {
        ok = ok && lowered == words;
      } else {
        std::string joined;
        for (std::size_t i = 0; i < lowered.size(); ++i) joined += (i ? "|" : "") + lowered[i];
        const std::string expected =
            lowercase[cp].find('|') == std::string::npos ? "a" + lowercase[cp] + "b" : lowercase[cp];
        ok = ok && joined == expected;
      }
    }
    if (!ok) {
      ++differences;
      ADD_FAILURE() << "code point U+" << std::hex << cp << " is treated differently from the reference";
    }
  }
  EXPECT_EQ(differences, 0u);
}

// ---- Each rule on a tiny vocabulary -------------------------------------------------------------

std::vector<std::string> tiny_vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##aff", "##able", "##s", "!", ",",
          "a",     "##a",   "é",     "##é",   "cafe",   "café",  "cafe",  "中", "文",    "ab",     "cd",  "$", "##b"};
}

// The vocabulary above repeats "cafe" on purpose for one test; the others use this one.
std::vector<std::string> vocab() {
  auto v = tiny_vocab();
  v[19] = "Cafe";
  return v;
}

WordPieceTokenizer tiny(WordPieceOptions options = {}) { return WordPieceTokenizer(vocab(), options); }

std::int32_t id_of(const std::string& token) {
  const auto v = vocab();
  return static_cast<std::int32_t>(std::find(v.begin(), v.end(), token) - v.begin());
}

std::vector<std::int32_t> ids(std::initializer_list<const char*> tokens) {
  std::vector<std::int32_t> out{id_of("[CLS]")};
  for (const char* t : tokens) out.push_back(id_of(t));
  out.push_back(id_of("[SEP]"));
  return out;
}

using Words = std::vector<std::string>;

TEST(WordPieceRules, SpecialIdsComeFromTheVocabulary) {
  const auto t = tiny();
  EXPECT_EQ(t.vocab_size(), vocab().size());
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.unk_id(), 1);
  EXPECT_EQ(t.cls_id(), 2);
  EXPECT_EQ(t.sep_id(), 3);
  EXPECT_EQ(t.options().max_length, 512u);
}

TEST(WordPieceRules, EmptyAndBlankTextGiveClsSep) {
  EXPECT_EQ(tiny().encode(""), ids({}));
  EXPECT_EQ(tiny().encode(" \t\n\r\v\f "), ids({}));
  EXPECT_EQ(tiny().encode(std::string_view("\0\0", 2)), ids({}));
}

TEST(WordPieceRules, ContinuationsUseTheDoubleHashPrefix) {
  EXPECT_EQ(tiny().encode("unaffable"), ids({"un", "##aff", "##able"}));
  EXPECT_EQ(tiny().encode("hello world"), ids({"hello", "world"}));
  EXPECT_EQ(tiny().encode("aaa"), ids({"a", "##a", "##a"}));
  EXPECT_EQ(tiny({.lowercase = true, .strip_accents = false}).encode("éé"), ids({"é", "##é"}));
}

TEST(WordPieceRules, LongestMatchFirstIsGreedy) {
  // With "una" in the vocabulary it is the longest prefix of "unaffable"; without "##ffable" the
  // rest cannot be matched and the whole word is [UNK] (no backtracking to "un" + "##aff").
  std::vector<std::string> v = vocab();
  v.emplace_back("una");       // 26
  v.emplace_back("##ffable");  // 27
  EXPECT_EQ(WordPieceTokenizer(v, {}).encode("unaffable"), (std::vector<std::int32_t>{2, 26, 27, 3}));
  v.pop_back();
  EXPECT_EQ(WordPieceTokenizer(v, {}).encode("unaffable"), (std::vector<std::int32_t>{2, 1, 3}));
  EXPECT_EQ(tiny().encode("unaffables"), ids({"un", "##aff", "##able", "##s"}));
}

TEST(WordPieceRules, AWordThatCannotBeCutCompletelyIsOneUnk) {
  EXPECT_EQ(tiny().encode("unaffablex hello"), ids({"[UNK]", "hello"}));
  EXPECT_EQ(tiny().encode("xyz"), ids({"[UNK]"}));
  EXPECT_EQ(tiny().encode("ab"), ids({"ab"}));
  EXPECT_EQ(tiny().encode("abb"), ids({"ab", "##b"}));
  EXPECT_EQ(tiny().encode("abc"), ids({"[UNK]"}));
}

TEST(WordPieceRules, AWordOverOneHundredCharactersIsUnk) {
  EXPECT_EQ(tiny().encode(std::string(100, 'a')).size(), 102u);
  EXPECT_EQ(tiny().encode(std::string(101, 'a')), ids({"[UNK]"}));
  std::string e100, e101;
  for (int i = 0; i < 100; ++i) e100 += "é";  // 200 bytes, 100 characters
  e101 = e100 + "é";
  const auto keep = tiny({.lowercase = true, .strip_accents = false});
  EXPECT_EQ(keep.encode(e100).size(), 102u);
  EXPECT_EQ(keep.encode(e101 + " hello"), ids({"[UNK]", "hello"}));
}

TEST(WordPieceRules, PunctuationIsItsOwnWord) {
  EXPECT_EQ(tiny().encode("hello,world!"), ids({"hello", ",", "world", "!"}));
  EXPECT_EQ(tiny().encode("$hello"), ids({"$", "hello"}));
  const WordPieceOptions o;
  // ASCII 33-47, 58-64, 91-96, 123-126 are punctuation even where Unicode says symbol (^ ` ~ $ + < = > |).
  EXPECT_EQ(bert_pre_tokenize("a^b`c~d+e<f=g>h|i", o),
            (Words{"a", "^", "b", "`", "c", "~", "d", "+", "e", "<", "f", "=", "g", ">", "h", "|", "i"}));
  EXPECT_EQ(bert_pre_tokenize("¿qué?", o), (Words{"¿", "que", "?"}));                 // Po
  EXPECT_EQ(bert_pre_tokenize("a—b «c»", o), (Words{"a", "—", "b", "«", "c", "»"}));  // Pd, Pi, Pf
  EXPECT_EQ(bert_pre_tokenize("5€ 3°", o), (Words{"5€", "3°"}));                      // Sc, So: not punctuation
  EXPECT_EQ(bert_pre_tokenize("...", o), (Words{".", ".", "."}));
}

TEST(WordPieceRules, CjkIdeographsAreSplitWhenConfigured) {
  EXPECT_EQ(tiny().encode("ab中文cd"), ids({"ab", "中", "文", "cd"}));
  EXPECT_EQ(bert_pre_tokenize("ab中文cd", {}), (Words{"ab", "中", "文", "cd"}));
  EXPECT_EQ(bert_pre_tokenize("ab中文cd", {.split_cjk = false}), (Words{"ab中文cd"}));
  // Hiragana and Hangul are not in the CJK ideograph blocks.
  EXPECT_EQ(bert_pre_tokenize("abひらがなcd", {}), (Words{"abひらかなcd"}));  // dakuten stripped with accents
  EXPECT_EQ(bert_pre_tokenize("ab𠀀c", {}), (Words{"ab", "𠀀", "c"}));        // extension B
  EXPECT_EQ(bert_pre_tokenize("ab豈c", {}), (Words{"ab", "豈", "c"}));  // compatibility ideograph: NFD gives U+8C48
}

TEST(WordPieceRules, AccentsFollowLowercaseUnlessSet) {
  EXPECT_EQ(bert_pre_tokenize("Café Ñandú", {}), (Words{"cafe", "nandu"}));
  EXPECT_EQ(bert_pre_tokenize("Café", {.lowercase = true, .strip_accents = false}), (Words{"café"}));
  EXPECT_EQ(bert_pre_tokenize("Café", {.lowercase = false}), (Words{"Café"}));
  EXPECT_EQ(bert_pre_tokenize("Café", {.lowercase = false, .strip_accents = true}), (Words{"Cafe"}));
  EXPECT_EQ(bert_pre_tokenize("Cafe\xcc\x81", {.lowercase = false, .strip_accents = true}), (Words{"Cafe"}));
  EXPECT_EQ(tiny().encode("CAFÉ"), ids({"cafe"}));
  EXPECT_EQ(tiny({.lowercase = true, .strip_accents = false}).encode("CAFÉ"), ids({"café"}));
  EXPECT_EQ(tiny({.lowercase = false}).encode("Cafe"), ids({"Cafe"}));
  // U+0130 lower-cases to "i" + U+0307 when accents are kept, and to "i" when stripped.
  EXPECT_EQ(bert_pre_tokenize("İ", {.lowercase = true, .strip_accents = false}), (Words{"i\xcc\x87"}));
  EXPECT_EQ(bert_pre_tokenize("İ", {}), (Words{"i"}));
}

TEST(WordPieceRules, CleanupDropsControlsAndMapsWhitespace) {
  using namespace std::string_literals;
  EXPECT_EQ(bert_pre_tokenize("a\0b\tc\u200bd\ufffde\u00a0f\u3000g\x7fh"s, {}), (Words{"ab", "cde", "f", "gh"}));
  EXPECT_EQ(bert_pre_tokenize("x\u00ady\u2028z", {}), (Words{"xy", "z"}));  // soft hyphen (Cf) dropped
}

TEST(WordPieceRules, SpecialTokensWrittenInTheTextAreKept) {
  EXPECT_EQ(tiny().encode("hello[MASK]world"), ids({"hello", "[MASK]", "world"}));
  EXPECT_EQ(tiny().encode("[CLS][SEP]"), ids({"[CLS]", "[SEP]"}));
  EXPECT_EQ(tiny().encode("[mask]"), ids({"[UNK]", "[UNK]", "[UNK]"}));  // case-sensitive: [ mask ]
}

TEST(WordPieceRules, TruncationKeepsClsAndSep) {
  auto t = tiny({.max_length = 5});
  EXPECT_EQ(t.encode("hello world hello world"), ids({"hello", "world", "hello"}));
  EXPECT_EQ(t.encode("hello unaffable"), ids({"hello", "un", "##aff"}));  // cut inside a word
  EXPECT_EQ(t.encode("hello [MASK] [MASK] world"), ids({"hello", "[MASK]", "[MASK]"}));
  EXPECT_EQ(tiny({.max_length = 2}).encode("hello world"), ids({}));
  const auto long_text = [] {
    std::string s;
    for (int i = 0; i < 10000; ++i) s += "hello ";
    return s;
  }();
  const auto out = tiny().encode(long_text);
  EXPECT_EQ(out.size(), 512u);
  EXPECT_EQ(out.front(), 2);
  EXPECT_EQ(out.back(), 3);
}

TEST(WordPieceRules, InvalidUtf8Throws) {
  for (const char* bad : {"\xff", "abc\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80"}) {
    EXPECT_THROW(tiny().encode(bad), InvalidArgument) << bad;
    EXPECT_THROW(bert_pre_tokenize(bad, {}), InvalidArgument);
  }
  try {
    tiny().encode("\xff");
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Remediation:"), std::string::npos) << e.what();
  }
}

TEST(WordPieceRules, EncodeIsThreadSafe) {
  const auto t = tiny();
  const auto expected = t.encode("hello, unaffable world! ab中文cd");
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i)
        if (t.encode("hello, unaffable world! ab中文cd") != expected) ++mismatches;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

void expect_invalid(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected InvalidArgument mentioning " << needle;
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_NE(what.find(". Remediation: "), std::string::npos) << what;
  }
}

TEST(WordPieceRules, BadVocabulariesThrow) {
  auto without = [](const std::string& token) {
    auto v = vocab();
    v.erase(std::find(v.begin(), v.end(), token));
    return v;
  };
  for (const char* special : {"[CLS]", "[SEP]", "[PAD]", "[UNK]"})
    expect_invalid([&] { WordPieceTokenizer(without(special), {}); }, special);
  expect_invalid([] { WordPieceTokenizer(tiny_vocab(), {}); }, "'cafe' appears twice");
  expect_invalid([] { WordPieceTokenizer({"[PAD]", "[UNK]", "[CLS]", "[SEP]", ""}, {}); }, "token 4 is empty");
  expect_invalid([] { WordPieceTokenizer({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "\xff"}, {}); }, "not valid UTF-8");
  expect_invalid([] { WordPieceTokenizer(vocab(), {.max_length = 1}); }, "max_length 1");
}

// ---- Bad model files ---------------------------------------------------------------------------

const std::string kGoodJson = R"({"model": {"type": "WordPiece", "unk_token": "[UNK]",
  "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
  "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4}},
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
  "strip_accents": null, "lowercase": true}, "pre_tokenizer": {"type": "BertPreTokenizer"},
  "added_tokens": [{"id": 0, "content": "[PAD]", "special": true, "normalized": false}]})";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

// Writes `content` as `file` in a fresh directory and expects from_directory to throw naming it.
void expect_bad_file(const std::string& file, const std::string& content, const std::string& needle) {
  engram::testing::TempDir dir;
  write(dir / file, content);
  if (file == "tokenizer_config.json") write(dir / "tokenizer.json", kGoodJson);
  SCOPED_TRACE(file + ": " + needle);
  expect_invalid([&] { WordPieceTokenizer::from_directory(dir.path(), 512); }, (dir / file).string());
  expect_invalid([&] { WordPieceTokenizer::from_directory(dir.path(), 512); }, needle);
}

TEST(WordPieceFiles, GoodMinimalFilesLoad) {
  engram::testing::TempDir dir;
  write(dir / "tokenizer.json", kGoodJson);
  const auto t = WordPieceTokenizer::from_directory(dir.path(), 64);
  EXPECT_EQ(t.vocab_size(), 5u);
  EXPECT_EQ(t.encode("Hello [PAD] hi"), (std::vector<std::int32_t>{2, 4, 0, 1, 3}));
  EXPECT_EQ(t.options().max_length, 64u);
  // model_max_length as the huge float some configs carry means "no limit of its own".
  write(dir / "tokenizer_config.json",
        R"({"do_lower_case": false, "model_max_length": 1000000000000000019884624838656})");
  const auto u = WordPieceTokenizer::from_directory(dir.path(), 300);
  EXPECT_EQ(u.options().max_length, 300u);
  EXPECT_FALSE(u.options().lowercase);
  EXPECT_EQ(u.encode("Hello hello"), (std::vector<std::int32_t>{2, 1, 4, 3}));
  write(dir / "tokenizer_config.json", R"({"model_max_length": 128, "strip_accents": true})");
  EXPECT_EQ(WordPieceTokenizer::from_directory(dir.path(), 300).options().max_length, 128u);
  EXPECT_EQ(WordPieceTokenizer::from_directory(dir.path(), 300).options().strip_accents, true);
}

TEST(WordPieceFiles, MissingFilesThrow) {
  engram::testing::TempDir dir;
  expect_invalid([&] { WordPieceTokenizer::from_directory(dir / "absent", 512); }, (dir / "absent").string());
  expect_invalid([&] { WordPieceTokenizer::from_directory(dir.path(), 512); }, "neither tokenizer.json nor vocab.txt");
  write(dir / "tokenizer.json", kGoodJson);
  expect_invalid([&] { WordPieceTokenizer::from_directory(dir.path(), 1); }, "max_length_cap 1");
}

TEST(WordPieceFiles, BadTokenizerJsonThrows) {
  const std::string f = "tokenizer.json";
  expect_bad_file(f, "", "not valid JSON");
  expect_bad_file(f, kGoodJson.substr(0, kGoodJson.size() / 2), "not valid JSON");  // truncated
  expect_bad_file(f, "[1, 2]", "not a JSON object");
  expect_bad_file(f, "{}", "no \"model\"");
  expect_bad_file(f, replace(kGoodJson, "\"WordPiece\"", "\"BPE\""), "not \"WordPiece\"");
  expect_bad_file(f, replace(kGoodJson, "\"##\"", "\"@@\""), "continuing_subword_prefix");
  expect_bad_file(f, replace(kGoodJson, "\"hello\": 4", "\"hello\": 4000000000000"), "out of range");
  expect_bad_file(f, replace(kGoodJson, "\"hello\": 4", "\"hello\": 18446744073709551615"), "out of range");
  expect_bad_file(f, replace(kGoodJson, "\"hello\": 4", "\"hello\": 99999999999999999999999"), "hello");
  expect_bad_file(f, replace(kGoodJson, "\"hello\": 4", "\"hello\": -1"), "not a non-negative integer");
  expect_bad_file(f, replace(kGoodJson, "\"hello\": 4", "\"hello\": 1.5"), "not a non-negative integer");
  expect_bad_file(f, replace(kGoodJson, "\"hello\": 4", "\"hello\": 3"), "id 3 is given to both");
  expect_bad_file(f, replace(kGoodJson, "\"hello\": 4", "\"hello\": 5"), "no holes");
  expect_bad_file(f, replace(kGoodJson, "\"[CLS]\": 2", "\"[CLX]\": 2"), "[CLS]");
  expect_bad_file(f, replace(kGoodJson, "\"hello\": 4", "\"[SEP]\": 4"), "'[SEP]' appears twice");
  expect_bad_file(f, replace(kGoodJson, "\"hello\"", "\"hel\xff\""), "not valid JSON");  // invalid UTF-8
  expect_bad_file(f, replace(kGoodJson, "\"vocab\": {", "\"vocab\": [], \"x\": {"), "\"vocab\" is an array");
  expect_bad_file(f, replace(kGoodJson, "{\"[PAD]\": 0, ", "{"), "no holes");
  expect_bad_file(f, replace(kGoodJson, "\"BertNormalizer\"", "\"Lowercase\""), "not \"BertNormalizer\"");
  expect_bad_file(f, replace(kGoodJson, "\"lowercase\": true", "\"lowercase\": 1"), "\"lowercase\" is a number");
  expect_bad_file(f, replace(kGoodJson, "\"BertPreTokenizer\"", "\"Whitespace\""), "BertPreTokenizer");
  expect_bad_file(f, replace(kGoodJson, "\"id\": 0", "\"id\": 7"), "not in model.vocab");
  expect_bad_file(f, replace(kGoodJson, "\"normalized\": false", "\"lstrip\": true"), "lstrip");
  expect_bad_file(f, replace(kGoodJson, "\"unk_token\": \"[UNK]\"", "\"unk_token\": \"<unk>\""), "<unk>");
}

TEST(WordPieceFiles, BadVocabTxtThrows) {
  const std::string f = "vocab.txt";
  expect_bad_file(f, "", "is empty");
  expect_bad_file(f, "[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n", "line 3 is empty");
  expect_bad_file(f, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nab\xff\n", "line 5 is not valid UTF-8");
  expect_bad_file(f, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[UNK]\n", "'[UNK]' appears twice");
  expect_bad_file(f, "[PAD]\n[UNK]\n[CLS]\n", "[SEP]");
  engram::testing::TempDir dir;  // CRLF line ends and no final newline are fine
  write(dir / f, "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello");
  EXPECT_EQ(WordPieceTokenizer::from_directory(dir.path(), 8).encode("hello"), (std::vector<std::int32_t>{2, 4, 3}));
}

TEST(WordPieceFiles, BadTokenizerConfigThrows) {
  const std::string f = "tokenizer_config.json";
  expect_bad_file(f, "{\"do_lower_case\": ", "not valid JSON");
  expect_bad_file(f, "{\"do_lower_case\": \"yes\"}", "\"do_lower_case\" is a string");
  expect_bad_file(f, "{\"strip_accents\": 0}", "\"strip_accents\" is a number");
  expect_bad_file(f, "{\"model_max_length\": 1}", "model_max_length 1 is below 2");
  expect_bad_file(f, "{\"model_max_length\": -5}", "model_max_length");
}

}  // namespace
