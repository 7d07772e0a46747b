#pragma once
// Helpers for the BertEmbedder tests: where the real model is, the committed reference data,
// and a generator of tiny synthetic BERT model directories (a few KB) to corrupt.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engram/embedders/bert_embedder.hpp"

namespace engram::testing {

inline constexpr const char* kModelName = "all-MiniLM-L6-v2";

// The real model directory, or empty with a test failure saying how to get it.
inline std::filesystem::path real_model_dir() {
  auto dir = default_model_dir(kModelName);
  if (!std::filesystem::exists(dir / "model.safetensors")) {
    ADD_FAILURE() << "the model is not installed at " << dir
                  << ": run scripts/fetch-model.sh (or set ENGRAM_MODEL_DIR to the directory that holds " << kModelName
                  << "/)";
    return {};
  }
  return dir;
}

inline std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_all(const std::filesystem::path& file, const std::string& bytes) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (a.size() != b.size() || na == 0 || nb == 0) return -2;
  return dot / std::sqrt(na * nb);
}

// ---- a tiny synthetic model -------------------------------------------------------------

struct FakeTensor {
  std::string name;
  std::string dtype = "F32";
  std::vector<std::uint64_t> shape;
  std::string bytes;  // raw data
};

struct TinyConfig {
  std::size_t hidden = 8, layers = 2, heads = 2, intermediate = 16, max_positions = 16, type_vocab = 2;
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",   "hello", "world", "how",
                                    "do",    "i",     "reset", "my",    "password", "?",     "##s",   "cat"};
};

inline std::string config_json(const TinyConfig& c, const std::string& act = "gelu") {
  return "{\"model_type\": \"bert\", \"hidden_act\": \"" + act + "\", \"hidden_size\": " + std::to_string(c.hidden) +
         ", \"num_hidden_layers\": " + std::to_string(c.layers) +
         ", \"num_attention_heads\": " + std::to_string(c.heads) +
         ", \"intermediate_size\": " + std::to_string(c.intermediate) +
         ", \"max_position_embeddings\": " + std::to_string(c.max_positions) +
         ", \"vocab_size\": " + std::to_string(c.vocab.size()) +
         ", \"type_vocab_size\": " + std::to_string(c.type_vocab) + ", \"layer_norm_eps\": 1e-12}";
}

// Values k/64 for small k are exact in F32, F16 and BF16, so all three dtypes give the same model.
inline float tiny_value(std::size_t tensor, std::size_t i) {
  return static_cast<float>(static_cast<int>((tensor * 7 + i * 13) % 17) - 8) / 64.0f;
}

inline std::string encode_values(const std::vector<float>& v, const std::string& dtype) {
  std::string out;
  for (float f : v) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, 4);
    if (dtype == "F32") {
      out.append(reinterpret_cast<const char*>(&f), 4);
    } else if (dtype == "BF16") {
      const auto h = static_cast<std::uint16_t>(bits >> 16);
      out.append(reinterpret_cast<const char*>(&h), 2);
    } else {  // F16, for the exact values above (normal numbers)
      const std::uint32_t sign = (bits >> 16) & 0x8000u;
      const int exp = static_cast<int>((bits >> 23) & 0xFF) - 127 + 15;
      std::uint16_t h = 0;
      if ((bits & 0x7FFFFFFFu) != 0)
        h = static_cast<std::uint16_t>(sign | (static_cast<std::uint32_t>(exp) << 10) | ((bits >> 13) & 0x3FFu));
      else h = static_cast<std::uint16_t>(sign);
      out.append(reinterpret_cast<const char*>(&h), 2);
    }
  }
  return out;
}

