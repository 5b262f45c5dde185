// Test helper: a file path unique to the running test and process, removed by the caller.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <string_view>

namespace kvik::gguf::testing {

inline std::string TempPath(std::string_view name) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + "kvik_gguf_" + std::to_string(getpid()) + "_" +
         test->test_suite_name() + "_" + test->name() + "_" + std::string(name);
}

}  // namespace kvik::gguf::testing
