// TEMPORARY (wt-bert): minimal WordPiece tokenizer, replaced at merge by the wt-tok version.
#include "wordpiece.hpp"

#include <utf8proc.h>

#include <simdjson.h>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "engram/errors.hpp"

namespace engram::detail {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw InvalidArgument("tokenizer file " + file.string() + ": " + what +
                        ". Remediation: re-fetch the model with scripts/fetch-model.sh.");
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot be opened");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool is_cjk(utf8proc_int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_punct(utf8proc_int32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  const auto cat = utf8proc_category(c);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool is_space(utf8proc_int32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

bool is_control(utf8proc_int32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  const auto cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF;
}

void append_utf8(std::string& out, utf8proc_int32_t c) {
  utf8proc_uint8_t buf[4];
  const auto n = utf8proc_encode_char(c, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options)
    : vocab_(std::move(vocab)), options_(options) {
  for (std::size_t i = 0; i < vocab_.size(); ++i) ids_.emplace(vocab_[i], static_cast<std::int32_t>(i));
  auto id = [&](const char* t) {
    auto it = ids_.find(t);
    if (it == ids_.end())
      throw InvalidArgument(std::string("vocabulary has no ") + t +
                            " token. Remediation: use the vocabulary the model was trained with.");
    return it->second;
  };
  cls_ = id("[CLS]");
  sep_ = id("[SEP]");
  pad_ = id("[PAD]");
  unk_ = id("[UNK]");
  if (options_.max_length < 2) throw InvalidArgument("max_length < 2. Remediation: use at least 2.");
}

WordPieceTokenizer WordPieceTokenizer::from_directory(const std::filesystem::path& dir, std::size_t max_length_cap) {
  std::vector<std::string> vocab;
  WordPieceOptions options;
  simdjson::dom::parser parser;
  const auto tok_json = dir / "tokenizer.json";
  std::filesystem::path vocab_file;
  if (std::filesystem::exists(tok_json)) {
    vocab_file = tok_json;
    simdjson::padded_string text(read_file(tok_json));
    simdjson::dom::element doc;
    simdjson::dom::object v;
    if (parser.parse(text).get(doc) || doc["model"]["vocab"].get_object().get(v)) fail(tok_json, "no model.vocab");
    for (auto [key, value] : v) {
      int64_t i = 0;
      if (value.get_int64().get(i) || i < 0 || i > 10'000'000) fail(tok_json, "bad vocabulary id");
      if (vocab.size() <= static_cast<std::size_t>(i)) vocab.resize(static_cast<std::size_t>(i) + 1);
      vocab[static_cast<std::size_t>(i)] = std::string(key);
    }
  } else {
    vocab_file = dir / "vocab.txt";
    std::istringstream in(read_file(vocab_file));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      vocab.push_back(line);
    }
  }
  std::size_t model_max = 512;
  const auto cfg = dir / "tokenizer_config.json";
  if (std::filesystem::exists(cfg)) {
    simdjson::padded_string text(read_file(cfg));
    simdjson::dom::element doc;
    if (parser.parse(text).get(doc) || !doc.is_object()) fail(cfg, "not a JSON object");
    bool b = false;
    if (!doc["do_lower_case"].get_bool().get(b)) options.lowercase = b;
    if (!doc["strip_accents"].get_bool().get(b)) options.strip_accents = b;
    if (!doc["tokenize_chinese_chars"].get_bool().get(b)) options.split_cjk = b;
    uint64_t m = 0;
    if (!doc["model_max_length"].get_uint64().get(m)) model_max = static_cast<std::size_t>(m);
  }
  options.max_length = std::min(model_max, max_length_cap);
  try {
    return WordPieceTokenizer(std::move(vocab), options);
  } catch (const InvalidArgument& e) {
    fail(vocab_file, e.what());
  }
}

void WordPieceTokenizer::wordpiece(std::string_view word, std::vector<std::int32_t>& out) const {
  std::size_t chars = 0;
  for (unsigned char c : word) chars += (c & 0xC0) != 0x80;
  if (chars > 100) {
    out.push_back(unk_);
    return;
  }
  std::vector<std::int32_t> pieces;
  std::size_t start = 0;
  std::string candidate;
  while (start < word.size()) {
    std::size_t end = word.size();
    std::int32_t found = -1;
    while (end > start) {
      candidate.assign(start > 0 ? "##" : "");
      candidate.append(word.substr(start, end - start));
      if (auto it = ids_.find(candidate); it != ids_.end()) {
        found = it->second;
        break;
      }
      do --end;  // step back one code point
      while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
    }
    if (found < 0) {
      out.push_back(unk_);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::int32_t> WordPieceTokenizer::encode(std::string_view text) const {
  // Basic tokenization: clean, split on whitespace, CJK and punctuation; lower-case and strip accents.
  const bool strip = options_.strip_accents.value_or(options_.lowercase);
  std::vector<std::string> words(1);
  auto flush = [&] {
    if (!words.back().empty()) words.emplace_back();
  };
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t c = 0;
    const auto n = utf8proc_iterate(p, left, &c);
    if (n <= 0) throw InvalidArgument("text is not valid UTF-8. Remediation: re-encode the text as UTF-8.");
    p += n;
    left -= n;
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_space(c)) {
      flush();
      continue;
    }
    if (options_.split_cjk && is_cjk(c)) {
      flush();
      append_utf8(words.back(), c);
      flush();
      continue;
    }
    utf8proc_int32_t cps[8];
    std::size_t count = 1;
    cps[0] = options_.lowercase ? utf8proc_tolower(c) : c;
    if (strip) {
      int last = 0;
      const auto m = utf8proc_decompose_char(cps[0], cps, 8, UTF8PROC_DECOMPOSE, &last);
      count = m > 0 && m <= 8 ? static_cast<std::size_t>(m) : 1;
    }
    for (std::size_t i = 0; i < count; ++i) {
      const auto d = cps[i];
      if (strip && utf8proc_category(d) == UTF8PROC_CATEGORY_MN) continue;
      if (is_punct(d)) {
        flush();
        append_utf8(words.back(), d);
        flush();
      } else {
        append_utf8(words.back(), d);
      }
    }
  }
  std::vector<std::int32_t> ids{cls_};
  for (const auto& w : words) {
    if (w.empty()) continue;
    wordpiece(w, ids);
    if (ids.size() >= options_.max_length - 1) break;
  }
  if (ids.size() > options_.max_length - 1) ids.resize(options_.max_length - 1);
  ids.push_back(sep_);
  return ids;
}

}  // namespace engram::detail
