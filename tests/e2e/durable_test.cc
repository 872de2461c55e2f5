// State that survives the server (DESIGN §7.4), through the real binary: SIGKILL it, restart
// it on the same state dir, and see what it remembers, what it ends and what it leaves alone.
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

const std::string kChatA = "6b0e1f8a-63a5-4b8a-9b8c-0000000000aa";
const std::string kChatB = "6b0e1f8a-63a5-4b8a-9b8c-0000000000bb";

std::map<std::string, std::string> Chat(const std::string& chat) {
  return {{"Coder-Chat-Id", chat}};
}

// Every process the chat's list shows, by id.
std::map<std::string, json::object> ListById(Server& server, const std::string& chat) {
  std::map<std::string, json::object> out;
  auto r = server.Get("/api/v0/processes/list", Chat(chat));
  EXPECT_EQ(r.status, 200) << r.body;
  if (!r.json.is_object()) return out;
  for (const auto& p : r.json.at("processes").as_array()) {
    out[std::string(p.at("id").as_string())] = p.as_object();
  }
  return out;
}

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return result;
}

TEST(Durable, RestartShowsDoneProcessesAgainAndEndsRunningOnesAsLost) {
  const std::string dir = TempDir(), state = dir + "/state";
  const pid_t outsider = SpawnOutsider();
  std::map<std::string, json::object> before_a, before_b;
  std::vector<std::string> running_ids;
  std::string idempotent_id, b_id;
  {
    Server server(OnStateDir(state));
    // Done ones, in two chats: an exit code, a signal, a multi-byte command, a client's kill.
    server.WaitOutput(server.Start("exit 3", "", Chat(kChatA)), Chat(kChatA));
    server.WaitOutput(server.Start("kill -9 $$", "", Chat(kChatA)), Chat(kChatA));
    b_id = server.Start("echo 'héllo wörld ✓ 日本'", "", Chat(kChatB));
    server.WaitOutput(b_id, Chat(kChatB));
    auto idem = server.Post("/api/v0/processes/start", R"({"command":"echo once"})",
                            {{"Coder-Chat-Id", kChatA}, {"Idempotency-Key", "key-1"}});
    ASSERT_EQ(idem.status, 200);
    idempotent_id = std::string(idem.json.at("id").as_string());
    server.WaitOutput(idempotent_id, Chat(kChatA));
    // Running ones: a sleep, a setsid escapee, a loud writer, a TERM-ignorer.
    for (const std::string& command : {
             "echo $$ > " + dir + "/sleep.pid; exec sleep 300",
             "setsid sh -c 'echo $$ > " + dir + "/setsid.pid; exec sleep 300' & wait",
             "echo $$ > " + dir + "/loud.pid; trap '' PIPE; while :; do echo loud; done",
             "trap '' TERM; echo $$ > " + dir + "/term.pid; while :; do sleep 1; done",
         }) {
      running_ids.push_back(server.Start(command, "", Chat(kChatA)));
    }
    for (const char* name : {"sleep", "setsid", "loud", "term"}) {
      ASSERT_GT(ReadPid(dir + "/" + name + ".pid"), 0) << name;
    }
    before_a = ListById(server, kChatA);
    before_b = ListById(server, kChatB);
    server.Crash();
  }
  std::vector<pid_t> pids;
  for (const char* name : {"sleep", "setsid", "loud", "term"}) {
    pids.push_back(ReadPid(dir + "/" + name + ".pid"));
    EXPECT_TRUE(Alive(pids.back())) << name << " survived the crash, as it would without Corral";
  }

  Server server(OnStateDir(state));
  auto after_a = ListById(server, kChatA);
  auto after_b = ListById(server, kChatB);
  ASSERT_EQ(after_a.size(), before_a.size());
  for (const auto& [id, was] : before_a) {
    ASSERT_TRUE(after_a.contains(id)) << id;
    const json::object& now = after_a[id];
    EXPECT_EQ(now.at("command"), was.at("command"));
    EXPECT_EQ(now.at("started_at_unix"), was.at("started_at_unix"));
    EXPECT_FALSE(now.at("running").as_bool());
    if (!was.at("running").as_bool()) {
      EXPECT_EQ(json::serialize(now), json::serialize(was)) << "a done process is as it was";
    } else {
      EXPECT_EQ(now.at("exit_code"), -1) << now;
      EXPECT_EQ(now.at("ended_by"), "lost") << now;
    }
  }
  EXPECT_EQ(json::serialize(after_b.at(b_id)), json::serialize(before_b.at(b_id)));
  for (const std::string& id : running_ids) {
    auto out = server.Get("/api/v0/processes/" + id + "/output", Chat(kChatA));
    EXPECT_EQ(out.json.at("ended_by"), "lost");
  }

  // Chat isolation holds after the restart.
  EXPECT_FALSE(after_a.contains(b_id));
  EXPECT_EQ(server.Get("/api/v0/processes/" + b_id + "/output", Chat(kChatA)).status, 404);
  EXPECT_EQ(server.Get("/api/v0/processes/" + b_id + "/output", Chat(kChatB)).status, 200);

  // Nothing of the running ones lives on; the test's own process is untouched.
  for (pid_t pid : pids) {
    EXPECT_TRUE(Eventually([&] { return !Alive(pid); })) << pid << " is still alive";
  }
  EXPECT_TRUE(Alive(outsider));
  ::kill(outsider, SIGKILL);
  ::waitpid(outsider, nullptr, 0);

  // The idempotent start replays across the restart, in its chat only.
  auto replay = server.Post("/api/v0/processes/start", R"({ "command" : "echo once" })",
                            {{"Coder-Chat-Id", kChatA}, {"Idempotency-Key", "key-1"}});
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.json.at("id").as_string(), idempotent_id);
  EXPECT_EQ(replay.headers["idempotent-replayed"], "true");
  auto other = server.Post("/api/v0/processes/start", R"({"command":"echo twice"})",
                           {{"Coder-Chat-Id", kChatA}, {"Idempotency-Key", "key-1"}});
  EXPECT_EQ(other.status, 422) << other.body;
  auto other_chat = server.Post("/api/v0/processes/start", R"({"command":"echo once"})",
                                {{"Coder-Chat-Id", kChatB}, {"Idempotency-Key", "key-1"}});
  EXPECT_EQ(other_chat.status, 200);
  EXPECT_NE(other_chat.json.at("id").as_string(), idempotent_id);
  EXPECT_FALSE(other_chat.headers.contains("idempotent-replayed"));
}

