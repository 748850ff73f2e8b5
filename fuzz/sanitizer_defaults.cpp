// The harnesses' sanitizer defaults: undefined behaviour stops the run (the build keeps UBSan
// recoverable for the tests' suppressions, see CMakeLists.txt), so libFuzzer reports it as a
// crash with its input even when run by hand. UBSAN_OPTIONS still overrides.
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}
