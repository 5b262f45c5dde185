// kvik generate: prompt → text with one sequence, printing speed and KV-cache use.
#include <sys/resource.h>

#include <thread>

#include "cli/command.h"
#include "cli/common.h"
#include "kvik/generate.h"
#include "kvik/kv_layout.h"
#include "kvik/model.h"
#include "kvik/tokenizer.h"
#include "util/thread_pool.h"

namespace kvik::cli {
namespace {

void PrintKvStats(const KvCacheStats& s, uint64_t peak_bytes) {
  std::fprintf(stderr,
               "[kvik] KV blocks: %lld total, %lld used, %lld cached, %lld free | pool %s (%llu B), "
               "peak in use %s | tokens stored %lld in %s | prefix hits %llu of %llu tokens | "
               "evictions %llu | copy-on-write %llu\n",
               (long long)s.blocks_total, (long long)s.blocks_used, (long long)s.blocks_cached,
               (long long)s.blocks_free, FormatBytes(s.bytes_allocated).c_str(),
               (unsigned long long)s.bytes_allocated, FormatBytes(peak_bytes).c_str(),
               (long long)s.tokens_stored, FormatBytes(s.bytes_holding_tokens).c_str(),
               (unsigned long long)s.prefix_hit_tokens, (unsigned long long)s.prefix_lookup_tokens,
               (unsigned long long)s.evictions, (unsigned long long)s.copy_on_write);
}

int RunGenerate(int argc, char** argv) {
  CLI::App app("Generate text from a prompt", "generate");
  std::string model_path, prompt = "Once upon a time", kv_dtype = "f32", kv_dtype_k, kv_dtype_v;
  GenerateOptions options;
  options.max_new_tokens = 128;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool stream = false, no_cache = false, kv_stats = false;
  app.add_option("-m,--model", model_path, "model .gguf (default: models/stories15M.gguf)");
  app.add_option("-p,--prompt", prompt, "prompt text");
  app.add_option("-n,--n-predict", options.max_new_tokens, "tokens to generate")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  app.add_option("--temp", options.sampling.temperature, "temperature; 0 = greedy")
      ->check(CLI::Range(0.0f, 100.0f));
  app.add_option("--top-k", options.sampling.top_k, "keep the k most likely tokens (0 = off)")
      ->check(AtLeast(0));
  app.add_option("--top-p", options.sampling.top_p, "nucleus sampling mass (1 = off)")
      ->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--min-p", options.sampling.min_p, "drop tokens below min_p · p_max (0 = off)")
      ->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--seed", options.sampling.seed, "sampling seed");
  app.add_option("-c,--ctx", options.context_tokens, "context length (default: the model's)")
      ->check(AtLeast(0));
  app.add_option("-t,--threads", threads, "threads")->check(CLI::Range(1, 256));
  const auto kv_types = DTypeValidator({"f32", "f16", "bf16", "q8_0", "q4_0"});
  app.add_option("--kv-dtype", kv_dtype, "KV-cache element type (keys and values)")->check(kv_types);
  app.add_option("--kv-dtype-k", kv_dtype_k, "KV-cache type of keys (default: --kv-dtype)")
      ->check(kv_types);
  app.add_option("--kv-dtype-v", kv_dtype_v, "KV-cache type of values (default: --kv-dtype)")
      ->check(kv_types);
  app.add_option("--block-size", options.block_size, "tokens per KV-cache block")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--swa-window", options.sliding_window,
                 "sliding-window attention over the last W tokens (0 = off; default: the model's)")
      ->check(AtLeast(0));
  app.add_flag("--context-shift", options.context_shift,
               "when the context is full, drop the oldest half (after --keep) and go on");
  app.add_option("--keep", options.keep_tokens, "tokens kept at the start by --context-shift")
      ->check(AtLeast(0));
  app.add_option("--kv-save", options.kv_save_path, "save the sequence's KV cache (prompt cache)");
  app.add_option("--kv-load", options.kv_load_path,
                 "start from a saved KV cache; its prefix that matches the prompt is reused");
  app.add_flag("--kv-stats", kv_stats, "print the KV block pool's statistics at the end");
  app.add_flag("--no-cache", no_cache, "recompute the whole sequence for every token (O(n²) baseline)");
  app.add_flag("--stream", stream, "print tokens as they are generated");
  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;

