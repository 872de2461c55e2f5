// A child with exact behaviour, for tests that need more precision than a shell one-liner.
//
//   child_helper print N [CHUNK]   write N pattern bytes (see pattern.h), CHUNK bytes a write
//   child_helper hex HEX           write the bytes spelled in hex ("e282ac0a")
//   child_helper fds               print this process's open descriptors, space-separated
//   child_helper hold SECONDS      fork a grandchild that keeps stdout open for SECONDS, print
//                                  "started" and exit 0 at once
//   child_helper ignore-term SECONDS   ignore SIGTERM, print "ready", sleep
//   child_helper pidfile FILE SECONDS  write our pid to FILE, print "ready", sleep
//   child_helper now               print CLOCK_REALTIME in nanoseconds and exit
//   child_helper tick MS SECONDS   every MS milliseconds for SECONDS, print CLOCK_REALTIME in
//                                  nanoseconds as a line (one write each)
//   child_helper prompt            print CLOCK_REALTIME in nanoseconds as a line, then block
//                                  reading stdin; each line read is a number of milliseconds to
//                                  sleep before the next stamp and read; exit 0 at end of file
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "pattern.h"

namespace {

void WriteAll(const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(1, data, n);
    if (w <= 0) std::exit(3);
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

void Say(const char* text) { WriteAll(text, std::strlen(text)); }

// Writes CLOCK_REALTIME in nanoseconds as a line, in one write.
void SayNow() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::string line = std::to_string(ts.tv_sec * 1'000'000'000LL + ts.tv_nsec);
  line += '\n';
  WriteAll(line.data(), line.size());
}

// Each line is written at its own tick of CLOCK_MONOTONIC (absolute deadlines, so a late tick
// does not delay the ones after it).
int Tick(long interval_ms, long seconds) {
  timespec next;
  ::clock_gettime(CLOCK_MONOTONIC, &next);
  for (long i = 0; i < seconds * 1000 / interval_ms; ++i) {
    SayNow();
    next.tv_nsec += interval_ms * 1'000'000;
    next.tv_sec += next.tv_nsec / 1'000'000'000;
    next.tv_nsec %= 1'000'000'000;
    ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
  }
  return 0;
}

// The stamp is taken just before the write, and the read follows the write at once: the stamp
// is when the helper starts waiting for input, within the write's few microseconds.
int Prompt() {
  std::string pending;
  for (;;) {
    SayNow();
    std::size_t eol;
    while ((eol = pending.find('\n')) == std::string::npos) {
      char buf[256];
      const ssize_t n = ::read(0, buf, sizeof buf);
      if (n == 0) return 0;
      if (n < 0) return 3;
      pending.append(buf, static_cast<std::size_t>(n));
    }
    const long ms = std::atol(pending.substr(0, eol).c_str());
    pending.erase(0, eol + 1);
    const timespec delay{ms / 1000, ms % 1000 * 1'000'000};
    ::nanosleep(&delay, nullptr);
  }
}

int Print(std::size_t n, std::size_t chunk) {
  const std::string all = corral::testing::Pattern(n);
  for (std::size_t i = 0; i < n; i += chunk) WriteAll(all.data() + i, std::min(chunk, n - i));
  return 0;
}

int Hex(const char* hex) {
  std::string bytes;
  for (std::size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
    bytes += static_cast<char>(std::stoi(std::string(hex + i, 2), nullptr, 16));
  }
  WriteAll(bytes.data(), bytes.size());
  return 0;
}

int Fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 1;
  std::vector<int> fds;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd != ::dirfd(dir)) fds.push_back(fd);
  }
  ::closedir(dir);
  std::string out;
  for (int fd : fds) out += (out.empty() ? "" : " ") + std::to_string(fd);
  out += "\n";
  Say(out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string cmd = argv[1];
  if (cmd == "print" && argc >= 3) {
    return Print(std::strtoull(argv[2], nullptr, 10),
                 argc >= 4 ? std::strtoull(argv[3], nullptr, 10) : 65536);
  }
  if (cmd == "hex" && argc >= 3) return Hex(argv[2]);
  if (cmd == "fds") return Fds();
  if (cmd == "now") {
    SayNow();
    return 0;
  }
  if (cmd == "prompt") return Prompt();
  if (cmd == "tick" && argc >= 4) return Tick(std::atol(argv[2]), std::atol(argv[3]));
  if (cmd == "hold" && argc >= 3) {
    if (::fork() == 0) {
      ::sleep(static_cast<unsigned>(std::atoi(argv[2])));
      _exit(0);
    }
    Say("started\n");
    return 0;
  }
  if (cmd == "ignore-term" && argc >= 3) {
    ::signal(SIGTERM, SIG_IGN);
    Say("ready\n");
    ::sleep(static_cast<unsigned>(std::atoi(argv[2])));
    return 0;
  }
  if (cmd == "pidfile" && argc >= 4) {
    FILE* f = std::fopen(argv[2], "w");
    if (!f) return 1;
    std::fprintf(f, "%d\n", ::getpid());
    std::fclose(f);
    Say("ready\n");
    ::sleep(static_cast<unsigned>(std::atoi(argv[3])));
    return 0;
  }
  return 2;
}
