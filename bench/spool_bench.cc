// Spool::Append against its floor: a plain write() of the same chunks to a file of the same
// bound (rewound when full, as the spool's ring wraps). The difference is the cost of the
// header update that makes a spool readable after a crash (one 8-byte pwrite per piece).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "store/spool.h"

namespace {

using corral::store::kDefaultSpoolMaxBytes;
using corral::store::Spool;

std::string Text(std::size_t n) {
  std::string s(n, 'x');
  for (std::size_t i = 79; i < n; i += 80) s[i] = '\n';
  return s;
}

// A private directory for the files, removed at exit. $CORRAL_BENCH_DIR picks the file system.
const std::string& Dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("CORRAL_BENCH_DIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/corral-spool-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    std::atexit([] { std::filesystem::remove_all(Dir()); });
    return tmpl;
  }();
  return dir;
}

void BM_PlainWrite(benchmark::State& state) {
  const std::string chunk = Text(static_cast<std::size_t>(state.range(0)));
  const std::string path = Dir() + "/plain";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  std::uint64_t at = 0;
  for (auto _ : state) {
    if (at + chunk.size() > kDefaultSpoolMaxBytes) {
      ::lseek(fd, 0, SEEK_SET);
      at = 0;
    }
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
      state.SkipWithError("write failed");
      break;
    }
    at += chunk.size();
  }
  ::close(fd);
  ::unlink(path.c_str());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_PlainWrite)->Arg(1)->Arg(4096)->Arg(65536);

// The spool's syscalls alone: pwrite of the data, then of an 8-byte count at the file's start.
void BM_PwriteWithCount(benchmark::State& state) {
  const std::string chunk = Text(static_cast<std::size_t>(state.range(0)));
  const std::string path = Dir() + "/counted";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  std::uint64_t at = 0, total = 0;
  for (auto _ : state) {
    if (at + chunk.size() > kDefaultSpoolMaxBytes) at = 0;
    if (::pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(64 + at)) !=
            static_cast<ssize_t>(chunk.size()) ||
        ::pwrite(fd, &total, sizeof total, 16) != sizeof total) {
      state.SkipWithError("pwrite failed");
      break;
    }
    at += chunk.size();
    total += chunk.size();
  }
  ::close(fd);
  ::unlink(path.c_str());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_PwriteWithCount)->Arg(1)->Arg(4096)->Arg(65536);

void BM_SpoolAppend(benchmark::State& state) {
  const std::string chunk = Text(static_cast<std::size_t>(state.range(0)));
  static int next_id = 0;
  auto spool = Spool::Create(Dir(), "spool" + std::to_string(next_id++), kDefaultSpoolMaxBytes);
  if (!spool.ok()) std::abort();
  for (auto _ : state) {
    if (!spool.value()->Append(chunk).ok()) {
      state.SkipWithError("append failed");
      break;
    }
  }
  spool.value()->Remove();
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_SpoolAppend)->Arg(1)->Arg(4096)->Arg(65536);

}  // namespace

BENCHMARK_MAIN();
