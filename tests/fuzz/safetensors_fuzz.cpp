// libFuzzer harness: arbitrary bytes as model.safetensors for a fixed tiny BERT config
// (hidden 8, 1 layer, 2 heads, intermediate 16, 16 positions, vocabulary 16). Parses and
// validates the header, loads every tensor against the config and, when that succeeds, runs
// the encoder once. Bad input must end in engram::InvalidArgument — never a crash, an
// out-of-bounds read (ASan) or undefined behaviour (UBSan).
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined ... (see tests/fuzz/CMakeLists.txt)
//   ./safetensors_fuzz -max_total_time=300 tests/fuzz/corpus/safetensors
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "bert_model.hpp"
#include "engram/errors.hpp"
#include "safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A private copy so that ASan sees reads past the end of the input.
  std::vector<std::byte> bytes(size);
  if (size != 0) __builtin_memcpy(bytes.data(), data, size);
  engram::detail::BertConfig config;
  config.hidden = 8;
  config.layers = 1;
  config.heads = 2;
  config.intermediate = 16;
  config.max_positions = 16;
  config.vocab = 16;
  config.type_vocab = 2;
  try {
    auto file = engram::detail::SafetensorsFile::parse(bytes, "fuzz.safetensors");
    engram::detail::BertModel model(config, std::move(file));
    const std::vector<std::vector<std::int32_t>> ids = {{2, 5, 6, 3}, {2, 3}};
    (void)model.forward(ids, engram::BertPooling::kMean, true);
  } catch (const engram::InvalidArgument&) {
  }
  return 0;
}
