// BertEmbedder on damaged and unusual model directories: every bad file throws InvalidArgument
// naming the file and what is wrong (never a crash); F32/F16/BF16 weights and the "bert."
// tensor-name prefix load. Most cases use a tiny synthetic model (a few KB); a few corrupt a
// symlinked copy of the real model.
#include <gtest/gtest.h>

#include <cmath>

#include "bert_test_util.hpp"
#include "engram/errors.hpp"
#include "engram/options.hpp"
#include "temp_dir.hpp"

namespace engram {
namespace {

using testing::FakeTensor;
using testing::TinyConfig;

// Expects BertEmbedder(dir) to throw InvalidArgument whose message contains every `needles`.
void expect_invalid(const std::filesystem::path& dir, std::initializer_list<std::string> needles) {
  try {
    BertEmbedder e(dir);
    ADD_FAILURE() << "loaded " << dir << " without error";
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    for (const auto& n : needles) EXPECT_NE(what.find(n), std::string::npos) << "'" << n << "' not in: " << what;
    EXPECT_NE(what.find(". Remediation: "), std::string::npos) << what;
  }
}

class TinyModel : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  std::filesystem::path dir_ = tmp_ / "tiny";
  TinyConfig config_;
  void SetUp() override { testing::write_tiny_model(dir_, config_); }
  void write_weights(const std::vector<FakeTensor>& tensors) {
    testing::replace_file(dir_ / "model.safetensors", testing::safetensors_bytes(tensors));
  }
  std::filesystem::path weights() const { return dir_ / "model.safetensors"; }
};

TEST_F(TinyModel, LoadsAndEmbedsUnitVectors) {
  BertEmbedder e(dir_);
  EXPECT_EQ(e.dim(), config_.hidden);
  EXPECT_EQ(e.info().max_tokens, 12u);  // sentence_bert_config.json
  EXPECT_EQ(e.info().weights_dtype, "F32");
  EXPECT_EQ(e.fingerprint().rfind("bert:tiny:", 0), 0u) << e.fingerprint();
  EXPECT_EQ(e.fingerprint().substr(e.fingerprint().size() - 3), ":d8");
  for (const char* text : {"hello world", "", "how do i reset my password?", "unknown words cats"}) {
    const auto v = e.embed(text);
    ASSERT_EQ(v.size(), 8u);
    double norm = 0;
    for (float f : v) {
      ASSERT_TRUE(std::isfinite(f));
      norm += static_cast<double>(f) * f;
    }
    EXPECT_NEAR(norm, 1.0, 1e-5) << text;
  }
}

TEST_F(TinyModel, HalfAndBfloatWeightsGiveTheSameEmbeddings) {
  const auto reference = BertEmbedder(dir_).embed("hello world how do i");
  for (const char* dtype : {"F16", "BF16"}) {
    write_weights(testing::tiny_tensors(config_, dtype));
    BertEmbedder e(dir_);
    EXPECT_EQ(e.info().weights_dtype, dtype);
    const auto v = e.embed("hello world how do i");
    ASSERT_EQ(v.size(), reference.size());
    for (std::size_t i = 0; i < v.size(); ++i) EXPECT_FLOAT_EQ(v[i], reference[i]) << dtype << " " << i;
  }
}

TEST_F(TinyModel, BertPrefixedTensorNamesLoad) {
  const auto reference = BertEmbedder(dir_).embed("hello");
  write_weights(testing::tiny_tensors(config_, "F32", "bert."));
  EXPECT_EQ(BertEmbedder(dir_).embed("hello"), reference);
}

TEST_F(TinyModel, ClsPoolingDiffersFromMean) {
  const auto mean = BertEmbedder(dir_).embed("hello world");
  testing::write_tiny_model(dir_, config_, "F32", "", "cls");
  BertEmbedder cls(dir_);
  EXPECT_EQ(cls.info().pooling, BertPooling::kCls);
  EXPECT_NE(cls.embed("hello world"), mean);
}

TEST_F(TinyModel, FingerprintFollowsTheWeightsAndTheName) {
  const auto a = BertEmbedder(dir_).fingerprint();
  EXPECT_EQ(BertEmbedder(dir_, BertOptions{.name = "mini"}).fingerprint().rfind("bert:mini:", 0), 0u);
  write_weights(testing::tiny_tensors(config_, "F16"));
  EXPECT_NE(BertEmbedder(dir_).fingerprint(), a);
}

// An unknown model gets kDefaultSimilarityThreshold; the calibrated MiniLM value needs the
// MiniLM architecture as well as the name.
TEST_F(TinyModel, RecommendedThresholdDefaultsForUnknownModels) {
  EXPECT_DOUBLE_EQ(BertEmbedder(dir_).recommended_threshold(), kDefaultSimilarityThreshold);
  EXPECT_DOUBLE_EQ(BertEmbedder(dir_, BertOptions{.name = "all-MiniLM-L6-v2"}).recommended_threshold(),
                   kDefaultSimilarityThreshold);
  EXPECT_DOUBLE_EQ(BertEmbedder(dir_, BertOptions{.recommended_threshold = 0.6}).recommended_threshold(), 0.6);
  EXPECT_THROW(BertEmbedder(dir_, BertOptions{.recommended_threshold = -1.5}), InvalidArgument);
}

TEST_F(TinyModel, MaxTokensTruncatesAndIsChecked) {
  BertEmbedder e(dir_, BertOptions{.max_tokens = 4});
  EXPECT_EQ(e.tokenize("hello world hello world hello").size(), 4u);
  EXPECT_THROW(BertEmbedder(dir_, BertOptions{.max_tokens = 17}), InvalidArgument);  // > max_position_embeddings
  BertEmbedder prefixed(dir_, BertOptions{.query_prefix = "hello "});
  EXPECT_EQ(prefixed.tokenize("world"), e.tokenize("hello world"));
}

TEST_F(TinyModel, MissingDirectoryAndFiles) {
  expect_invalid(tmp_ / "nope", {"nope", "fetch-model.sh"});
  for (const char* file : {"config.json", "model.safetensors", "modules.json", "1_Pooling/config.json"}) {
    testing::write_tiny_model(dir_, config_);
    std::filesystem::remove(dir_ / file);
    SCOPED_TRACE(file);
    expect_invalid(dir_, {file});
  }
  testing::write_tiny_model(dir_, config_);
  std::filesystem::remove(dir_ / "vocab.txt");
  expect_invalid(dir_, {"vocab.txt"});
}

TEST_F(TinyModel, TruncatedWeights) {
  const std::string bytes = testing::read_all(weights());
  for (std::size_t keep :
       {std::size_t{0}, std::size_t{5}, std::size_t{8}, std::size_t{40}, bytes.size() / 2, bytes.size() - 1}) {
    SCOPED_TRACE(keep);
    testing::replace_file(weights(), bytes.substr(0, keep));
    expect_invalid(dir_, {weights().string()});
  }
}

TEST_F(TinyModel, HeaderLengthPastEndOfFile) {
  std::string bytes = testing::read_all(weights());
  bytes[5] = '\x7f';  // header length ~ 2^47
  testing::replace_file(weights(), bytes);
  expect_invalid(dir_, {"model.safetensors", "header length", "past the end"});
  std::string max(8, '\xff');
  testing::replace_file(weights(), max + "{}");
  expect_invalid(dir_, {"model.safetensors", "header length"});
}

TEST_F(TinyModel, HeaderNotJson) {
  std::string header = "{\"a\": [1, 2";
  testing::replace_file(weights(), testing::safetensors_bytes({}, nullptr, &header) + "data");
  expect_invalid(dir_, {"model.safetensors", "not valid JSON"});
  header = "[1, 2]";
  testing::replace_file(weights(), testing::safetensors_bytes({}, nullptr, &header));
  expect_invalid(dir_, {"model.safetensors", "not a JSON object"});
}

TEST_F(TinyModel, LyingOffsets) {
  const auto tensors = testing::tiny_tensors(config_);
  std::string header;
  const std::string good = testing::safetensors_bytes(tensors, &header);
  const auto data = good.substr(8 + header.size());
  auto with_header = [&](const std::string& h) {
    testing::replace_file(weights(), testing::safetensors_bytes({}, nullptr, &h) + data);
  };
  const std::string ln_bias = "\"embeddings.LayerNorm.bias\": {\"dtype\": \"F32\", \"shape\": [8], \"data_offsets\": [";
  const auto pos = header.find(ln_bias);
  ASSERT_NE(pos, std::string::npos);
  const auto end = header.find(']', pos + ln_bias.size());
  auto replace_offsets = [&](const std::string& offsets) {
    std::string h = header;
    h.replace(pos + ln_bias.size(), end - pos - ln_bias.size(), offsets);
    return h;
  };
  with_header(replace_offsets("0, 32"));  // overlaps the word embeddings
  expect_invalid(dir_, {"model.safetensors", "overlap"});
  with_header(replace_offsets(std::to_string(data.size()) + ", " + std::to_string(data.size() + 32)));
  expect_invalid(dir_, {"model.safetensors", "embeddings.LayerNorm.bias", "outside the data section"});
  with_header(replace_offsets("18446744073709551600, 18446744073709551615"));
  expect_invalid(dir_, {"model.safetensors", "outside the data section"});
  with_header(replace_offsets("40, 8"));  // begin > end
  expect_invalid(dir_, {"model.safetensors", "data_offsets"});
  with_header(replace_offsets("0, 4"));  // size disagrees with the shape
  expect_invalid(dir_, {"model.safetensors", "need 32"});
  with_header(replace_offsets("-1, 31"));
  expect_invalid(dir_, {"model.safetensors", "data_offsets"});
  with_header(replace_offsets("0"));
  expect_invalid(dir_, {"model.safetensors", "data_offsets"});
}

TEST_F(TinyModel, WrongShape) {
  auto tensors = testing::tiny_tensors(config_);
  tensors[0].shape = {config_.vocab.size() * 2, config_.hidden / 2};  // same byte count, other shape
  write_weights(tensors);
  expect_invalid(dir_, {"model.safetensors", "embeddings.word_embeddings.weight", "[32, 4]", "[16, 8]", "config.json"});
  tensors = testing::tiny_tensors(config_);
  tensors[5].shape = {config_.hidden / 2, config_.hidden * 2};
  write_weights(tensors);
  expect_invalid(dir_, {"model.safetensors", tensors[5].name});
}

TEST_F(TinyModel, WrongDtype) {
  auto tensors = testing::tiny_tensors(config_);
  tensors[3].dtype = "I32";  // same size as F32: layout checks pass, the dtype check fails
  write_weights(tensors);
  expect_invalid(dir_, {"model.safetensors", "embeddings.LayerNorm.weight", "I32"});
  tensors[3].dtype = "F33";
  write_weights(tensors);
  expect_invalid(dir_, {"model.safetensors", "unknown dtype"});
  tensors[3].dtype = "F64";  // the byte count no longer matches the shape
  write_weights(tensors);
  expect_invalid(dir_, {"model.safetensors", "embeddings.LayerNorm.weight"});
}

TEST_F(TinyModel, MissingTensor) {
  auto tensors = testing::tiny_tensors(config_);
  tensors.pop_back();
  write_weights(tensors);
  expect_invalid(dir_, {"model.safetensors", "encoder.layer.1.output.LayerNorm.bias"});
}

TEST_F(TinyModel, BadConfig) {
  const auto cfg = dir_ / "config.json";
  for (const auto& [text, needle] : std::vector<std::pair<std::string, std::string>>{
           {"not json", "not valid JSON"},
           {"[]", "not a JSON object"},
           {testing::config_json(config_, "relu"), "hidden_act"},
           {"{\"hidden_act\": \"gelu\"}", "hidden_size"},
           {"{\"hidden_act\": \"gelu\", \"hidden_size\": 9, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
            "\"intermediate_size\": 4, \"max_position_embeddings\": 8, \"vocab_size\": 16, \"type_vocab_size\": 2, "
            "\"layer_norm_eps\": 1e-12}",
            "multiple"},
           {"{\"model_type\": \"gpt2\", \"hidden_act\": \"gelu\"}", "model_type"},
       }) {
    SCOPED_TRACE(text);
    testing::replace_file(cfg, text);
    expect_invalid(dir_, {"config.json", needle});
  }
  TinyConfig bigger = config_;
  bigger.intermediate = 32;  // config disagrees with the weights
  testing::replace_file(cfg, testing::config_json(bigger));
  expect_invalid(dir_, {"model.safetensors", "encoder.layer.0.intermediate.dense.weight", "[32, 8]", "config.json"});
}

TEST_F(TinyModel, BadPoolingAndModules) {
  testing::write_tiny_model(dir_, config_, "F32", "", "max");
  expect_invalid(dir_, {"1_Pooling/config.json", "pooling_mode_max_tokens"});
  testing::write_tiny_model(dir_, config_);
  testing::replace_file(dir_ / "modules.json", "[{\"path\": \"\", \"type\": \"sentence_transformers.models.Dense\"}]");
  expect_invalid(dir_, {"modules.json", "Dense"});
  testing::replace_file(dir_ / "modules.json", "{");
  expect_invalid(dir_, {"modules.json", "JSON"});
}

TEST_F(TinyModel, VocabularyWithoutCls) {
  std::string vocab;
  for (const auto& v : config_.vocab) vocab += (v == "[CLS]" ? "[CLX]" : v) + "\n";
  testing::replace_file(dir_ / "vocab.txt", vocab);
  expect_invalid(dir_, {"vocab.txt", "[CLS]"});
}

TEST_F(TinyModel, VocabularyLargerThanTheModel) {
  std::string vocab;
  for (const auto& v : config_.vocab) vocab += v + "\n";
  testing::replace_file(dir_ / "vocab.txt", vocab + "extra\n");
  expect_invalid(dir_, {"config.json", "vocab_size"});
}

// The same failures on a symlinked copy of the real model (the weights are never copied whole).
class RealModelCopy : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  std::filesystem::path dir_ = tmp_ / "copy";
  std::filesystem::path real_ = testing::real_model_dir();
  void SetUp() override {
    if (real_.empty()) FAIL() << "model not installed";
    testing::symlink_copy(real_, dir_);
  }
};

