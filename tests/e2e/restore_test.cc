// What a restarted server serves of the processes it remembers (DESIGN §7.1, §7.4), through the
// real binary: their output from the spools on disk, byte for byte as before, the cursor reads
// at the same offsets, what a command lost mid-run wrote, and spools missing or damaged since.
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "../helpers/pattern.h"
#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

std::string Path(const std::string& id, const std::string& action, const std::string& query = "") {
  return "/api/v0/processes/" + id + "/" + action + (query.empty() ? "" : "?" + query);
}

json::object Read(Server& server, const std::string& id, const std::string& query) {
  HttpResult r = server.Get(Path(id, "read", query));
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json.is_object() ? r.json.as_object() : json::object();
}

std::uint64_t Number(const json::object& o, std::string_view key) {
  return o.at(key).to_number<std::uint64_t>();
}

// The whole answers of `output` (raw and clean views) of each id.
std::map<std::string, std::string> OutputBodies(Server& server,
                                                const std::vector<std::string>& ids) {
  std::map<std::string, std::string> out;
  for (const std::string& id : ids) {
    for (const char* query : {"", "view=clean"}) {
      HttpResult r = server.Get(Path(id, "output", query));
      EXPECT_EQ(r.status, 200) << r.body;
      out[id + "?" + query] = r.body;
    }
  }
  return out;
}

TEST(Restore, OutputIsTheSameByteForByteAfterACrashAndAfterAGracefulRestart) {
  const std::string state = TempDir() + "/state";
  std::vector<std::string> ids;
  std::map<std::string, std::string> before;
  {
    Server server(OnStateDir(state));
    for (const std::string& command : {
             std::string("echo hello; exit 3"),
             std::string("printf 'h\\303\\251llo w\\303\\266rld \\342\\234\\223 "
                         "\\346\\227\\245\\346\\234\\254\\n'"),
             kHelper + " print 1500000",  // truncated head+tail
             std::string("printf 'a\\033[31mred\\033[0m\\r\\nx 50%%\\rx 100%%\\n'"),  // clean view
             std::string("printf 'no newline at the end'; kill -9 $$"),
             std::string("true"),  // no output at all
         }) {
      ids.push_back(server.Start(command));
      server.WaitOutput(ids.back());
    }
    before = OutputBodies(server, ids);
    EXPECT_NE(before[ids[2] + "?"].find("\"truncated\""), std::string::npos);
    server.Crash();
  }
  {
    Server server(OnStateDir(state));
    EXPECT_EQ(OutputBodies(server, ids), before) << "after SIGKILL and restart";
    const int status = server.Stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Log();
  }
  Server server(OnStateDir(state));
  EXPECT_EQ(OutputBodies(server, ids), before) << "after a graceful stop and restart";
}

TEST(Restore, ReadsAtTheSameOffsetsAnswerTheSameAfterARestart) {
  const std::string state = TempDir() + "/state";
  constexpr std::size_t kBytes = 3 * 1024 * 1024 + 17;
  std::string id;
  std::vector<std::pair<std::uint64_t, std::string>> chunks;  // offset -> the answer's data
  {
    Server server(OnStateDir(state));
    id = server.Start(kHelper + " print " + std::to_string(kBytes));
    server.WaitOutput(id);
    for (std::uint64_t offset = 0; offset < kBytes;) {
      auto o = Read(server, id, "offset=" + std::to_string(offset) + "&limit=1000000");
      ASSERT_FALSE(o.empty());
      chunks.emplace_back(offset, std::string(o.at("data").as_string()));
      offset = Number(o, "next_offset");
    }
    server.Crash();
  }
  Server server(OnStateDir(state));
  std::string all;
  for (const auto& [offset, data] : chunks) {
    auto o = Read(server, id, "offset=" + std::to_string(offset) + "&limit=1000000");
    ASSERT_FALSE(o.empty());
    EXPECT_EQ(Number(o, "offset"), offset);
    EXPECT_TRUE(std::string(o.at("data").as_string()) == data) << "at offset " << offset;
    EXPECT_EQ(Number(o, "total_bytes"), kBytes);
    EXPECT_EQ(o.at("eof").as_bool(), offset + data.size() == kBytes);
    EXPECT_FALSE(o.contains("gap"));
    EXPECT_FALSE(o.contains("spool_error"));
    all += data;
  }
  EXPECT_TRUE(all == Pattern(kBytes)) << "the bytes read back differ from those written";
  auto end = Read(server, id, "offset=" + std::to_string(kBytes));
  EXPECT_EQ(end.at("data").as_string(), "");
  EXPECT_TRUE(end.at("eof").as_bool());
  EXPECT_EQ(end.at("exit_code").to_number<int>(), 0);
  // Waiting on a restored process answers at once: its output is complete.
  auto waited = Read(server, id, "offset=" + std::to_string(kBytes) + "&wait=output");
  EXPECT_TRUE(waited.at("eof").as_bool());
  EXPECT_EQ(server.Get(Path(id, "read", "offset=" + std::to_string(kBytes + 1))).status, 400);
}