  if (model_path.empty()) model_path = DefaultModelPath(argv[0]);
  if (model_path.empty()) {
    std::fprintf(stderr,
                 "error: no model given and the default (models/stories15M.gguf) is absent.\n"
                 "  get it with:  make demo   (or: scripts/fetch-model.sh, then kvik convert ...)\n"
                 "  or write a test model:  kvik make-model --preset tiny -o tiny.gguf\n");
    return kExitFailure;
  }
  auto model = Model::Load(model_path);
  if (!model.ok()) return Fail(model.status());
  auto tokenizer = Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  options.use_cache = !no_cache;
  options.kv_key_dtype = *ParseDType(kv_dtype_k.empty() ? kv_dtype : kv_dtype_k);
  options.kv_value_dtype = *ParseDType(kv_dtype_v.empty() ? kv_dtype : kv_dtype_v);
  const std::string kv_types_text =
      kv_dtype_k.empty() && kv_dtype_v.empty()
          ? kv_dtype
          : std::string(Name(options.kv_key_dtype)) + "/" + std::string(Name(options.kv_value_dtype));
  options.eos_id = tokenizer->eos_id();
  const std::vector<int32_t> prompt_tokens = tokenizer->Encode(prompt, tokenizer->add_bos());
  ThreadPool pool(threads);

  // fwrite, not fputs: a byte token can stand for a NUL byte, which must not end the text.
  auto write = [](const std::string& bytes) { std::fwrite(bytes.data(), 1, bytes.size(), stdout); };
  std::string text = prompt;
  if (stream) {
    write(prompt);
    std::fflush(stdout);
  }
  auto on_token = [&](int32_t token) {
    const std::string piece = tokenizer->TokenToPiece(token);
    text += piece;
    if (stream) {
      write(piece);
      std::fflush(stdout);
    }
    return true;
  };
  auto result = Generate(**model, prompt_tokens, options, &pool, on_token);
  if (!result.ok()) return Fail(result.status());
  if (!stream) write(text);
  std::fputs("\n", stdout);
  std::fflush(stdout);

  const GenerateResult& r = *result;
  const double prefill_tps = r.prefill_ms > 0 ? r.prompt_tokens / (r.prefill_ms / 1000) : 0;
  const double decode_tps = r.decode_ms > 0 ? r.decode_steps / (r.decode_ms / 1000) : 0;
  std::fprintf(stderr,
               "\n[kvik] prefill %lld tok in %.1f ms (%.1f tok/s) | decode %lld tok in %.1f ms "
               "(%.1f tok/s%s) | KV cache %s: %s used of %s allocated (%llu B) | %d threads, %s kernels | "
               "finish: %s\n",
               (long long)r.prompt_tokens, r.prefill_ms, prefill_tps, (long long)r.decode_steps,
               r.decode_ms, decode_tps, no_cache ? ", recomputing" : "", kv_types_text.c_str(),
               FormatBytes(r.kv_bytes_used).c_str(), FormatBytes(r.kv_bytes_allocated).c_str(),
               (unsigned long long)r.kv_bytes_allocated,
               threads, std::string(KernelIsa()).c_str(), FinishReasonName(r.finish_reason));
  if (r.prompt_tokens_computed < r.prompt_tokens) {
    std::fprintf(stderr, "[kvik] prompt cache: %lld of %lld prompt tokens reused\n",
                 (long long)(r.prompt_tokens - r.prompt_tokens_computed), (long long)r.prompt_tokens);
  }
  if (r.context_shifts > 0) {
    std::fprintf(stderr, "[kvik] context shifts: %lld\n", (long long)r.context_shifts);
  }
  if (kv_stats) {
    PrintKvStats(r.kv_stats, r.kv_bytes_peak);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::fprintf(stderr, "[kvik] peak RSS %s (%llu B) | model file %s\n",
                 FormatBytes(uint64_t(usage.ru_maxrss) * 1024).c_str(),
                 (unsigned long long)usage.ru_maxrss * 1024,
                 FormatBytes((*model)->file().file_bytes()).c_str());
  }
  return 0;
}

}  // namespace

KVIK_COMMAND("generate", "generate text from a prompt (with or without the KV cache)", RunGenerate);

}  // namespace kvik::cli