TEST_F(RealModelCopy, LoadsThroughSymlinks) { EXPECT_EQ(BertEmbedder(dir_).dim(), 384u); }

TEST_F(RealModelCopy, MissingFile) {
  std::filesystem::remove(dir_ / "config.json");
  expect_invalid(dir_, {"config.json"});
}

TEST_F(RealModelCopy, TruncatedWeights) {
  std::ifstream in(real_ / "model.safetensors", std::ios::binary);
  std::string head(1 << 20, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  testing::replace_file(dir_ / "model.safetensors", head);
  expect_invalid(dir_, {"model.safetensors", "outside the data section"});
}

TEST_F(RealModelCopy, BadConfig) {
  auto text = testing::read_all(real_ / "config.json");
  text.replace(text.find("\"gelu\""), 6, "\"silu\"");
  testing::replace_file(dir_ / "config.json", text);
  expect_invalid(dir_, {"config.json", "silu"});
}

TEST_F(RealModelCopy, VocabularyWithoutCls) {
  std::filesystem::remove(dir_ / "tokenizer.json");  // the vocabulary then comes from vocab.txt
  auto text = testing::read_all(real_ / "vocab.txt");
  text.replace(text.find("[CLS]\n"), 6, "[CLZ]\n");
  testing::replace_file(dir_ / "vocab.txt", text);
  expect_invalid(dir_, {"vocab.txt", "[CLS]"});
}

}  // namespace
}  // namespace engram
