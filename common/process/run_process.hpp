#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

namespace mca::process {

struct process_spec {
  // argv[0] is looked up on PATH when it has no '/'.
  std::vector<std::string> argv;
  // Added to (or replacing in) the inherited environment.
  std::vector<std::pair<std::string, std::string>> env;
  std::string stdin_data;
  // The child is killed (SIGKILL) when it runs longer than this.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  // Output past this many bytes per stream is dropped and `truncated` set,
  // so a runaway child cannot exhaust memory.
  std::size_t output_limit = std::size_t{4} * 1024 * 1024;
};

struct process_result {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  bool truncated = false;
  std::string out;
  std::string err;

  bool ok() const noexcept {
    return exit_code == 0 && !timed_out && !truncated;
  }
};

// Runs a program to completion, feeding stdin_data and collecting stdout and
// stderr. Blocking: call it from a thread that may block (start-up, a
// credential-plugin worker, tests), never from an I/O worker. Fails only when
// the program cannot be started (e.g. not found:
// errc::no_such_file_or_directory).
boost::system::result<process_result> run_process(const process_spec& spec);

}  // namespace mca::process