TEST(Restore, AProcessLostMidRunShowsWhatItWroteBeforeTheCrash) {
  const std::string dir = TempDir(), state = dir + "/state";
  std::string id;
  {
    Server server(OnStateDir(state));
    id = server.Start("echo before the crash; printf 'caf\\303\\251'; echo $$ > " + dir +
                      "/lost.pid; exec sleep 300");
    ASSERT_GT(ReadPid(dir + "/lost.pid"), 0);
    ASSERT_TRUE(Eventually([&] { return Number(Read(server, id, ""), "total_bytes") == 22; }));
    server.Crash();
  }
  const pid_t pid = ReadPid(dir + "/lost.pid");
  Server server(OnStateDir(state));
  HttpResult out = server.Get(Path(id, "output"));
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(out.json.at("output").as_string(), "before the crash\ncaf\xc3\xa9");
  EXPECT_EQ(out.json.at("ended_by").as_string(), "lost");
  EXPECT_EQ(out.json.at("exit_code").to_number<int>(), -1);
  auto read = Read(server, id, "offset=6");
  EXPECT_EQ(read.at("data").as_string(), " the crash\ncaf\xc3\xa9");
  EXPECT_EQ(Number(read, "next_offset"), 22u);
  EXPECT_EQ(Number(read, "total_bytes"), 22u);
  EXPECT_TRUE(read.at("eof").as_bool());
  EXPECT_TRUE(Eventually([&] { return !Alive(pid); }));
}

TEST(Restore, AMissingOrTruncatedSpoolGivesEmptyOrPartialOutputNeverAnError) {
  const std::string state = TempDir() + "/state";
  std::string gone, cut;
  {
    Server server(OnStateDir(state));
    gone = server.Start("echo this spool will be deleted");
    cut = server.Start(kHelper + " print 5000");
    server.WaitOutput(gone);
    server.WaitOutput(cut);
    server.Crash();
  }
  ASSERT_TRUE(fs::remove(state + "/spool/" + gone));
  // Keep the spool's 64-byte header and the first 1000 bytes of output.
  fs::resize_file(state + "/spool/" + cut, 64 + 1000);

  Server server(OnStateDir(state));
  HttpResult out = server.Get(Path(gone, "output"));
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(out.json.at("output").as_string(), "");
  EXPECT_EQ(out.json.at("exit_code").to_number<int>(), 0);
  EXPECT_TRUE(out.json.as_object().contains("spool_error")) << out.body;
  auto read = Read(server, gone, "");
  EXPECT_EQ(read.at("data").as_string(), "");
  EXPECT_TRUE(read.at("eof").as_bool());
  EXPECT_EQ(Number(read, "total_bytes"), 27u) << "the journal still knows how much there was";
  ASSERT_TRUE(read.contains("gap")) << json::serialize(read);
  EXPECT_EQ(Number(read.at("gap").as_object(), "to"), 27u);

  HttpResult partial = server.Get(Path(cut, "output"));
  ASSERT_EQ(partial.status, 200) << partial.body;
  EXPECT_EQ(partial.json.at("output").as_string(), Pattern(1000));
  EXPECT_TRUE(partial.json.as_object().contains("spool_error")) << partial.body;
  auto first = Read(server, cut, "");
  EXPECT_EQ(first.at("data").as_string(), Pattern(1000));
  EXPECT_FALSE(first.at("eof").as_bool()) << "bytes 1000 to 5000 are missing, not the end";
  auto rest = Read(server, cut, "offset=1000");
  EXPECT_EQ(rest.at("data").as_string(), "");
  EXPECT_TRUE(rest.at("eof").as_bool());
  EXPECT_EQ(Number(rest, "next_offset"), 5000u);
}

