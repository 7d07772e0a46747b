#pragma once
// TEMPORARY (wt-bert): a minimal stand-in for the WordPiece tokenizer written in wt-tok, with
// exactly the interface of /work/ISSUE9.md so that the model code builds and runs end to end.
// The lead replaces this file and wordpiece.cpp with the real implementation at merge.
// This version: whitespace/punctuation/CJK split, lower-casing and accent stripping through
// utf8proc, greedy longest-match WordPiece. Thread-safe (const after construction).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace engram::detail {

struct WordPieceOptions {
  bool lowercase = true;              // tokenizer_config.json do_lower_case
  std::optional<bool> strip_accents;  // tokenizer_config.json strip_accents (null: follows lowercase)
  bool split_cjk = true;              // tokenize_chinese_chars
  std::size_t max_length = 512;       // total ids including [CLS] and [SEP]
};

class WordPieceTokenizer {
 public:
  // Loads the vocabulary from `dir`/tokenizer.json (model.vocab) when present, else `dir`/vocab.txt,
  // and the options from `dir`/tokenizer_config.json when present. max_length is
  // min(model_max_length from tokenizer_config.json, max_length_cap). Throws InvalidArgument naming
  // the file and what is wrong.
  static WordPieceTokenizer from_directory(const std::filesystem::path& dir, std::size_t max_length_cap);
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options);  // vocab[id] = token
  // [CLS] wordpieces... [SEP], truncated so the total is at most max_length. Thread-safe (const).
  // Invalid UTF-8 throws InvalidArgument.
  std::vector<std::int32_t> encode(std::string_view text) const;
  std::size_t vocab_size() const noexcept { return vocab_.size(); }
  std::int32_t cls_id() const noexcept { return cls_; }
  std::int32_t sep_id() const noexcept { return sep_; }
  std::int32_t pad_id() const noexcept { return pad_; }
  std::int32_t unk_id() const noexcept { return unk_; }
  const WordPieceOptions& options() const noexcept { return options_; }

 private:
  void wordpiece(std::string_view word, std::vector<std::int32_t>& out) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, std::int32_t> ids_;
  WordPieceOptions options_;
  std::int32_t cls_ = -1, sep_ = -1, pad_ = -1, unk_ = -1;
};

}  // namespace engram::detail
