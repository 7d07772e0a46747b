#pragma once
// The embedder a tool command uses, chosen by command-line options shared by every command that
// embeds (calibrate, migrate --accept-re-embed, get and put):
//   --embedder hashing|minilm|bert|http   (default: hashing)
//   --dim N                               hashing: the dimension (default 384)
//   --model-dir DIR                       minilm/bert: the model directory (minilm default:
//                                         default_model_dir("all-MiniLM-L6-v2"))
//   --http-api openai|ollama|tei --http-url URL --http-model NAME [--http-key-env VAR]

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

#include "engram/embedders/any_embedder.hpp"

namespace engram::tool {

struct EmbedderChoice {
  std::string kind = "hashing";
  std::size_t dim = 384;
  std::string model_dir{};
  std::string http_api = "openai";
  std::string http_url{};
  std::string http_model{};
  std::string http_key_env{};
};

// Adds the options above to `command`, writing into `choice`.
void add_embedder_options(CLI::App& command, EmbedderChoice& choice);

// Builds the chosen embedder. Throws InvalidArgument (a kind this build lacks, missing --http-url,
// ...) and whatever the embedder's constructor throws (missing model files, a service down).
AnyEmbedder make_embedder(const EmbedderChoice& choice);

}  // namespace engram::tool