// The restored spools count against --spool-total: a restart under a smaller bound forgets the
// oldest done processes until the spools fit, as a running server would.
TEST(Restore, RestoredSpoolsCountAgainstTheSpoolTotal) {
  const std::string state = TempDir() + "/state";
  std::vector<std::string> ids;
  {
    Server server(OnStateDir(state));
    for (int i = 0; i < 4; ++i) {
      ids.push_back(server.Start(kHelper + " print 300000"));
      server.WaitOutput(ids.back());
    }
    server.Crash();
  }
  Server server(OnStateDir(state, {"--spool-total", "700K"}));
  EXPECT_EQ(server.Get(Path(ids[0], "output")).status, 404);
  EXPECT_EQ(server.Get(Path(ids[1], "output")).status, 404);
  EXPECT_EQ(server.Get(Path(ids[2], "output")).status, 200);
  EXPECT_EQ(server.Get(Path(ids[3], "output")).status, 200);
  EXPECT_FALSE(fs::exists(state + "/spool/" + ids[0])) << "a forgotten process's spool is removed";
  EXPECT_TRUE(fs::exists(state + "/spool/" + ids[3]));
  HttpResult metrics = server.Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string line = "\ncorral_spool_bytes " + std::to_string(2 * (64 + 300000)) + "\n";
  EXPECT_NE(metrics.body.find(line), std::string::npos) << metrics.body;
}

// A spool no journal row knows (the server died between creating it and committing the start,
// or a forgotten process's file stayed) is removed at start; a forgotten process's spool is
// removed when it is forgotten.
TEST(Restore, SpoolsOfNoRememberedProcessAreRemoved) {
  const std::string state = TempDir() + "/state";
  std::string kept, forgotten;
  {
    Server server(OnStateDir(state, {"--retention", "1s"}));
    forgotten = server.Start("echo soon forgotten");
    server.WaitOutput(forgotten);
    ASSERT_TRUE(fs::exists(state + "/spool/" + forgotten));
    EXPECT_TRUE(Eventually([&] { return !fs::exists(state + "/spool/" + forgotten); }))
        << "the spool of a forgotten process stays";
    EXPECT_EQ(server.Get(Path(forgotten, "output")).status, 404);
    server.Crash();
  }
  {
    Server server(OnStateDir(state));
    kept = server.Start("echo kept");
    server.WaitOutput(kept);
    server.Crash();
  }
  const std::string stray = state + "/spool/0b5e7c2a-0d3e-4e43-9a1e-5d0c1f2e3a4b";
  std::ofstream(stray) << "a spool whose start never reached the journal";
  fs::create_directory(state + "/spool/not-a-spool");
  Server server(OnStateDir(state));
  EXPECT_FALSE(fs::exists(stray));
  EXPECT_TRUE(fs::exists(state + "/spool/not-a-spool")) << "only files are spools";
  EXPECT_TRUE(fs::exists(state + "/spool/" + kept));
  EXPECT_EQ(server.Get(Path(kept, "output")).json.at("output").as_string(), "kept\n");
}

// The value of the sample `series` (name and labels) in a /metrics answer, or -1.
long long Sample(Server& server, const std::string& series) {
  HttpResult r = server.Get("/metrics");
  EXPECT_EQ(r.status, 200) << r.body;
  const std::size_t at = r.body.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atoll(r.body.c_str() + at + series.size() + 2);
}

const std::string kLost = R"(corral_processes_done_total{ended_by="lost"})";
const std::string kExited = R"(corral_processes_done_total{ended_by="exit"})";

TEST(Restore, MetricsCountTheProcessesMarkedLostAtRecoveryOnce) {
  const std::string state = TempDir() + "/state";
  {
    Server server(OnStateDir(state));
    server.WaitOutput(server.Start("true"));
    server.Start("exec sleep 300");
    server.Start("exec sleep 300");
    EXPECT_EQ(Sample(server, kLost), 0);
    server.Crash();
  }
  {
    Server server(OnStateDir(state));
    EXPECT_EQ(Sample(server, kLost), 2);
    EXPECT_EQ(Sample(server, kExited), 0) << "processes done before the restart are not counted";
    server.Stop();
  }
  Server server(OnStateDir(state));
  EXPECT_EQ(Sample(server, kLost), 0) << "lost under an earlier run, not this one's";
}

