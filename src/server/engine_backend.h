// The CompletionBackend the server runs on: text ↔ tokens with the model's tokenizer, requests to
// the continuous-batching Engine, and the engine's state for /metrics and the KV page.
#pragma once

#include <string>

#include "kvik/engine.h"
#include "kvik/server.h"
#include "kvik/tokenizer.h"

namespace kvik::server {

class EngineBackend : public CompletionBackend {
 public:
  // All three must outlive the backend; the engine must be running (Engine::Start).
  EngineBackend(const Model& model, const Tokenizer& tokenizer, Engine& engine,
                std::string model_name);

  Result<uint64_t> Submit(GenerationRequest request, EventSink sink) override;
  void Cancel(uint64_t request_id) override;
  std::string ModelName() const override { return model_name_; }
  std::string ChatTemplate() const override { return chat_template_; }
  KvSnapshot SnapshotKv() const override;
  std::string MetricsText() const override;

 private:
  const Model& model_;
  const Tokenizer& tokenizer_;
  Engine& engine_;
  std::string model_name_;
  std::string chat_template_;
};

}  // namespace kvik::server
