#pragma once
// The BERT WordPiece tokenizer, written to reproduce the reference tokenizer (Hugging Face
// `tokenizers`: BertNormalizer + BertPreTokenizer + WordPiece + the [CLS] A [SEP] template, as
// loaded from a sentence-transformers model folder) id for id:
//
//   1. special tokens ([CLS], [SEP], [PAD], [UNK], [MASK], or tokenizer.json's added_tokens)
//      written literally in the text are matched first, on the raw text, and kept as one id;
//   2. the rest is cleaned (U+0000, U+FFFD and control/format/unassigned/private-use characters
//      dropped, whitespace mapped to a space), CJK ideographs are surrounded by spaces, accents
//      are stripped (NFD, then nonspacing marks dropped) when configured, and it is lower-cased;
//   3. it is split on whitespace, and every punctuation character (ASCII 33-47, 58-64, 91-96,
//      123-126 and the Unicode P* categories) becomes a word of its own;
//   4. each word is cut greedily into the longest vocabulary entries, continuations prefixed
//      with "##"; a word longer than max_input_chars_per_word (100) characters or one that
//      cannot be cut completely becomes [UNK];
//   5. the ids are truncated to max_length - 2 and framed as [CLS] ... [SEP].
//
// Unicode character properties come from utf8proc, corrected where the reference's tables
// (older Unicode versions) disagree, so both classify every code point the same way.
//
// Thread safety: a constructed tokenizer is immutable; encode() and the accessors may be called
// from any number of threads at once.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace engram::detail {

struct WordPieceOptions {
  bool lowercase = true;                             // tokenizer_config.json do_lower_case
  std::optional<bool> strip_accents = std::nullopt;  // tokenizer_config.json (null: follows lowercase)
  bool split_cjk = true;                             // tokenize_chinese_chars
  std::size_t max_length = 512;                      // total ids including [CLS] and [SEP]
};

class WordPieceTokenizer {
 public:
  // Loads the vocabulary from `dir`/tokenizer.json (model.vocab) when present, else
  // `dir`/vocab.txt, and the options from `dir`/tokenizer_config.json when present (else from
  // tokenizer.json's BertNormalizer, else the defaults). max_length is min(model_max_length from
  // tokenizer_config.json, max_length_cap). Throws InvalidArgument naming the file and what is
  // wrong: missing or unreadable file, bad JSON, a model that is not WordPiece with "##"
  // continuations, ids that are negative, repeated or leave holes, tokens that are empty,
  // repeated or not UTF-8, a vocabulary without [CLS]/[SEP]/[UNK]/[PAD], max_length_cap < 2.
  static WordPieceTokenizer from_directory(const std::filesystem::path& dir, std::size_t max_length_cap);

  // vocab[id] = token. Throws InvalidArgument when a token is empty, repeated or not valid UTF-8,
  // when the vocabulary has more than INT32_MAX tokens or lacks [CLS], [SEP], [UNK] or [PAD], or
  // when options.max_length < 2. The tokens [PAD], [UNK], [CLS], [SEP] and [MASK] present in the
  // vocabulary are matched literally in encoded text.
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options);

  // [CLS] wordpieces... [SEP], truncated so the total is at most max_length. Thread-safe (const).
  // Invalid UTF-8 throws InvalidArgument.
  std::vector<std::int32_t> encode(std::string_view text) const;

  std::size_t vocab_size() const noexcept { return vocab_.size(); }
  std::int32_t cls_id() const noexcept { return cls_id_; }
  std::int32_t sep_id() const noexcept { return sep_id_; }
  std::int32_t pad_id() const noexcept { return pad_id_; }
  std::int32_t unk_id() const noexcept { return unk_id_; }
  const WordPieceOptions& options() const noexcept { return options_; }
  // The token of `id`; precondition: 0 <= id < vocab_size().
  const std::string& token(std::int32_t id) const noexcept { return vocab_[static_cast<std::size_t>(id)]; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::int32_t, Hash, std::equal_to<>>;
  struct Special {
    std::string text;
    std::int32_t id;
  };
  friend class WordPieceEncoder;  // encode()'s per-call state (wordpiece.cpp)

  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options, const std::string& source,
                     const std::string& unk_token, std::size_t max_word_chars, std::vector<Special> specials);

  std::vector<std::string> vocab_;
  Map ids_;
  WordPieceOptions options_;
  bool strip_accents_ = true;
  std::size_t max_word_chars_ = 100;
  std::vector<Special> specials_;  // matched on the raw text, leftmost then longest
  std::int32_t cls_id_ = 0, sep_id_ = 0, pad_id_ = 0, unk_id_ = 0;
};

// The words encode() would look up for `text` (after normalization and pre-tokenization, before
// WordPiece; special tokens are not matched). For tests and diagnostics. Invalid UTF-8 throws
// InvalidArgument.
std::vector<std::string> bert_pre_tokenize(std::string_view text, const WordPieceOptions& options);

}  // namespace engram::detail
