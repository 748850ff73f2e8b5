// Catch2's main for both test binaries; SIGPIPE is ignored so that a test writing to a
// socket batond closed sees EPIPE instead of dying.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <csignal>

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