// Where no writable cgroup v2 hierarchy exists (forced here with the hidden --no-cgroups),
// recovery finds what a dead server left by its journaled leaders (proven by start time) and
// by the CORRAL_INSTANCE cookie, and nothing else.
TEST(Restore, WithoutCgroupsRecoveryEndsTheDeadServersCommandsAndNothingElse) {
  const std::string dir = TempDir(), state = dir + "/state";
  const pid_t outsider = SpawnOutsider();
  std::string sleeper, escapee;
  {
    Server server(OnStateDir(state, {"--no-cgroups"}));
    ASSERT_EQ(server.Health().at("tracking").as_string(), "process-group");
    sleeper = server.Start("echo $$ > " + dir + "/sleep.pid; exec sleep 300");
    escapee =
        server.Start("setsid sh -c 'echo $$ > " + dir + "/escapee.pid; exec sleep 300' & wait");
    ASSERT_GT(ReadPid(dir + "/sleep.pid"), 0);
    ASSERT_GT(ReadPid(dir + "/escapee.pid"), 0);
    server.Crash();
  }
  const pid_t pids[] = {ReadPid(dir + "/sleep.pid"), ReadPid(dir + "/escapee.pid")};
  for (pid_t pid : pids) ASSERT_TRUE(Alive(pid)) << "survived the crash, as without Corral";

  Server server(OnStateDir(state, {"--no-cgroups"}));
  EXPECT_EQ(server.Health().at("tracking").as_string(), "process-group");
  for (const std::string& id : {sleeper, escapee}) {
    HttpResult out = server.Get(Path(id, "output"));
    ASSERT_EQ(out.status, 200) << out.body;
    EXPECT_EQ(out.json.at("ended_by").as_string(), "lost");
    EXPECT_EQ(out.json.at("exit_code").to_number<int>(), -1);
  }
  for (pid_t pid : pids) {
    EXPECT_TRUE(Eventually([&] { return !Alive(pid); })) << pid << " is still alive";
  }
  EXPECT_EQ(Sample(server, kLost), 2);
  EXPECT_TRUE(Alive(outsider)) << "a process not started by Corral was signalled";
  ::kill(outsider, SIGKILL);
  ::waitpid(outsider, nullptr, 0);
}

}  // namespace
}  // namespace corral::testing

namespace corral::testing {
namespace {

// Regression: forgetting a process unlinked its spool before the journal committed the forget,
// so a crash in between (here: the commit held off by a lock on the journal) left a row whose
// output was gone: after the restart the process was listed with empty output. The spool is now
// unlinked only once the forget is committed.
TEST(Restore, AForgetNotYetCommittedWhenTheServerDiesKeepsItsSpool) {
  const std::string state = TempDir() + "/state";
  std::string first;
  {
    Server server(OnStateDir(state, {"--max-done", "1"}));
    first = server.Start("echo remembered until the forget commits");
    server.WaitOutput(first);
    // The test holds the journal's write lock: every commit of the server fails from now on.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((state + "/journal.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    // A second done process forgets the first (--max-done 1); its forget cannot commit.
    server.WaitOutput(server.Start("true"));
    EXPECT_EQ(server.Get(Path(first, "output")).status, 404);
    EXPECT_TRUE(fs::exists(state + "/spool/" + first)) << "unlinked before its forget committed";
    server.Crash();
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  Server server(OnStateDir(state, {"--max-done", "10"}));
  HttpResult out = server.Get(Path(first, "output"));
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(out.json.at("output").as_string(), "remembered until the forget commits\n");
  EXPECT_FALSE(out.json.as_object().contains("spool_error")) << out.body;
}

}  // namespace
}  // namespace corral::testing

namespace corral::testing {
namespace {

// Every process the list shows, by id, each as its JSON text.
std::map<std::string, std::string> ListedById(Server& server) {
  std::map<std::string, std::string> out;
  HttpResult r = server.Get("/api/v0/processes/list");
  EXPECT_EQ(r.status, 200) << r.body;
  if (!r.json.is_object()) return out;
  for (const auto& p : r.json.at("processes").as_array()) {
    out[std::string(p.at("id").as_string())] = json::serialize(p);
  }
  return out;
}

// Regression: the journal did not keep a command's stdin mode, terminal or deadline, so a done
// process started with `timeout_ms` lost it from `list` after a restart.
TEST(Restore, StdinTerminalAndDeadlineAreAnsweredTheSameAfterARestart) {
  const std::string state = TempDir() + "/state";
  std::vector<std::string> ids;
  std::map<std::string, std::string> listed, outputs;
  {
    Server server(OnStateDir(state));
    const std::string piped = server.Start("cat", R"("stdin": "pipe", "timeout_ms": 600000)");
    ASSERT_EQ(server.Post(Path(piped, "input"), R"({"data": "piped\n", "close": true})").status,
              200);
    ids = {piped, server.Start("echo on a terminal", R"("tty": {"rows": 30, "cols": 100})"),
           server.Start("exec sleep 300", R"("timeout_ms": 300)")};
    for (const std::string& id : ids) server.WaitOutput(id);
    listed = ListedById(server);
    outputs = OutputBodies(server, ids);
    EXPECT_NE(listed[ids[0]].find("\"timeout_ms\":600000"), std::string::npos) << listed[ids[0]];
    EXPECT_NE(outputs[ids[2] + "?"].find("\"ended_by\":\"deadline\""), std::string::npos);
    server.Crash();
  }
  Server server(OnStateDir(state));
  EXPECT_EQ(ListedById(server), listed);
  EXPECT_EQ(OutputBodies(server, ids), outputs);
}

}  // namespace
}  // namespace corral::testing
