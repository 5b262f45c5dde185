// Chat-template family detection and the exact prompt text of each family.
#include <gtest/gtest.h>

#include "kvik/server_chat_template.h"

namespace kvik::server {
namespace {

const std::vector<ChatMessage> kConversation = {
    {"system", "You are terse."},
    {"user", "Hi"},
    {"assistant", "Hello."},
    {"user", "Bye"},
};

TEST(ChatTemplate, DetectsFamiliesByTheirMarkers) {
  EXPECT_EQ(DetectChatTemplate("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + "
                               "m['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"),
            ChatTemplateFamily::kChatMl);
  EXPECT_EQ(DetectChatTemplate("{{ bos_token + '[INST] <<SYS>>\\n' + system + '\\n<</SYS>>' }}"),
            ChatTemplateFamily::kLlama2);
  EXPECT_EQ(DetectChatTemplate("{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m['content'] "
                               "+ ' [/INST]' }}{% endfor %}"),
            ChatTemplateFamily::kMistral);
  EXPECT_EQ(DetectChatTemplate("{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>' }}"),
            ChatTemplateFamily::kLlama3);
  EXPECT_EQ(DetectChatTemplate("{% if m['role'] == 'user' %}{{ '<|user|>\\n' }}{% endif %}"),
            ChatTemplateFamily::kZephyr);
  EXPECT_EQ(DetectChatTemplate("{{ '<start_of_turn>' + role + '\\n' }}"),
            ChatTemplateFamily::kGemma);
  EXPECT_EQ(DetectChatTemplate(""), ChatTemplateFamily::kDefault);
  EXPECT_EQ(DetectChatTemplate("{{ messages | something_unknown }}"), ChatTemplateFamily::kDefault);
}

TEST(ChatTemplate, FamilyNames) {
  EXPECT_STREQ(ChatTemplateFamilyName(ChatTemplateFamily::kChatMl), "chatml");
  EXPECT_STREQ(ChatTemplateFamilyName(ChatTemplateFamily::kDefault), "default");
}

TEST(ChatTemplate, ChatMl) {
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kChatMl, kConversation),
            "<|im_start|>system\nYou are terse.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n"
            "<|im_start|>user\nBye<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, Llama3TrimsContent) {
  std::vector<ChatMessage> messages = kConversation;
  messages[1].content = "  Hi\n";
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kLlama3, messages),
            "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama2PutsTheSystemBlockInTheFirstTurn) {
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kLlama2, kConversation),
            "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello. </s>"
            "<s>[INST] Bye [/INST]");
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kLlama2, {{"user", "Hi"}}), "[INST] Hi [/INST]");
}

TEST(ChatTemplate, MistralFoldsTheSystemIntoTheFirstUserMessage) {
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kMistral, kConversation),
            "[INST] You are terse.\n\nHi [/INST]Hello.</s>[INST] Bye [/INST]");
}

TEST(ChatTemplate, Zephyr) {
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kZephyr, kConversation),
            "<|system|>\nYou are terse.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n"
            "<|user|>\nBye</s>\n<|assistant|>\n");
}

TEST(ChatTemplate, GemmaCallsTheAssistantModel) {
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kGemma, kConversation),
            "<start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n"
            "<start_of_turn>model\nHello.<end_of_turn>\n"
            "<start_of_turn>user\nBye<end_of_turn>\n"
            "<start_of_turn>model\n");
}

TEST(ChatTemplate, DefaultIsRoleColonLinesEndingWithAssistant) {
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kDefault, kConversation),
            "system: You are terse.\nuser: Hi\nassistant: Hello.\nuser: Bye\nassistant:");
}

TEST(ChatTemplate, ASystemOnlyConversationStillRenders) {
  std::vector<ChatMessage> only_system = {{"system", "S"}};
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kGemma, only_system),
            "<start_of_turn>user\nS<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(RenderChat(ChatTemplateFamily::kLlama2, only_system),
            "[INST] <<SYS>>\nS\n<</SYS>>\n\n [/INST]");
}

}  // namespace
}  // namespace kvik::server