inline std::vector<FakeTensor> tiny_tensors(const TinyConfig& c, const std::string& dtype = "F32",
                                            const std::string& prefix = "") {
  std::vector<FakeTensor> t;
  const std::uint64_t h = c.hidden, in = c.intermediate;
  auto add = [&](const std::string& name, const std::vector<std::uint64_t>& shape, bool ln_weight = false) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = ln_weight ? 1.0f + tiny_value(t.size(), i) : tiny_value(t.size(), i);
    t.push_back({prefix + name, dtype, shape, encode_values(v, dtype)});
  };
  add("embeddings.word_embeddings.weight", {c.vocab.size(), h});
  add("embeddings.position_embeddings.weight", {c.max_positions, h});
  add("embeddings.token_type_embeddings.weight", {c.type_vocab, h});
  add("embeddings.LayerNorm.weight", {h}, true);
  add("embeddings.LayerNorm.bias", {h});
  for (std::size_t l = 0; l < c.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* w : {"query", "key", "value"}) {
      add(p + "attention.self." + w + ".weight", {h, h});
      add(p + "attention.self." + w + ".bias", {h});
    }
    add(p + "attention.output.dense.weight", {h, h});
    add(p + "attention.output.dense.bias", {h});
    add(p + "attention.output.LayerNorm.weight", {h}, true);
    add(p + "attention.output.LayerNorm.bias", {h});
    add(p + "intermediate.dense.weight", {in, h});
    add(p + "intermediate.dense.bias", {in});
    add(p + "output.dense.weight", {h, in});
    add(p + "output.dense.bias", {h});
    add(p + "output.LayerNorm.weight", {h}, true);
    add(p + "output.LayerNorm.bias", {h});
  }
  return t;
}

// Serializes tensors as safetensors. `header_json` overrides the generated header when set.
inline std::string safetensors_bytes(const std::vector<FakeTensor>& tensors, std::string* header_out = nullptr,
                                     const std::string* header_override = nullptr) {
  std::string header = "{\"__metadata__\": {\"format\": \"pt\"}";
  std::string data;
  for (const auto& t : tensors) {
    header += ", \"" + t.name + "\": {\"dtype\": \"" + t.dtype + "\", \"shape\": [";
    for (std::size_t i = 0; i < t.shape.size(); ++i) header += (i ? ", " : "") + std::to_string(t.shape[i]);
    header += "], \"data_offsets\": [" + std::to_string(data.size()) + ", " +
              std::to_string(data.size() + t.bytes.size()) + "]}";
    data += t.bytes;
  }
  header += "}";
  if (header_override != nullptr) header = *header_override;
  while ((8 + header.size()) % 8 != 0) header += ' ';
  if (header_out != nullptr) *header_out = header;
  std::string out(8, '\0');
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

// Writes a complete tiny model directory (mean pooling + Normalize unless told otherwise).
inline void write_tiny_model(const std::filesystem::path& dir, const TinyConfig& c = {},
                             const std::string& dtype = "F32", const std::string& prefix = "",
                             const std::string& pooling = "mean") {
  std::filesystem::create_directories(dir / "1_Pooling");
  write_all(dir / "config.json", config_json(c));
  write_all(dir / "model.safetensors", safetensors_bytes(tiny_tensors(c, dtype, prefix)));
  std::string vocab;
  for (const auto& v : c.vocab) vocab += v + "\n";
  write_all(dir / "vocab.txt", vocab);
  write_all(dir / "tokenizer_config.json", "{\"do_lower_case\": true, \"model_max_length\": 512}");
  write_all(dir / "modules.json",
            "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
            "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
            "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}]");
  write_all(dir / "1_Pooling" / "config.json",
            "{\"word_embedding_dimension\": " + std::to_string(c.hidden) +
                ", \"pooling_mode_cls_token\": " + (pooling == "cls" ? "true" : "false") +
                ", \"pooling_mode_mean_tokens\": " + (pooling == "mean" ? "true" : "false") +
                ", \"pooling_mode_max_tokens\": " + (pooling == "max" ? "true" : "false") + "}");
  write_all(dir / "sentence_bert_config.json", "{\"max_seq_length\": 12, \"do_lower_case\": false}");
}

// A copy of `src` in `dst` made of symlinks (directories recreated), so single files can be
// replaced or removed without copying the 90 MB weights.
inline void symlink_copy(const std::filesystem::path& src, const std::filesystem::path& dst) {
  std::filesystem::create_directories(dst);
  for (const auto& entry : std::filesystem::directory_iterator(src)) {
    const auto target = dst / entry.path().filename();
    if (entry.is_directory()) symlink_copy(entry.path(), target);
    else std::filesystem::create_symlink(std::filesystem::absolute(entry.path()), target);
  }
}

// Replaces `file` (a symlink or a file) with `bytes`.
inline void replace_file(const std::filesystem::path& file, const std::string& bytes) {
  std::filesystem::remove(file);
  write_all(file, bytes);
}

}  // namespace engram::testing
