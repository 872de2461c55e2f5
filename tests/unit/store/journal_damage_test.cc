// A journal survives its writer's death, and a damaged one never stops the server.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "store/journal.h"
#include "temp_dir.h"

namespace corral::store {
namespace {

namespace fs = std::filesystem;

ProcessRecord Record(int i) {
  ProcessRecord r;
  r.id = "process-" + std::to_string(i);
  r.command = "echo " + std::string(200, 'x') + std::to_string(i);
  r.workdir = "/tmp";
  r.started_at_ms = 1764430000000 + i;
  r.instance = "instance";
  r.request_digest = std::string(64, '0');
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// "ok" when the file at `path` passes PRAGMA integrity_check.
std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "cannot open";
  }
  std::string answer;
  sqlite3_exec(
      db, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) += values[0] ? values[0] : "";
        return 0;
      },
      &answer, nullptr);
  sqlite3_close(db);
  return answer;
}

class JournalDamageTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() + "/journal.db"; }

  // Writes `rows` records and closes the journal cleanly.
  void WriteRows(int rows) {
    auto journal = Journal::Open(path());
    ASSERT_TRUE(journal.ok()) << journal.status().message();
    for (int i = 0; i < rows; ++i) (*journal)->RecordStart(Record(i));
    ASSERT_TRUE((*journal)->Flush().ok());
  }

  // The files of the dir whose name starts with journal.db.corrupt-.
  std::vector<std::string> Aside() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("journal.db.corrupt-")) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // Opens the damaged journal: expects it moved aside with `original` bytes, a warning that
  // names it, and a fresh, empty, usable journal in its place.
  void ExpectMovedAsideAndFresh(const std::string& original) {
    ::testing::internal::CaptureStderr();
    auto journal = Journal::Open(path());
    const std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(journal.ok()) << journal.status().message();
    auto aside = Aside();
    ASSERT_GE(aside.size(), 1u);
    EXPECT_EQ(ReadFile(dir_.path() + "/" + aside[0]), original);
    EXPECT_NE(log.find("warning"), std::string::npos) << log;
    EXPECT_NE(log.find("damaged"), std::string::npos) << log;
    EXPECT_NE(log.find(aside[0]), std::string::npos) << log;
    auto rows = (*journal)->LoadAll();
    ASSERT_TRUE(rows.ok());
    EXPECT_TRUE(rows->empty());
    (*journal)->RecordStart(Record(1));
    EXPECT_TRUE((*journal)->Flush().ok());
    std::printf("[ journal  ] %s", log.c_str());
  }

  TempDir dir_;
};

TEST_F(JournalDamageTest, GarbageIsMovedAsideWithItsWalAndAFreshJournalCreated) {
  std::mt19937 random(42);
  std::string garbage(64 * 1024, '\0');
  for (auto& c : garbage) c = static_cast<char>(random());
  WriteFile(path(), garbage);
  WriteFile(path() + "-wal", "not a wal either");
  ExpectMovedAsideAndFresh(garbage);
  auto aside = Aside();
  ASSERT_GE(aside.size(), 2u);
  EXPECT_EQ(aside.back(), aside[0] + "-wal");  // with the -shm SQLite made between them
  EXPECT_EQ(ReadFile(dir_.path() + "/" + aside.back()), "not a wal either");
}

TEST_F(JournalDamageTest, ATruncatedJournalIsMovedAside) {
  WriteRows(500);
  std::string bytes = ReadFile(path());
  ASSERT_GT(bytes.size(), 64u * 1024);
  bytes.resize(bytes.size() / 2);
  WriteFile(path(), bytes);
  ExpectMovedAsideAndFresh(bytes);
}

TEST_F(JournalDamageTest, AJournalCutInsideItsHeaderIsMovedAside) {
  WriteRows(5);
  std::string bytes = ReadFile(path()).substr(0, 60);
  WriteFile(path(), bytes);
  ExpectMovedAsideAndFresh(bytes);
}

TEST_F(JournalDamageTest, CorruptPagesFailingQuickCheckAreMovedAside) {
  WriteRows(500);
  std::string bytes = ReadFile(path());
  // Overwrite the middle pages (tree pages of the table) but keep the header valid.
  for (std::size_t i = bytes.size() / 3; i < bytes.size() * 2 / 3; i += 7) bytes[i] ^= 0x5a;
  WriteFile(path(), bytes);
  ExpectMovedAsideAndFresh(bytes);
}

TEST_F(JournalDamageTest, AnotherProgramsDatabaseIsMovedAsideNotMigrated) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ExpectMovedAsideAndFresh(ReadFile(path()));
}

TEST_F(JournalDamageTest, AJournalWhoseTablesDoNotMatchItsVersionIsMovedAside) {
  WriteRows(1);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE processes; CREATE TABLE processes (id TEXT)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ExpectMovedAsideAndFresh(ReadFile(path()));
}

