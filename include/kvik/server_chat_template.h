// Chat messages → prompt text, for the chat-template families found in GGUF files'
// `tokenizer.chat_template`. The family is recognised by its marker tokens and rendered in C++;
// there is no Jinja engine. The rendered text holds special tokens as text ("<|im_start|>"), so the
// tokenizer must encode special tokens in the prompt. The leading BOS is left to the tokenizer (it
// adds one per prompt); BOS/EOS *between* turns are written as text, as the templates do.
//
// Families (rendered with the generation prompt for the assistant's reply appended):
//   kChatMl   "<|im_start|>{role}\n{content}<|im_end|>\n" …  "<|im_start|>assistant\n"
//   kLlama3   "<|start_header_id|>{role}<|end_header_id|>\n\n{trimmed content}<|eot_id|>" …
//             "<|start_header_id|>assistant<|end_header_id|>\n\n"
//   kLlama2   "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] …"
//             (contents trimmed; the system block goes into the first user turn)
//   kMistral  "[INST] {user} [/INST]{assistant}</s>[INST] …"; a system message is put before the
//             first user message, separated by "\n\n" (these templates have no system role)
//   kZephyr   "<|{role}|>\n{content}</s>\n" …  "<|assistant|>\n"
//   kGemma    "<start_of_turn>{user|model}\n{content}<end_of_turn>\n" … "<start_of_turn>model\n";
//             system as in kMistral (Gemma has no system role)
//   kDefault  unknown or missing template: "{role}: {content}\n" per message, then "assistant:"
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kvik/server_api.h"

namespace kvik::server {

enum class ChatTemplateFamily { kDefault, kChatMl, kLlama2, kMistral, kLlama3, kZephyr, kGemma };

const char* ChatTemplateFamilyName(ChatTemplateFamily family);  // "chatml", "llama2", …

// Recognises the family of a Jinja chat template by its markers; "" or unknown → kDefault.
// Checked in the order llama3, chatml, gemma, zephyr, [INST] (llama2 if it has <<SYS>>, else
// mistral), since some templates mention several families' tokens.
ChatTemplateFamily DetectChatTemplate(std::string_view jinja_template);

// Renders the conversation, ending with the prompt for the assistant's next message.
std::string RenderChat(ChatTemplateFamily family, const std::vector<ChatMessage>& messages);

}  // namespace kvik::server
