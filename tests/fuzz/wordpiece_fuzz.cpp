// libFuzzer harness for the WordPiece tokenizer (see README.md). The first input byte picks the
// target; the rest is fed as
//   0: tokenizer.json content        -> WordPieceTokenizer::from_directory
//   1: vocab.txt content             -> WordPieceTokenizer::from_directory
//   2: tokenizer_config.json content -> from_directory (beside a small valid tokenizer.json)
//   3+: text                         -> encode() on the real model's vocabulary when
//                                       ENGRAM_MODEL_DIR/all-MiniLM-L6-v2 exists, else a tiny one
// Only engram::InvalidArgument may escape the library; anything else (or a sanitizer report) is
// a bug.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "engram/errors.hpp"
#include "wordpiece.hpp"

namespace {

using engram::detail::WordPieceOptions;
using engram::detail::WordPieceTokenizer;
namespace fs = std::filesystem;

constexpr std::string_view kSmallJson = R"({"model": {"type": "WordPiece", "unk_token": "[UNK]",
  "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
  "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "hello": 5, "##lo": 6, "a": 7}},
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
  "strip_accents": null, "lowercase": true}, "pre_tokenizer": {"type": "BertPreTokenizer"},
  "added_tokens": [{"id": 4, "content": "[MASK]", "special": true, "normalized": false}]})";

// One scratch directory per process (in /dev/shm when there is one: many writes per second).
const fs::path& scratch() {
  static const fs::path dir = [] {
    const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("engram-wordpiece-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch(), ec);
    });
    return d;
  }();
  return dir;
}

void write(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

void load(std::string_view tokenizer_json, std::string_view vocab_txt, std::string_view config, bool with_config) {
  const fs::path& dir = scratch();
  std::error_code ec;
  fs::remove(dir / "tokenizer.json", ec);
  fs::remove(dir / "vocab.txt", ec);
  fs::remove(dir / "tokenizer_config.json", ec);
  if (!tokenizer_json.empty()) write(dir / "tokenizer.json", tokenizer_json);
  if (!vocab_txt.empty()) write(dir / "vocab.txt", vocab_txt);
  if (with_config) write(dir / "tokenizer_config.json", config);
  try {
    const auto tokenizer = WordPieceTokenizer::from_directory(dir, 64);
    const auto ids = tokenizer.encode("Hello, héllo [MASK] 中文 wörld!");
    if (ids.size() > tokenizer.options().max_length || ids.front() != tokenizer.cls_id() ||
        ids.back() != tokenizer.sep_id())
      std::abort();
    for (const auto id : ids)
      if (id < 0 || static_cast<std::size_t>(id) >= tokenizer.vocab_size()) std::abort();
  } catch (const engram::InvalidArgument&) {
  }
}

const WordPieceTokenizer& text_tokenizer() {
  static const std::unique_ptr<WordPieceTokenizer> tokenizer = [] {
    const char* env = std::getenv("ENGRAM_MODEL_DIR");
    if (env && *env && fs::exists(fs::path(env) / "all-MiniLM-L6-v2")) {
      return std::make_unique<WordPieceTokenizer>(
          WordPieceTokenizer::from_directory(fs::path(env) / "all-MiniLM-L6-v2", 512));
    }
    return std::make_unique<WordPieceTokenizer>(
        std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "##a", "é", "##b", "中"},
        WordPieceOptions{});
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0:
      load(body, {}, {}, false);
      break;
    case 1:
      load({}, body, {}, false);
      break;
    case 2:
      load(kSmallJson, {}, body, true);
      break;
    default: {
      const auto& tokenizer = text_tokenizer();
      try {
        const auto ids = tokenizer.encode(body);
        if (ids.size() < 2 || ids.size() > tokenizer.options().max_length) std::abort();
        for (const auto id : ids)
          if (id < 0 || static_cast<std::size_t>(id) >= tokenizer.vocab_size()) std::abort();
      } catch (const engram::InvalidArgument&) {
      }
      // Other options on the same text.
      try {
        (void)engram::detail::bert_pre_tokenize(body, WordPieceOptions{.lowercase = data[0] & 8 ? true : false,
                                                                       .strip_accents = (data[0] & 16) != 0,
                                                                       .split_cjk = (data[0] & 32) != 0});
      } catch (const engram::InvalidArgument&) {
      }
    }
  }
  return 0;
}
