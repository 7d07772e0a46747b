#include "embedder_choice.hpp"

#include "engram/embedders/hashing_embedder.hpp"
#include "engram/errors.hpp"
#if ENGRAM_TOOL_HAVE_BERT
#include "engram/embedders/bert_embedder.hpp"
#endif
#if ENGRAM_TOOL_HAVE_HTTP
#include "engram/embedders/http_embedder.hpp"
#endif

namespace engram::tool {

void add_embedder_options(CLI::App& command, EmbedderChoice& choice) {
  command.add_option("--embedder", choice.kind, "hashing, minilm (all-MiniLM-L6-v2), bert (--model-dir) or http")
      ->check(CLI::IsMember({"hashing", "minilm", "bert", "http"}))
      ->capture_default_str();
  command.add_option("--dim", choice.dim, "hashing: the dimension")->check(CLI::Range(1, 65536))->capture_default_str();
  command.add_option("--model-dir", choice.model_dir, "minilm/bert: directory of the sentence-transformers model");
  command.add_option("--http-api", choice.http_api, "http: the service's API")
      ->check(CLI::IsMember({"openai", "ollama", "tei"}))
      ->capture_default_str();
  command.add_option("--http-url", choice.http_url, "http: base URL, e.g. http://localhost:11434");
  command.add_option("--http-model", choice.http_model, "http: the model name");
  command.add_option("--http-key-env", choice.http_key_env, "http: NAME of the variable holding the API key");
}

namespace {
[[noreturn, maybe_unused]] void not_built(const std::string& kind) {
  throw InvalidArgument("--embedder " + kind +
                        " is not available: this engram was built without it. Remediation: rebuild with "
                        "ENGRAM_WITH_BERT / ENGRAM_WITH_HTTP on, or choose another embedder.");
}
}  // namespace

AnyEmbedder make_embedder(const EmbedderChoice& choice) {
  if (choice.kind == "hashing") return AnyEmbedder(HashingEmbedder(choice.dim));
  if (choice.kind == "minilm" || choice.kind == "bert") {
#if ENGRAM_TOOL_HAVE_BERT
    if (choice.kind == "bert" && choice.model_dir.empty())
      throw InvalidArgument("--embedder bert needs --model-dir DIR. Remediation: name the model directory.");
    const std::filesystem::path dir =
        choice.model_dir.empty() ? default_model_dir("all-MiniLM-L6-v2") : std::filesystem::path(choice.model_dir);
    return AnyEmbedder(BertEmbedder(dir));
#else
    not_built(choice.kind);
#endif
  }
  if (choice.kind == "http") {
#if ENGRAM_TOOL_HAVE_HTTP
    if (choice.http_url.empty() || choice.http_model.empty())
      throw InvalidArgument("--embedder http needs --http-url and --http-model. Remediation: name the service.");
    HttpEmbedderOptions options;
    options.api = choice.http_api == "ollama" ? HttpApi::kOllama
                  : choice.http_api == "tei"  ? HttpApi::kTei
                                              : HttpApi::kOpenAI;
    options.base_url = choice.http_url;
    options.model = choice.http_model;
    options.api_key_env = choice.http_key_env;
    return AnyEmbedder(HttpEmbedder(options));
#else
    not_built(choice.kind);
#endif
  }
  throw InvalidArgument("unknown embedder '" + choice.kind + "'. Remediation: use hashing, minilm, bert or http.");
}

}  // namespace engram::tool
