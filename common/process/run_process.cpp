#include "common/process/run_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>

#include <sys/wait.h>

namespace mca::process {
namespace {

using boost::system::error_code;
using boost::system::system_category;

class fd_guard {
 public:
  fd_guard() = default;
  explicit fd_guard(int fd) : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

error_code last_error() { return {errno, system_category()}; }

// Pipes are created close-on-exec so no child inherits another's ends;
// posix_spawn's dup2 clears the flag on the copies the child keeps.
error_code make_pipe(fd_guard& read_end, fd_guard& write_end) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) return last_error();
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return {};
}

std::vector<std::string> merged_environment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : overrides) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) {
    std::string entry;
    entry.reserve(k.size() + 1 + v.size());
    entry.append(k).append("=").append(v);
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// A child that exits without reading all its stdin must not kill us with
// SIGPIPE: block it on this thread for the write and swallow the pending one.
ssize_t write_no_sigpipe(int fd, const char* data, std::size_t size) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  ssize_t w = ::write(fd, data, size);
  int saved = errno;
  if (w < 0 && saved == EPIPE) {
    timespec zero{0, 0};
    sigtimedwait(&block, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return w;
}

}  // namespace

boost::system::result<process_result> run_process(const process_spec& spec) {
  if (spec.argv.empty()) {
    return error_code(EINVAL, system_category());
  }
  fd_guard in_r, in_w, out_r, out_w, err_r, err_w;
  for (auto [r, w] : {std::pair{&in_r, &in_w}, std::pair{&out_r, &out_w},
                      std::pair{&err_r, &err_w}}) {
    if (auto ec = make_pipe(*r, *w)) return ec;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), STDERR_FILENO);

  auto argv_strings = spec.argv;
  auto env_strings = merged_environment(spec.env);
  auto argv = c_strings(argv_strings);
  auto envp = c_strings(env_strings);

  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(),
                          envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return error_code(rc, system_category());

  in_r.reset();
  out_w.reset();
  err_w.reset();
  // Non-blocking so a child that stops reading cannot stall our output loop.
  ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  if (spec.stdin_data.empty()) in_w.reset();

  process_result result;
  std::size_t written = 0;
  const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  std::array<char, 16384> buf{};

  while (out_r.get() >= 0 || err_r.get() >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    std::array<pollfd, 3> fds{{{out_r.get(), POLLIN, 0},
                               {err_r.get(), POLLIN, 0},
                               {in_w.get(), POLLOUT, 0}}};
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      auto ec = last_error();
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return ec;
    }
    if ((fds[2].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      ssize_t w = write_no_sigpipe(in_w.get(), spec.stdin_data.data() + written,
                                   spec.stdin_data.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN) || written == spec.stdin_data.size()) {
        in_w.reset();
      }
    }
    for (std::size_t i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      auto& fd = i == 0 ? out_r : err_r;
      auto& sink = i == 0 ? result.out : result.err;
      ssize_t r = ::read(fd.get(), buf.data(), buf.size());
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        fd.reset();
        continue;
      }
      auto room = spec.output_limit - std::min(spec.output_limit, sink.size());
      auto take = std::min(room, static_cast<std::size_t>(r));
      sink.append(buf.data(), take);
      if (take < static_cast<std::size_t>(r)) result.truncated = true;
    }
  }

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace mca::process
