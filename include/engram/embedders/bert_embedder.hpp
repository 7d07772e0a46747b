#pragma once
// BertEmbedder: an in-process transformer encoder for BERT-architecture sentence-transformers
// models (all-MiniLM-L6-v2 first; all-MiniLM-L12-v2, bge-small-en-v1.5 with CLS pooling,
// e5-small with BertOptions::query_prefix = "query: " load without code changes). No Python,
// no ONNX runtime, no server: link the CMake target engram::bert.
//
// A model directory holds (as sentence-transformers saves it, and scripts/fetch-model.sh
// installs it under default_model_dir(name)):
//   config.json                 BERT architecture: hidden_size, num_hidden_layers,
//                               num_attention_heads, intermediate_size, max_position_embeddings,
//                               layer_norm_eps, vocab_size, type_vocab_size; hidden_act "gelu"
//   model.safetensors           the weights, F32, F16 or BF16 (converted to F32 at load)
//   vocab.txt or tokenizer.json the WordPiece vocabulary; tokenizer_config.json its options
//   modules.json                Transformer -> Pooling [-> Normalize]
//   <pooling dir>/config.json   pooling_mode_mean_tokens or pooling_mode_cls_token
//   sentence_bert_config.json   max_seq_length (optional; the default is max_position_embeddings)
// Every file is validated at construction; embedding never reads unchecked data.
//
// Text is tokenized (WordPiece, [CLS] ... [SEP], truncated to max_tokens), encoded by the
// transformer, pooled (mean over the tokens or the [CLS] token) and, when modules.json has a
// Normalize module, L2-normalized.
//
// Thread safety: a BertEmbedder is immutable after construction. embed() and embed_batch() may
// be called from any number of threads at once; each call uses its own scratch memory. Copies
// are cheap and share the loaded model (the weights are mapped read-only, ~90 MB for MiniLM-L6).
//
// Threads: matrix products go through OpenBLAS, single-threaded per call by default (the
// cache's callers are the parallelism). The first BertEmbedder constructed in a process calls
// openblas_set_num_threads(n) with n = $ENGRAM_BLAS_THREADS when that variable is set to a
// positive integer, else 1. Set ENGRAM_BLAS_THREADS=2 (or more) to let one embed_batch() use
// several cores; OpenBLAS's thread count is process-wide.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace engram {

struct BertOptions {
  // Prepended to every text before tokenization (e5 models expect "query: " or "passage: ").
  std::string query_prefix{};
  // Maximum tokens per text including [CLS] and [SEP]; longer texts are truncated.
  // 0: the model's max_seq_length (sentence_bert_config.json), itself capped by
  // max_position_embeddings. A value above max_position_embeddings throws InvalidArgument.
  std::size_t max_tokens = 0;
  // The model name in fingerprint(). Empty: the directory's name.
  std::string name{};
  // The cosine threshold recommended_threshold() reports (and SemanticCache uses when
  // CacheOptions::similarity_threshold is unset). Unset: the value calibrated for the model when
  // engram knows it (see recommended_threshold()), else kDefaultSimilarityThreshold. A value
  // outside [-1, 1] throws InvalidArgument at construction.
  std::optional<double> recommended_threshold{};
};

enum class BertPooling { kMean, kCls };

// What was loaded (for logs and diagnostics).
struct BertModelInfo {
  std::string name{};
  std::filesystem::path dir;
  std::size_t hidden_size = 0;
  std::size_t num_layers = 0;
  std::size_t num_heads = 0;
  std::size_t intermediate_size = 0;
  std::size_t max_position_embeddings = 0;
  std::size_t vocab_size = 0;
  double layer_norm_eps = 0;
  std::size_t max_tokens = 0;  // effective truncation length, [CLS] and [SEP] included
  BertPooling pooling = BertPooling::kMean;
  bool normalize = false;      // a Normalize module follows pooling
  std::string weights_dtype;   // "F32", "F16", "BF16" (of the word embeddings)
  std::string weights_sha256;  // hex SHA-256 of model.safetensors
};

class BertEmbedder {
 public:
  // Loads the model in `dir`. Throws InvalidArgument naming the file and what is wrong when a
  // file is missing, unreadable or inconsistent (truncated or lying safetensors header, tensor
  // shape or dtype not matching config.json, unsupported architecture or pooling, vocabulary
  // without [CLS]/[SEP]/[UNK]/[PAD], ...). Reads and hashes model.safetensors once (SHA-256).
  explicit BertEmbedder(const std::filesystem::path& dir, BertOptions options = {});

  // hidden_size of the model (384 for MiniLM).
  std::size_t dim() const noexcept;
  // "bert:<name>:<first 16 hex digits of the SHA-256 of model.safetensors>:d<dim>".
  // query_prefix and max_tokens are not part of it: change them only with a fresh cache.
  std::string fingerprint() const;
  // The embedding of `text` (dim() floats; unit length when the model normalizes). The empty
  // text embeds as "[CLS] [SEP]". Throws InvalidArgument on invalid UTF-8.
  std::vector<float> embed(std::string_view text) const;
  // embed() of every text, computed together: all tokens of the batch go through each weight
  // matrix in one GEMM. Same results as embed() per text (to float rounding).
  std::vector<std::vector<float>> embed_batch(std::span<const std::string> texts) const;
  // The similarity threshold for this model (the RecommendsThreshold concept): the option when
  // set; else, for a model engram calibrated, the calibrated value; else
  // kDefaultSimilarityThreshold (0.85). Calibrated on bench/quality/pairs.jsonl
  // (docs/answer-quality.md):
  //   all-MiniLM-L6-v2   0.72   with the default LexicalGuard: paraphrase recall 85 % with a
  //                            margin over the 80 % target, false hits over the adversarial
  //                            categories 3 %. The false hits left sit at 0.8-0.999, where no
  //                            threshold helps (the guard's job); each 0.01 higher costs ~1.5
  //                            recall points and removes few of them.
  // A model counts as all-MiniLM-L6-v2 when its model.safetensors is the published file (SHA-256
  // 53aa51172d142c89...), or when its name (BertOptions::name or the directory's name, an
  // "owner/" prefix ignored, case-insensitive) is all-MiniLM-L6-v2 and it has the architecture
  // (6 layers, hidden size 384, mean pooling, normalized) — e.g. an F16 conversion. A
  // query_prefix changes the similarity scale: with one, only the option or the default applies.
  double recommended_threshold() const noexcept;
  // Token ids embed() would feed the encoder for `text` (query_prefix applied).
  std::vector<std::int32_t> tokenize(std::string_view text) const;

  const BertModelInfo& info() const noexcept;

  class Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

// ${ENGRAM_MODEL_DIR}/<name> when ENGRAM_MODEL_DIR is set and not empty, else
// $HOME/.cache/engram/models/<name> (./.cache/engram/models/<name> without HOME). Does not
// check that the directory exists.
std::filesystem::path default_model_dir(std::string_view name);

}  // namespace engram
