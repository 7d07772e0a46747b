#include "bert_model.hpp"

#include <cblas.h>

#include <simdjson.h>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engram/errors.hpp"

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace engram::detail {
namespace {

constexpr const char* kConfigRemedy =
    ". Remediation: use an unmodified sentence-transformers BERT model directory (re-fetch it with "
    "scripts/fetch-model.sh) or fix the file.";

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw InvalidArgument("model file " + file.string() + ": " + what + kConfigRemedy);
}

simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::filesystem::path& file,
                                  simdjson::padded_string& storage) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw InvalidArgument("model file " + file.string() +
                          ": is missing or unreadable. Remediation: fetch the model with scripts/fetch-model.sh, or "
                          "point the embedder at a complete sentence-transformers model directory.");
  }
  std::ostringstream s;
  s << in.rdbuf();
  storage = simdjson::padded_string(s.str());
  simdjson::dom::element doc;
  if (auto err = parser.parse(storage).get(doc))
    fail(file, std::string("is not valid JSON (") + simdjson::error_message(err) + ")");
  if (!doc.is_object()) fail(file, "is not a JSON object");
  return doc;
}

std::size_t size_field(const simdjson::dom::element& doc, const std::filesystem::path& file, const char* key,
                       std::uint64_t lo, std::uint64_t hi) {
  std::uint64_t v = 0;
  if (doc[key].get_uint64().get(v)) fail(file, std::string("has no integer \"") + key + "\"");
  if (v < lo || v > hi) {
    fail(file, std::string("\"") + key + "\" is " + std::to_string(v) + ", outside [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "]");
  }
  return static_cast<std::size_t>(v);
}

void layer_norm(float* x, const float* g, const float* b, std::size_t n, float eps) {
  float mean = 0;
  for (std::size_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<float>(n);
  float var = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float d = x[i] - mean;
    var += d * d;
  }
  var /= static_cast<float>(n);
  const float inv = 1.0f / std::sqrt(var + eps);
  for (std::size_t i = 0; i < n; ++i) x[i] = (x[i] - mean) * inv * g[i] + b[i];
}

// The residual step after attention and after the feed-forward block: each of the m rows of x
// (width n) gets its row of `delta` added and is then layer-normalized in place.
void add_and_norm(float* x, const float* delta, std::size_t m, std::size_t n, const float* g, const float* b,
                  float eps) {
  for (std::size_t r = 0; r < m; ++r) {
    float* xr = x + r * n;
    const float* dr = delta + r * n;
    for (std::size_t i = 0; i < n; ++i) xr[i] += dr[i];
    layer_norm(xr, g, b, n, eps);
  }
}

// C[m x n] = A[m x k] * W^T + bias, W is [n x k] row-major (PyTorch Linear layout).
void linear(const float* a, std::size_t m, std::size_t k, const float* w, const float* bias, std::size_t n, float* c) {
  for (std::size_t r = 0; r < m; ++r) std::memcpy(c + r * n, bias, n * sizeof(float));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(k), w, static_cast<blasint>(k), 1.0f, c,
              static_cast<blasint>(n));
}

void gelu(float* x, std::size_t n) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (std::size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

}  // namespace

BertConfig read_bert_config(const std::filesystem::path& file) {
  simdjson::dom::parser parser;
  simdjson::padded_string storage;
  const auto doc = parse_json(parser, file, storage);
  std::string_view text;
  if (!doc["model_type"].get_string().get(text) && text != "bert")
    fail(file, "model_type is \"" + std::string(text) + "\"; only BERT-architecture models are supported");
  if (doc["hidden_act"].get_string().get(text)) fail(file, "has no string \"hidden_act\"");
  if (text != "gelu") fail(file, "hidden_act is \"" + std::string(text) + "\"; only \"gelu\" (erf) is supported");
  if (!doc["position_embedding_type"].get_string().get(text) && text != "absolute")
    fail(file, "position_embedding_type is \"" + std::string(text) + "\"; only \"absolute\" is supported");
  BertConfig c;
  c.hidden = size_field(doc, file, "hidden_size", 1, 16384);
  c.layers = size_field(doc, file, "num_hidden_layers", 1, 256);
  c.heads = size_field(doc, file, "num_attention_heads", 1, 1024);
  c.intermediate = size_field(doc, file, "intermediate_size", 1, 65536);
  c.max_positions = size_field(doc, file, "max_position_embeddings", 2, 65536);
  c.vocab = size_field(doc, file, "vocab_size", 5, 10'000'000);
  c.type_vocab = size_field(doc, file, "type_vocab_size", 1, 1024);
  if (c.hidden % c.heads != 0) {
    fail(file, "hidden_size " + std::to_string(c.hidden) + " is not a multiple of num_attention_heads " +
                   std::to_string(c.heads));
  }
  double eps = 0;
  if (doc["layer_norm_eps"].get_double().get(eps)) fail(file, "has no number \"layer_norm_eps\"");
  if (!(eps > 0 && eps < 1)) fail(file, "layer_norm_eps " + std::to_string(eps) + " is outside (0, 1)");
  c.eps = static_cast<float>(eps);
  return c;
}

