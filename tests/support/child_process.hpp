#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mca::test {

// A long-running child (the sidecar, `kubectl get -w`) whose stdout and
// stderr go to a file the test reads while it runs. Killed (SIGKILL) in the
// destructor if still running.
class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  ~child_process();

  // Starts argv (argv[0] a path or found on PATH) with `env` added to the
  // inherited environment. Throws std::runtime_error when it cannot start.
  static child_process start(
      std::vector<std::string> argv, const std::filesystem::path& output,
      const std::vector<std::pair<std::string, std::string>>& env = {});

  int pid() const noexcept { return pid_; }
  bool running();
  void signal(int signo);
  // The exit code (or 128 + signal) once it ended within `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // A field of /proc/<pid>/status in kB (VmRSS, VmHWM), or -1.
  long status_kb(const std::string& field) const;
  // How many descriptors it has open, or -1.
  long open_descriptors() const;
  // What it has written so far.
  std::string output() const;
  // Waits until output() contains `text` (true) or the time is up / the
  // child exited (false).
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds timeout);

 private:
  int pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path output_;
};

}  // namespace mca::test
