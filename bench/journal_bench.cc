// The journal's commit cost per loop turn, against its floor measured in the same run: appending
// the same bytes to a file with write(2), which is what any journal costs at the very least.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "store/journal.h"

namespace {

using corral::store::Journal;
using corral::store::ProcessRecord;

// A scratch directory on the same file system as the state dir would be (not a tmpfs if /tmp
// is one: set TMPDIR to compare).
class Scratch {
 public:
  Scratch() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "corral-journal-bench-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) std::abort();
    path_ = pattern;
  }
  ~Scratch() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A typical start: a short command, a chat, a key.
ProcessRecord Start(std::uint64_t n) {
  ProcessRecord r;
  r.id = "6f1c2a9e-0d4b-4c51-9a57-" + std::to_string(100000000000 + n);
  r.chat_id = "3b241101-e2bb-4255-8caf-4136c566a962";
  r.command = "cd web && npm test -- --reporter=dot";
  r.workdir = "/home/agent/project";
  r.started_at_ms = 1764430000000 + static_cast<std::int64_t>(n);
  r.pid = r.pgid = 40000 + static_cast<std::int64_t>(n % 20000);
  r.leader_start_time = 987654 + n;
  r.instance = "0e6a7f3c-5a7b-4df1-8a3b-2b7c1e9d4f60";
  r.idempotency_key = "run-" + std::to_string(n);
  r.request_digest = std::string(64, 'a');
  return r;
}

// The floor: one write(2) of `rows` rows' worth of bytes per turn, no fsync.
void BM_FileAppend(benchmark::State& state) {
  Scratch scratch;
  const int fd = ::open((scratch.path() + "/log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  const ProcessRecord r = Start(0);
  const std::size_t row = r.id.size() + r.chat_id.size() + r.command.size() + r.workdir.size() +
                          r.instance.size() + r.idempotency_key.size() + r.request_digest.size() +
                          64;
  const std::string batch(row * static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    if (::write(fd, batch.data(), batch.size()) != static_cast<ssize_t>(batch.size())) {
      state.SkipWithError("write failed");
    }
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FileAppend)->Arg(1)->Arg(100);

// RecordStart of N rows then one Flush: one loop turn's commit, WAL with synchronous=NORMAL
// (the default sync interval: a synced commit at most once a second).
void BM_JournalStartFlush(benchmark::State& state) {
  Scratch scratch;
  auto journal = Journal::Open(scratch.path() + "/journal.db");
  if (!journal.ok()) {
    state.SkipWithError(journal.status().message().c_str());
    return;
  }
  std::uint64_t n = 0;
  for (auto _ : state) {
    for (int i = 0; i < state.range(0); ++i) (*journal)->RecordStart(Start(n++));
    if (!(*journal)->Flush().ok()) state.SkipWithError("flush failed");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_JournalStartFlush)->Arg(1)->Arg(100);

// The same with every commit synced (sync_interval 0): what the grouped, unsynced commits save.
void BM_JournalStartFlushSynced(benchmark::State& state) {
  Scratch scratch;
  auto journal = Journal::Open(
      scratch.path() + "/journal.db",
      {.sync_interval = std::chrono::milliseconds(0), .busy_timeout = std::chrono::seconds(1)});
  if (!journal.ok()) {
    state.SkipWithError(journal.status().message().c_str());
    return;
  }
  std::uint64_t n = 0;
  for (auto _ : state) {
    for (int i = 0; i < state.range(0); ++i) (*journal)->RecordStart(Start(n++));
    if (!(*journal)->Flush().ok()) state.SkipWithError("flush failed");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_JournalStartFlushSynced)->Arg(1)->Arg(100);

}  // namespace

BENCHMARK_MAIN();