TEST_F(JournalDamageTest, AJournalFromANewerVersionIsRefusedAndLeftAsItIs) {
  WriteRows(3);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const std::string before = ReadFile(path());

  auto journal = Journal::Open(path());
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), base::Code::kFailedPrecondition);
  const std::string& message = journal.status().message();
  EXPECT_NE(message.find(path()), std::string::npos) << message;
  EXPECT_NE(message.find("schema version 7"), std::string::npos) << message;
  EXPECT_NE(message.find("newer"), std::string::npos) << message;
  EXPECT_TRUE(Aside().empty());
  EXPECT_EQ(ReadFile(path()), before);
}

TEST_F(JournalDamageTest, AnEmptyFileIsANewJournalNotDamage) {
  WriteFile(path(), "");
  auto journal = Journal::Open(path());
  ASSERT_TRUE(journal.ok()) << journal.status().message();
  EXPECT_TRUE(Aside().empty());
}

TEST_F(JournalDamageTest, AnUnopenableJournalIsAnErrorAndIsNotMovedAside) {
  fs::create_directory(path());  // a directory where the file should be
  auto journal = Journal::Open(path());
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), base::Code::kInternal);
  EXPECT_NE(journal.status().message().find(path()), std::string::npos);
  EXPECT_TRUE(Aside().empty());
}

TEST_F(JournalDamageTest, EveryDescriptorOfTheJournalIsCloseOnExec) {
  auto journal = Journal::Open(path());
  ASSERT_TRUE(journal.ok());
  (*journal)->RecordStart(Record(1));
  ASSERT_TRUE((*journal)->Flush().ok());
  int seen = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = fs::read_symlink(entry.path(), ec).string();
    if (ec || !target.starts_with(path())) continue;
    ++seen;
    const int fd = std::stoi(entry.path().filename().string());
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC) << target;
  }
  EXPECT_GE(seen, 2);  // the journal and its WAL at least
}

// A child writes and flushes, reporting each committed count on a pipe, until SIGKILLed.
// Returns the last count it reported.
int WriteUntilKilled(const std::string& path, int flushes_before_kill, bool kill_itself) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    auto journal = Journal::Open(path, {.sync_interval = std::chrono::milliseconds(1000000)});
    if (!journal.ok()) ::_exit(2);
    for (int batch = 0;; ++batch) {
      for (int i = 0; i < 10; ++i) (*journal)->RecordStart(Record(batch * 10 + i));
      if (batch > 0) {
        DoneRecord done;
        done.id = Record(batch * 10 - 1).id;
        done.ended_by = "exit";
        (*journal)->RecordDone(done);
      }
      if (!(*journal)->Flush().ok()) ::_exit(3);
      const int committed = batch * 10 + 10;
      if (::write(fds[1], &committed, sizeof committed) != sizeof committed) ::_exit(4);
      if (kill_itself && batch + 1 == flushes_before_kill) ::raise(SIGKILL);
    }
  }
  ::close(fds[1]);
  int last = 0, committed = 0, reports = 0;
  while (::read(fds[0], &committed, sizeof committed) == sizeof committed) {
    last = committed;
    if (!kill_itself && ++reports == flushes_before_kill) ::kill(child, SIGKILL);
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  return last;
}

TEST_F(JournalDamageTest, EveryFlushedRowSurvivesTheWriterKillingItselfMidWay) {
  const int committed = WriteUntilKilled(path(), 50, /*kill_itself=*/true);
  ASSERT_EQ(committed, 500);
  EXPECT_TRUE(fs::exists(path() + "-wal"));  // a hot WAL, not checkpointed at a close
  auto journal = Journal::Open(path());
  ASSERT_TRUE(journal.ok()) << journal.status().message();
  auto rows = (*journal)->LoadAll();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ((*rows)[i].id, Record(i).id);
  EXPECT_EQ((*rows)[489].ended_by, "exit");
  EXPECT_TRUE(Aside().empty());
  journal = base::Status(base::Code::kInternal, "closed");
  EXPECT_EQ(IntegrityCheck(path()), "ok");
}

TEST_F(JournalDamageTest, EveryFlushedRowSurvivesASigkillAtAnyMoment) {
  for (int round = 0; round < 5; ++round) {
    const int committed = WriteUntilKilled(path(), 20 + round * 37, /*kill_itself=*/false);
    ASSERT_GT(committed, 0);
    EXPECT_EQ(IntegrityCheck(path()), "ok");
    auto journal = Journal::Open(path());
    ASSERT_TRUE(journal.ok()) << journal.status().message();
    auto rows = (*journal)->LoadAll();
    ASSERT_TRUE(rows.ok());
    // What the child reported is committed; it may have committed a batch more before dying.
    EXPECT_GE(rows->size(), static_cast<std::size_t>(committed));
    EXPECT_LE(rows->size(), static_cast<std::size_t>(committed) + 10);
    EXPECT_TRUE(Aside().empty());
    journal = base::Status(base::Code::kInternal, "closed");
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path() + suffix);
  }
}

}  // namespace
}  // namespace corral::store
