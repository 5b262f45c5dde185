# End-to-end tests of `kvik serve` (tests/server/serve_e2e_test.py): a real server on loopback.
foreach(case completions streaming errors disconnect_frees_blocks queue_full
             semantic_cache kv_page_in_headless_chromium)
  add_test(NAME serve_${case}
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/server/serve_e2e_test.py
                   $<TARGET_FILE:kvik> ${case}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # 77: a prerequisite (chromium) is missing — reported as skipped, not passed.
  set_tests_properties(serve_${case} PROPERTIES LABELS fast TIMEOUT 180 SKIP_RETURN_CODE 77
                       ENVIRONMENT KVIK_ARTIFACTS=${PROJECT_BINARY_DIR})
endforeach()
