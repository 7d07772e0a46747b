#pragma once
// The BERT encoder behind BertEmbedder: configuration files, weights and the forward pass.
// Internal (engram::detail); the public face is <engram/embedders/bert_embedder.hpp>.
//
// Forward pass, for a batch of token-id sequences: word + position + token-type(0) embeddings,
// LayerNorm; per layer: fused Q|K|V projection, multi-head scaled dot-product attention,
// output projection, residual + LayerNorm, GELU (erf) feed-forward, residual + LayerNorm; then
// mean pooling over the tokens (or the [CLS] token) and optional L2 normalization.
//
// Batching: the tokens of all sequences are packed end to end into one [tokens x hidden]
// matrix, so each weight matrix is applied by ONE cblas_sgemm for the whole batch; attention is
// computed per sequence over that sequence's own tokens. This equals padding to the longest
// sequence with an attention mask (padded keys get weight exactly 0 there), without spending
// FLOPs on padding. Thread safety: forward() is const and allocates its scratch per call.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engram/embedders/bert_embedder.hpp"
#include "safetensors.hpp"

namespace engram::detail {

struct BertConfig {
  std::size_t hidden = 0;
  std::size_t layers = 0;
  std::size_t heads = 0;
  std::size_t intermediate = 0;
  std::size_t max_positions = 0;
  std::size_t vocab = 0;
  std::size_t type_vocab = 0;
  float eps = 1e-12f;
};

// Reads and checks config.json (BERT, hidden_act gelu, absolute positions, sane sizes).
// Throws InvalidArgument naming the file.
BertConfig read_bert_config(const std::filesystem::path& config_json);

struct PoolingConfig {
  BertPooling pooling = BertPooling::kMean;
  bool normalize = false;
  std::size_t max_seq_length = 0;  // sentence_bert_config.json; 0 when absent
};

// Reads modules.json, the Pooling module's config.json and sentence_bert_config.json in `dir`.
// Throws InvalidArgument naming the file (missing, bad JSON, unsupported module or pooling).
PoolingConfig read_sentence_transformers_config(const std::filesystem::path& dir, std::size_t hidden);

class BertModel {
 public:
  // Takes the weights from `weights`, checking every tensor's presence, dtype and shape
  // against `config` (messages name `config_name` as the source of the expected shapes).
  BertModel(const BertConfig& config, SafetensorsFile weights, std::string config_name = "config.json");

  const BertConfig& config() const noexcept { return config_; }
  const std::string& weights_dtype() const noexcept { return dtype_; }

  // One pooled vector of config().hidden floats per sequence. Each sequence must be non-empty,
  // at most config().max_positions long, with ids < config().vocab (checked; InvalidArgument).
  std::vector<std::vector<float>> forward(std::span<const std::vector<std::int32_t>> sequences, BertPooling pooling,
                                          bool normalize) const;

 private:
  struct Layer {
    std::vector<float> qkv_w;  // [3H x H]: query, key, value weights stacked
    std::vector<float> qkv_b;  // [3H]
    const float* out_w = nullptr;
    const float* out_b = nullptr;
    const float* ln1_g = nullptr;
    const float* ln1_b = nullptr;
    const float* ffn_in_w = nullptr;
    const float* ffn_in_b = nullptr;
    const float* ffn_out_w = nullptr;
    const float* ffn_out_b = nullptr;
    const float* ln2_g = nullptr;
    const float* ln2_b = nullptr;
  };

  BertConfig config_;
  SafetensorsFile weights_;                                       // keeps the mapping alive
  std::vector<std::shared_ptr<const std::vector<float>>> owned_;  // converted tensors
  std::string dtype_;
  const float* word_ = nullptr;
  const float* position_ = nullptr;
  const float* token_type_ = nullptr;
  const float* emb_ln_g_ = nullptr;
  const float* emb_ln_b_ = nullptr;
  std::vector<Layer> layers_;
};

}  // namespace engram::detail
