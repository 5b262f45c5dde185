// kvik perplexity: a model's perplexity on a text file, chunked and scored as llama-perplexity does
// (kvik/perplexity.h), to compare weight and KV-cache types, and engines, on the same text.
#include "kvik/perplexity.h"

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "cli/command.h"
#include "cli/common.h"
#include "kvik/model.h"
#include "kvik/tensor.h"
#include "kvik/tokenizer.h"
#include "util/thread_pool.h"

namespace kvik::cli {
namespace {

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open the text file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return InvalidArgument(path + ": read error");
  if (text.empty()) return InvalidArgument(path + ": the text file is empty");
  return text;
}

int RunPerplexity(int argc, char** argv) {
  CLI::App app("Perplexity of a model on a text file (llama-perplexity's chunking and scoring)",
               "perplexity");
  std::string model_path, text_path, base_path, kv_dtype = "f32";
  PerplexityOptions options;
  options.context = 0;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("-m,--model", model_path, "model .gguf (default: models/stories15M.gguf)");
  app.add_option("-f,--file", text_path, "text file to score")->required();
  app.add_option("-c,--ctx", options.context,
                 "tokens per chunk; the second half of each is scored (default: 512, or the "
                 "model's context if smaller)")
      ->check(CLI::Range(int64_t{3}, int64_t{1} << 20));
  app.add_option("--chunks", options.max_chunks, "score at most this many chunks (0 = all)")
      ->check(AtLeast(0));
  app.add_option("--kl-base", base_path,
                 "also run this model (e.g. the F32 source of a quantized -m) on the same chunks: "
                 "its perplexity, the mean KL divergence from it, how often the top token agrees");
  app.add_option("-t,--threads", threads, "threads")->check(CLI::Range(1, 256));
  app.add_option("--kv-dtype", kv_dtype, "KV-cache element type")
      ->check(DTypeValidator({"f32", "f16", "bf16", "q8_0", "q4_0"}));
  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;

  if (model_path.empty()) model_path = DefaultModelPath(argv[0]);
  if (model_path.empty()) {
    std::fprintf(stderr,
                 "error: no model given and the default (models/stories15M.gguf) is absent\n");
    return kExitFailure;
  }
  auto text = ReadText(text_path);
  if (!text.ok()) return Fail(text.status());
  auto model = Model::Load(model_path);
  if (!model.ok()) return Fail(model.status());
  auto tokenizer = Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  const ModelConfig& config = (*model)->config();
  if (options.context == 0) options.context = std::min<int64_t>(512, config.context_length);
  options.kv_dtype = *ParseDType(kv_dtype);
  options.bos_id = tokenizer->add_bos() ? tokenizer->bos_id() : -1;
  const std::vector<int32_t> tokens = tokenizer->Encode(*text, tokenizer->add_bos());
  std::fprintf(stderr, "[kvik] %s: %zu tokens, chunks of %lld, %d threads, %s kernels\n",
               text_path.c_str(), tokens.size(), (long long)options.context, threads,
               std::string(KernelIsa()).c_str());

  ThreadPool pool(threads);
  const auto start = std::chrono::steady_clock::now();
  auto print_progress = [](const PerplexityResult& so_far) {
    std::printf("[%lld]%.4f,", (long long)so_far.chunks, so_far.perplexity);
    std::fflush(stdout);
  };
  PerplexityResult result;
  if (base_path.empty()) {
    auto computed = Perplexity(**model, tokens, options, &pool, print_progress);
    if (!computed.ok()) {
      std::printf("\n");
      return Fail(computed.status());
    }
    result = std::move(computed).value();
  } else {
    auto base = Model::Load(base_path);
    if (!base.ok()) return Fail(base.status());
    auto compared =
        CompareModels(**base, **model, tokens, options, &pool,
                      [&](const ModelComparison& so_far) { print_progress(so_far.model); });
    if (!compared.ok()) {
      std::printf("\n");
      return Fail(compared.status());
    }
    result = compared->model;
    std::printf(
        "\nbase model: PPL = %.4f +/- %.5f | PPL ratio %.5f | mean KL divergence %.6f +/- "
        "%.6f nats (max %.4f) | same top token at %.2f%% of %lld positions",
        compared->base.perplexity, compared->base.perplexity_error,
        result.perplexity / compared->base.perplexity, compared->mean_kl, compared->kl_error,
        compared->max_kl, 100 * compared->same_top, (long long)result.scored_tokens);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", result.perplexity,
              result.perplexity_error);
  std::fprintf(stderr,
               "[kvik] %lld chunks of %lld tokens, %lld tokens scored, mean NLL %.6f nats, "
               "%.2f s (%.1f tokens/s)\n",
               (long long)result.chunks, (long long)options.context,
               (long long)result.scored_tokens, result.mean_nll, seconds,
               result.chunks * options.context / seconds);
  return 0;
}

}  // namespace

KVIK_COMMAND("perplexity", "perplexity on a text file, chunked as llama-perplexity does",
             RunPerplexity);

}  // namespace kvik::cli
