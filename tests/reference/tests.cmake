# Self-checks of the NumPy reference model (Debian's python3 + python3-numpy; the PATH python may lack numpy).
add_test(NAME reference_self_test
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/reference/test_self.py)
set_tests_properties(reference_self_test PROPERTIES LABELS fast)