PoolingConfig read_sentence_transformers_config(const std::filesystem::path& dir, std::size_t hidden) {
  PoolingConfig out;
  simdjson::dom::parser parser;
  simdjson::padded_string storage;
  const auto modules_file = dir / "modules.json";
  std::filesystem::path pooling_dir;
  bool have_transformer = false;
  {
    std::ifstream probe(modules_file);
    if (!probe) {
      throw InvalidArgument("model file " + modules_file.string() +
                            ": is missing. Remediation: BertEmbedder loads sentence-transformers model directories "
                            "(modules.json names the pooling); fetch one with scripts/fetch-model.sh.");
    }
  }
  simdjson::dom::element doc;
  {
    std::ifstream in(modules_file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    storage = simdjson::padded_string(s.str());
    if (auto err = parser.parse(storage).get(doc))
      fail(modules_file, std::string("is not valid JSON (") + simdjson::error_message(err) + ")");
  }
  simdjson::dom::array modules;
  if (doc.get_array().get(modules)) fail(modules_file, "is not a JSON array");
  std::size_t index = 0;
  for (auto module : modules) {
    std::string_view type, path;
    if (module["type"].get_string().get(type))
      fail(modules_file, "module " + std::to_string(index) + " has no \"type\"");
    if (module["path"].get_string().get(path)) path = "";
    const std::string t(type);
    const auto ends_with = [&](std::string_view s) {
      return t.size() >= s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with(".Transformer") || ends_with("models.Transformer")) {
      if (index != 0 || !path.empty()) fail(modules_file, "the Transformer module must come first with path \"\"");
      have_transformer = true;
    } else if (ends_with(".Pooling")) {
      if (!have_transformer || !pooling_dir.empty())
        fail(modules_file, "the Pooling module must follow the Transformer, once");
      const std::filesystem::path rel(std::string{path});
      if (rel.empty() || rel.is_absolute() || rel.string().find("..") != std::string::npos)
        fail(modules_file, "the Pooling module's path \"" + rel.string() + "\" is not a subdirectory");
      pooling_dir = dir / rel;
    } else if (ends_with(".Normalize")) {
      if (pooling_dir.empty() || out.normalize)
        fail(modules_file, "the Normalize module must follow the Pooling module, once");
      out.normalize = true;
    } else {
      fail(modules_file, "module type \"" + t + "\" is not supported (Transformer, Pooling and Normalize are)");
    }
    ++index;
  }
  if (!have_transformer || pooling_dir.empty()) fail(modules_file, "has no Transformer and Pooling modules");

  const auto pooling_file = pooling_dir / "config.json";
  simdjson::padded_string pooling_storage;
  const auto pool = parse_json(parser, pooling_file, pooling_storage);
  std::uint64_t dim = 0;
  if (!pool["word_embedding_dimension"].get_uint64().get(dim) && dim != hidden) {
    fail(pooling_file, "word_embedding_dimension " + std::to_string(dim) + " differs from config.json hidden_size " +
                           std::to_string(hidden));
  }
  const auto flag = [&](const char* key) {
    bool b = false;
    return !pool[key].get_bool().get(b) && b;
  };
  const bool mean = flag("pooling_mode_mean_tokens");
  const bool cls = flag("pooling_mode_cls_token");
  for (const char* other : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                            "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    if (flag(other)) fail(pooling_file, std::string(other) + " is not supported (mean and CLS pooling are)");
  }
  if (mean == cls)
    fail(pooling_file, "exactly one of pooling_mode_mean_tokens and pooling_mode_cls_token must be true");
  out.pooling = cls ? BertPooling::kCls : BertPooling::kMean;

  const auto sbert_file = dir / "sentence_bert_config.json";
  if (std::filesystem::exists(sbert_file)) {
    simdjson::padded_string sbert_storage;
    const auto sbert = parse_json(parser, sbert_file, sbert_storage);
    std::uint64_t max_len = 0;
    if (!sbert["max_seq_length"].get_uint64().get(max_len)) {
      if (max_len < 2 || max_len > 65536)
        fail(sbert_file, "max_seq_length " + std::to_string(max_len) + " is outside [2, 65536]");
      out.max_seq_length = static_cast<std::size_t>(max_len);
    }
  }
  return out;
}

BertModel::BertModel(const BertConfig& config, SafetensorsFile weights, std::string config_name)
    : config_(config), weights_(std::move(weights)) {
  const std::uint64_t h = config_.hidden;
  const std::uint64_t inter = config_.intermediate;
  const std::string prefix = !weights_.contains("embeddings.word_embeddings.weight") &&
                                     weights_.contains("bert.embeddings.word_embeddings.weight")
                                 ? "bert."
                                 : "";
  const auto tensor = [&](const std::string& name, std::initializer_list<std::uint64_t> shape) {
    return weights_.f32(prefix + name, std::span<const std::uint64_t>(shape.begin(), shape.size()), config_name);
  };
  const auto get = [&](const std::string& name, std::initializer_list<std::uint64_t> shape) {
    auto t = tensor(name, shape);
    if (t.owned) owned_.push_back(t.owned);  // converted or realigned: keep it alive
    return t.data.data();
  };
  word_ = get("embeddings.word_embeddings.weight", {config_.vocab, h});
  dtype_ = weights_.tensors().find(prefix + "embeddings.word_embeddings.weight")->second.dtype;
  position_ = get("embeddings.position_embeddings.weight", {config_.max_positions, h});
  token_type_ = get("embeddings.token_type_embeddings.weight", {config_.type_vocab, h});
  emb_ln_g_ = get("embeddings.LayerNorm.weight", {h});
  emb_ln_b_ = get("embeddings.LayerNorm.bias", {h});
  layers_.resize(config_.layers);
  for (std::size_t i = 0; i < config_.layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    Layer& l = layers_[i];
    l.qkv_w.resize(3 * h * h);
    l.qkv_b.resize(3 * h);
    std::size_t part = 0;
    for (const char* which : {"query", "key", "value"}) {
      const auto w = tensor(p + "attention.self." + which + ".weight", {h, h});
      const auto b = tensor(p + "attention.self." + which + ".bias", {h});
      std::memcpy(l.qkv_w.data() + part * h * h, w.data.data(), h * h * sizeof(float));
      std::memcpy(l.qkv_b.data() + part * h, b.data.data(), h * sizeof(float));
      ++part;
    }
    l.out_w = get(p + "attention.output.dense.weight", {h, h});
    l.out_b = get(p + "attention.output.dense.bias", {h});
    l.ln1_g = get(p + "attention.output.LayerNorm.weight", {h});
    l.ln1_b = get(p + "attention.output.LayerNorm.bias", {h});
    l.ffn_in_w = get(p + "intermediate.dense.weight", {inter, h});
    l.ffn_in_b = get(p + "intermediate.dense.bias", {inter});
    l.ffn_out_w = get(p + "output.dense.weight", {h, inter});
    l.ffn_out_b = get(p + "output.dense.bias", {h});
    l.ln2_g = get(p + "output.LayerNorm.weight", {h});
    l.ln2_b = get(p + "output.LayerNorm.bias", {h});
  }
}

std::vector<std::vector<float>> BertModel::forward(std::span<const std::vector<std::int32_t>> sequences,
                                                   BertPooling pooling, bool normalize) const {
  const std::size_t h = config_.hidden;
  const std::size_t inter = config_.intermediate;
  const std::size_t heads = config_.heads;
  const std::size_t dh = h / heads;
  std::size_t n = 0, longest = 0;
  for (const auto& seq : sequences) {
    if (seq.empty() || seq.size() > config_.max_positions) {
      throw InvalidArgument("BERT input of " + std::to_string(seq.size()) + " tokens is outside [1, " +
                            std::to_string(config_.max_positions) + "]. Remediation: truncate the input.");
    }
    for (const auto id : seq) {
      if (id < 0 || static_cast<std::size_t>(id) >= config_.vocab) {
        throw InvalidArgument("token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                              std::to_string(config_.vocab) + ". Remediation: use the model's own vocabulary.");
      }
    }
    n += seq.size();
    longest = std::max(longest, seq.size());
  }
  std::vector<std::vector<float>> result;
  if (n == 0) return result;

  std::vector<float> x(n * h), qkv(n * 3 * h), ctx(n * h), tmp(n * h), mid(n * inter), scores(longest * longest);
  // Embeddings.
  {
    std::size_t row = 0;
    for (const auto& seq : sequences) {
      for (std::size_t t = 0; t < seq.size(); ++t, ++row) {
        float* out = x.data() + row * h;
        const float* w = word_ + static_cast<std::size_t>(seq[t]) * h;
        const float* p = position_ + t * h;
        for (std::size_t i = 0; i < h; ++i) out[i] = w[i] + p[i] + token_type_[i];
        layer_norm(out, emb_ln_g_, emb_ln_b_, h, config_.eps);
      }
    }
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  for (const Layer& l : layers_) {
    linear(x.data(), n, h, l.qkv_w.data(), l.qkv_b.data(), 3 * h, qkv.data());
    std::size_t offset = 0;
    for (const auto& seq : sequences) {
      const std::size_t len = seq.size();
      const auto L = static_cast<blasint>(len);
      const float* base = qkv.data() + offset * 3 * h;
      for (std::size_t head = 0; head < heads; ++head) {
        const float* q = base + head * dh;
        const float* k = base + h + head * dh;
        const float* v = base + 2 * h + head * dh;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, static_cast<blasint>(dh), scale, q,
                    static_cast<blasint>(3 * h), k, static_cast<blasint>(3 * h), 0.0f, scores.data(), L);
        for (std::size_t r = 0; r < len; ++r) {
          float* s = scores.data() + r * len;
          float mx = s[0];
          for (std::size_t c = 1; c < len; ++c) mx = std::max(mx, s[c]);
          float sum = 0;
          for (std::size_t c = 0; c < len; ++c) {
            s[c] = std::exp(s[c] - mx);
            sum += s[c];
          }
          const float inv = 1.0f / sum;
          for (std::size_t c = 0; c < len; ++c) s[c] *= inv;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, static_cast<blasint>(dh), L, 1.0f, scores.data(), L,
                    v, static_cast<blasint>(3 * h), 0.0f, ctx.data() + offset * h + head * dh, static_cast<blasint>(h));
      }
      offset += len;
    }
    linear(ctx.data(), n, h, l.out_w, l.out_b, h, tmp.data());
    add_and_norm(x.data(), tmp.data(), n, h, l.ln1_g, l.ln1_b, config_.eps);
    linear(x.data(), n, h, l.ffn_in_w, l.ffn_in_b, inter, mid.data());
    gelu(mid.data(), n * inter);
    linear(mid.data(), n, inter, l.ffn_out_w, l.ffn_out_b, h, tmp.data());
    add_and_norm(x.data(), tmp.data(), n, h, l.ln2_g, l.ln2_b, config_.eps);
  }
  // Pooling.
  result.reserve(sequences.size());
  std::size_t offset = 0;
  for (const auto& seq : sequences) {
    std::vector<float> out(h, 0.0f);
    if (pooling == BertPooling::kCls) {
      std::memcpy(out.data(), x.data() + offset * h, h * sizeof(float));
    } else {
      for (std::size_t t = 0; t < seq.size(); ++t) {
        const float* xr = x.data() + (offset + t) * h;
        for (std::size_t i = 0; i < h; ++i) out[i] += xr[i];
      }
      const float inv = 1.0f / static_cast<float>(seq.size());
      for (auto& v : out) v *= inv;
    }
    if (normalize) {
      double norm = 0;
      for (const float v : out) norm += static_cast<double>(v) * v;
      norm = std::sqrt(norm);
      if (norm > 1e-12) {
        const auto inv = static_cast<float>(1.0 / norm);
        for (auto& v : out) v *= inv;
      }
    }
    result.push_back(std::move(out));
    offset += seq.size();
  }
  return result;
}

}  // namespace engram::detail