TEST(Durable, IdempotencyKeyMustBeOneTo255PrintableCharacters) {
  Server server;
  for (const std::string& key : {std::string(), std::string(256, 'k'), std::string("a\x01")}) {
    auto r =
        server.Post("/api/v0/processes/start", R"({"command":"true"})", {{"Idempotency-Key", key}});
    EXPECT_EQ(r.status, 400) << key.size() << ": " << r.body;
  }
  auto ok = server.Post("/api/v0/processes/start", R"({"command":"true"})",
                        {{"Idempotency-Key", std::string(255, 'k')}});
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(Durable, SecondServerOnTheSameStateDirIsRefused) {
  const std::string state = TempDir() + "/state";
  Server first(OnStateDir(state));
  auto second =
      RunProgram({kCorral, "serve", "--listen", "127.0.0.1:0", "--no-auth", "--state-dir", state});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(
      second.err.find("in use by another corral server (pid " + std::to_string(first.pid()) + ")"),
      std::string::npos)
      << second.err;
}

TEST(Durable, EphemeralWithStateDirIsAUsageError) {
  auto r = RunProgram({kCorral, "serve", "--ephemeral", "--state-dir", TempDir()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(Durable, GarbageJournalIsMovedAsideAndTheServerStarts) {
  const std::string state = TempDir() + "/state";
  std::filesystem::create_directories(state);
  std::ofstream(state + "/journal.db") << std::string(5000, 'x');
  Server server(OnStateDir(state));
  EXPECT_EQ(server.WaitOutput(server.Start("exit 4")).at("exit_code"), 4);
  bool moved = false;
  for (const auto& entry : std::filesystem::directory_iterator(state)) {
    moved |= entry.path().filename().string().starts_with("journal.db.corrupt-");
  }
  EXPECT_TRUE(moved);
  EXPECT_NE(server.Log().find("journal.db.corrupt-"), std::string::npos) << server.Log();
}

// Crashes at random moments never lose an answered start or a reported result, never corrupt
// the journal, and never leave a process of a dead server alive.
TEST(Durable, CrashLoopLosesNothingAnsweredAndLeavesNothingAlive) {
  const std::string dir = TempDir(), state = dir + "/state";
  std::mt19937 random(std::random_device{}());
  std::map<std::string, int> answered;  // id -> the exit code its command chose
  int sleepers = 0;
  for (int cycle = 0; cycle < 20; ++cycle) {
    Server server(OnStateDir(state));
    std::atomic<bool> stop{false};
    std::map<std::string, int> started;
    std::thread starter([&] {
      for (int i = 0; !stop; ++i) {
        std::string command;
        int code = static_cast<int>(random() % 100);
        if (i % 4 == 0) {
          command = "echo $$ > " + dir + "/sleeper-" + std::to_string(cycle) + "-" +
                    std::to_string(i) + "; exec sleep 300";
        } else {
          command = "exit " + std::to_string(code);
        }
        auto r = server.Post("/api/v0/processes/start", "{\"command\":" + Quote(command) + "}");
        if (r.status != 200) break;  // the server is gone
        started[std::string(r.json.at("id").as_string())] = i % 4 == 0 ? -2 : code;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 150));
    server.Crash();
    stop = true;
    starter.join();
    answered.insert(started.begin(), started.end());
  }

  Server server(OnStateDir(state));
  int lost = 0, exited = 0;
  for (const auto& [id, code] : answered) {
    auto r = server.Get("/api/v0/processes/" + id + "/output");
    ASSERT_EQ(r.status, 200) << "answered start " << id << " was forgotten";
    ASSERT_FALSE(r.json.at("running").as_bool());
    if (r.json.at("ended_by") == "lost") {
      EXPECT_EQ(r.json.at("exit_code"), -1);
      ++lost;
    } else {
      ASSERT_NE(code, -2) << "a sleeper cannot have ended by itself: " << r.body;
      EXPECT_EQ(r.json.at("exit_code"), code) << r.body;
      EXPECT_EQ(r.json.at("ended_by"), "exit") << r.body;
      ++exited;
    }
  }
  EXPECT_GT(answered.size(), 20u);
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.path().filename().string().starts_with("sleeper-")) continue;
    ++sleepers;
    pid_t pid = 0;
    // Empty when its shell was ended between creating the file and writing it.
    if (!(std::ifstream(entry.path()) >> pid)) continue;
    EXPECT_TRUE(Eventually([&] { return !Alive(pid); })) << entry.path() << " still alive";
  }
  EXPECT_GT(sleepers, 0);
  const int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Log();
  EXPECT_EQ(IntegrityCheck(state + "/journal.db"), "ok");
  std::printf("crash loop: %zu answered starts, %d exited, %d lost, %d sleepers\n", answered.size(),
              exited, lost, sleepers);
}

}  // namespace
}  // namespace corral::testing

namespace corral::testing {
namespace {

// Regression: a server killed between spawning its first command and journaling it left that
// command running forever, since no row named its instance. The instance is now recorded in the
// state dir before the first spawn. Here the journal's rows are removed by hand to stand for
// that moment.
TEST(Durable, ACommandNoRowNamesIsStillEndedAfterACrash) {
  const std::string state = TempDir();
  const std::string dir = TempDir();
  {
    Server server(OnStateDir(state));
    if (server.Health().at("tracking").as_string() != "cgroup") {
      GTEST_SKIP() << "without cgroups such a command is found by its environment instead";
    }
    server.Start("echo $$ > " + dir + "/orphan.pid; exec sleep 300");
    ASSERT_GT(ReadPid(dir + "/orphan.pid"), 0);
    server.Crash();
  }
  const pid_t orphan = ReadPid(dir + "/orphan.pid");
  ASSERT_TRUE(Alive(orphan));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((state + "/journal.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DELETE FROM processes", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  Server restarted(OnStateDir(state));
  EXPECT_TRUE(Eventually([&] { return !Alive(orphan); })) << "the dead server's command ended";
}

}  // namespace
}  // namespace corral::testing
