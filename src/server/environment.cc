#include "server/environment.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "sys/spawn.h"

extern char** environ;

namespace corral::server {
namespace {

// An env hook command gets this long to print its variables and exit.
constexpr std::chrono::seconds kHookTimeout{10};
// ...and may print at most this much.
constexpr std::size_t kHookMaxOutput = 1024 * 1024;

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs the hook executable and returns its stdout+stderr, or sets `error`.
std::string RunHook(const std::string& path, const proc::Environment& env, std::string& error) {
  sys::SpawnSpec spec;
  spec.command = "exec " + ShellQuote(path);
  char cwd[4096];
  spec.workdir = ::getcwd(cwd, sizeof cwd) ? cwd : "/";
  for (const auto& [k, v] : env) spec.env.push_back(k + "=" + v);
  sys::SpawnedChild child;
  if (auto ec = sys::Spawn(spec, child)) {
    error = "cannot run it: " + ec.message();
    return {};
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + kHookTimeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error = "it did not finish within " + std::to_string(kHookTimeout.count()) + " s";
      break;
    }
    pollfd pfd{child.output.get(), POLLIN, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    char buf[8192];
    ssize_t n = ::read(child.output.get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kHookMaxOutput) {
      error = "it printed more than " + std::to_string(kHookMaxOutput) + " bytes";
      break;
    }
  }
  ::kill(-child.pid, SIGKILL);  // harmless if it is done; ends it (and its group) if it is not
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  if (error.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    error = WIFEXITED(status) ? "it exited with status " + std::to_string(WEXITSTATUS(status))
                              : "it was killed by a signal";
  }
  return out;
}

}  // namespace

std::string ParseEnvLines(std::string_view text, proc::Environment& env) {
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line[start] == '#') continue;
    line.remove_prefix(start);
    if (line.starts_with("export ")) line.remove_prefix(7);
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return "line " + std::to_string(number) + " is not KEY=VALUE";
    }
    env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return {};
}

proc::Environment BaseEnvironment() {
  proc::Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  // Corral's own secret is not the commands' business.
  env.erase("CORRAL_TOKEN");
  return env;
}

proc::Environment HookEnvironment(const std::string& env_file, const proc::Environment& base) {
  if (env_file.empty()) return {};

  std::string error;
  std::string text;
  struct stat st;
  if (::stat(env_file.c_str(), &st) != 0) {
    error = std::strerror(errno);
  } else if (S_ISREG(st.st_mode) && ::access(env_file.c_str(), X_OK) == 0) {
    text = RunHook(env_file, base, error);
  } else {
    std::ifstream in(env_file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) error = "cannot read it";
    text = ss.str();
  }
  proc::Environment hooked;
  if (error.empty()) error = ParseEnvLines(text, hooked);
  if (!error.empty()) {
    base::LogWarning("env hook " + env_file + " ignored: " + error);
    return {};
  }
  return hooked;
}

}  // namespace corral::server
