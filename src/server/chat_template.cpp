// Chat templates rendered in C++ (the families and their exact text: kvik/server_chat_template.h).
// Each renderer follows the Hugging Face template of its family, minus the leading BOS token.
#include "kvik/server_chat_template.h"

namespace kvik::server {
namespace {

std::string Trim(std::string_view text) {
  const char* kSpace = " \t\n\r\f\v";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(kSpace);
  return std::string(text.substr(begin, end - begin + 1));
}

// For families without a system role: the system text goes in front of the first user message.
std::vector<ChatMessage> FoldSystemIntoFirstUser(const std::vector<ChatMessage>& messages) {
  std::string system;
  std::vector<ChatMessage> out;
  for (const ChatMessage& message : messages) {
    if (message.role == "system") {
      system += (system.empty() ? "" : "\n\n") + message.content;
    } else {
      out.push_back(message);
    }
  }
  if (system.empty()) return out;
  for (ChatMessage& message : out) {
    if (message.role == "user") {
      message.content = system + "\n\n" + message.content;
      return out;
    }
  }
  out.insert(out.begin(), ChatMessage{.role = "user", .content = system});  // system only
  return out;
}

std::string RenderChatMl(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (const ChatMessage& m : messages)
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  return out + "<|im_start|>assistant\n";
}

std::string RenderLlama3(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (const ChatMessage& m : messages) {
    out +=
        "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + Trim(m.content) + "<|eot_id|>";
  }
  return out + "<|start_header_id|>assistant<|end_header_id|>\n\n";
}

std::string RenderLlama2(const std::vector<ChatMessage>& messages) {
  std::string system;
  std::string out;
  bool first_user = true;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      if (!system.empty()) system += '\n';
      system += Trim(m.content);
    } else if (m.role == "user") {
      std::string content = Trim(m.content);
      if (!system.empty()) {
        content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
        system.clear();
      }
      out += std::string(first_user ? "" : "<s>") + "[INST] " + content + " [/INST]";
      first_user = false;
    } else {
      out.append(" ").append(Trim(m.content)).append(" </s>");
    }
  }
  if (!system.empty()) {  // a system message after the last user turn still gets its turn
    out += std::string(first_user ? "" : "<s>") + "[INST] <<SYS>>\n" + system +
           "\n<</SYS>>\n\n [/INST]";
  }
  return out;
}

std::string RenderMistral(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (const ChatMessage& m : FoldSystemIntoFirstUser(messages)) {
    out += m.role == "user" ? "[INST] " + m.content + " [/INST]" : m.content + "</s>";
  }
  return out;
}

std::string RenderZephyr(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (const ChatMessage& m : messages) out += "<|" + m.role + "|>\n" + m.content + "</s>\n";
  return out + "<|assistant|>\n";
}

std::string RenderGemma(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (const ChatMessage& m : FoldSystemIntoFirstUser(messages)) {
    const char* role = m.role == "assistant" ? "model" : "user";
    out += std::string("<start_of_turn>") + role + "\n" + m.content + "<end_of_turn>\n";
  }
  return out + "<start_of_turn>model\n";
}

std::string RenderDefault(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (const ChatMessage& m : messages) out += m.role + ": " + m.content + "\n";
  return out + "assistant:";
}

}  // namespace

const char* ChatTemplateFamilyName(ChatTemplateFamily family) {
  switch (family) {
    case ChatTemplateFamily::kChatMl:
      return "chatml";
    case ChatTemplateFamily::kLlama2:
      return "llama2";
    case ChatTemplateFamily::kMistral:
      return "mistral";
    case ChatTemplateFamily::kLlama3:
      return "llama3";
    case ChatTemplateFamily::kZephyr:
      return "zephyr";
    case ChatTemplateFamily::kGemma:
      return "gemma";
    case ChatTemplateFamily::kDefault:
      break;
  }
  return "default";
}

ChatTemplateFamily DetectChatTemplate(std::string_view jinja) {
  auto has = [&](std::string_view marker) { return jinja.find(marker) != std::string_view::npos; };
  if (has("<|start_header_id|>")) return ChatTemplateFamily::kLlama3;
  if (has("<|im_start|>")) return ChatTemplateFamily::kChatMl;
  if (has("<start_of_turn>")) return ChatTemplateFamily::kGemma;
  if (has("<|user|>")) return ChatTemplateFamily::kZephyr;
  if (has("[INST]"))
    return has("<<SYS>>") ? ChatTemplateFamily::kLlama2 : ChatTemplateFamily::kMistral;
  return ChatTemplateFamily::kDefault;
}

std::string RenderChat(ChatTemplateFamily family, const std::vector<ChatMessage>& messages) {
  switch (family) {
    case ChatTemplateFamily::kChatMl:
      return RenderChatMl(messages);
    case ChatTemplateFamily::kLlama2:
      return RenderLlama2(messages);
    case ChatTemplateFamily::kMistral:
      return RenderMistral(messages);
    case ChatTemplateFamily::kLlama3:
      return RenderLlama3(messages);
    case ChatTemplateFamily::kZephyr:
      return RenderZephyr(messages);
    case ChatTemplateFamily::kGemma:
      return RenderGemma(messages);
    case ChatTemplateFamily::kDefault:
      break;
  }
  return RenderDefault(messages);
}

}  // namespace kvik::server
