# End-to-end cases of the kvik binary (tests/cli/cli_test.sh), one CTest test each.
set(kvik_cli_cases
  bad_model_files bad_options oversize_prompt kv_size memory_matches_formula
  bench_tests_and_depth_loss bench_roofline
  generate_greedy_is_deterministic_and_cache_free_path_agrees generate_writes_every_byte
  make_model_is_reproducible perplexity)
foreach(case ${kvik_cli_cases})
  add_test(NAME cli_${case}
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/cli_test.sh $<TARGET_FILE:kvik> ${case}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(cli_${case} PROPERTIES LABELS fast)
endforeach()
foreach(case quantized_models_generate_and_prefill_matches_decode quantize_bad_input)
  add_test(NAME cli_${case}
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/quantize_test.sh $<TARGET_FILE:kvik> ${case}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(cli_${case} PROPERTIES LABELS fast)
endforeach()
