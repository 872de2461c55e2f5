#include "store/journal.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "temp_dir.h"

namespace corral::store {

// Read by GoogleTest (found by argument-dependent lookup) to print a failing comparison.
void PrintTo(const ProcessRecord& r, std::ostream* os) {
  *os << "{id " << r.id << ", chat " << r.chat_id << ", command " << r.command << ", workdir "
      << r.workdir << ", background " << r.background << ", stdin " << r.stdin_mode << ", tty "
      << r.tty_rows << "x" << r.tty_cols << ", timeout " << r.timeout_ms << ", started "
      << r.started_at_ms << ", exited " << r.exited_at_ms.value_or(-1) << ", done "
      << r.done_at_ms.value_or(-1) << ", exit " << r.exit_code.value_or(-999) << ", signal "
      << r.exit_signal << ", ended_by " << r.ended_by << ", pid " << r.pid << ", pgid " << r.pgid
      << ", start time " << r.leader_start_time << ", instance " << r.instance << ", cgroup "
      << r.cgroup << ", total " << r.total_bytes << ", spool error " << r.spool_error << ", key "
      << r.idempotency_key << ", digest " << r.request_digest << "}";
}

namespace {

// A record with every field set to something other than its default.
ProcessRecord FullRecord(const std::string& id) {
  ProcessRecord r;
  r.id = id;
  r.chat_id = "3b241101-e2bb-4255-8caf-4136c566a962";
  r.command = "printf 'h\xc3\xa9llo\\n' | sed s/l/L/; echo \"quoted\" 'and' $HOME";
  r.workdir = "/tmp/work dir";
  r.background = true;
  r.stdin_mode = "tty";
  r.tty_rows = 40;
  r.tty_cols = 132;
  r.timeout_ms = 90000;
  r.started_at_ms = 1764430000123;
  r.pid = 4242;
  r.pgid = 4242;
  r.leader_start_time = 123456789012ULL;
  r.instance = "instance-a";
  r.cgroup = "/sys/fs/cgroup/unified/corral/" + id;
  r.total_bytes = 7;
  r.spool_error = "";
  r.idempotency_key = "key-" + id;
  r.request_digest = std::string(64, 'f');
  return r;
}

DoneRecord Done(const std::string& id) {
  return {.id = id,
          .exit_code = -1,
          .exit_signal = 9,
          .ended_by = "client",
          .exited_at_ms = 1764430001000,
          .done_at_ms = 1764430001500,
          .total_bytes = 5ull << 30,  // past 32 bits
          .spool_error = "spool write failed: No space left on device"};
}

class JournalTest : public ::testing::Test {
 protected:
  std::unique_ptr<Journal> OpenJournal(JournalOptions options = {}) {
    auto journal = Journal::Open(path(), options);
    EXPECT_TRUE(journal.ok()) << journal.status().message();
    return journal.ok() ? std::move(*journal) : nullptr;
  }
  std::vector<ProcessRecord> LoadAll(Journal& journal) {
    auto rows = journal.LoadAll();
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() ? *rows : std::vector<ProcessRecord>{};
  }
  std::string path() const { return dir_.path() + "/journal.db"; }

  TempDir dir_;
};

TEST_F(JournalTest, RoundTripsEveryFieldOfARunningProcessAcrossReopen) {
  const ProcessRecord record = FullRecord("a");
  {
    auto journal = OpenJournal();
    journal->RecordStart(record);
    ASSERT_TRUE(journal->Flush().ok());
  }
  auto journal = OpenJournal();
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], record);
  EXPECT_TRUE(rows[0].running());
  EXPECT_FALSE(rows[0].exit_code.has_value());
  EXPECT_FALSE(rows[0].exited_at_ms.has_value());
}

TEST_F(JournalTest, RoundTripsADoneStateWrittenInALaterBatch) {
  ProcessRecord expected = FullRecord("a");
  {
    auto journal = OpenJournal();
    journal->RecordStart(expected);
    ASSERT_TRUE(journal->Flush().ok());
    journal->RecordDone(Done("a"));
    ASSERT_TRUE(journal->Flush().ok());
  }
  expected.exit_code = -1;
  expected.exit_signal = 9;
  expected.ended_by = "client";
  expected.exited_at_ms = 1764430001000;
  expected.done_at_ms = 1764430001500;
  expected.total_bytes = 5ull << 30;
  expected.spool_error = "spool write failed: No space left on device";
  auto journal = OpenJournal();
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], expected);
  EXPECT_FALSE(rows[0].running());
}

TEST_F(JournalTest, StartAndDoneQueuedInOneTurnWriteOneFinishedRow) {
  auto journal = OpenJournal();
  journal->RecordStart(FullRecord("a"));
  journal->RecordDone(Done("a"));
  EXPECT_EQ(journal->pending(), 1u);
  ASSERT_TRUE(journal->Flush().ok());
  EXPECT_EQ(journal->pending(), 0u);
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].ended_by, "client");
  EXPECT_EQ(rows[0].done_at_ms, 1764430001500);
  EXPECT_EQ(rows[0].command, FullRecord("a").command);
}

TEST_F(JournalTest, ManyRecordsCommitInOneFlushInStartOrder) {
  auto journal = OpenJournal();
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    ids.push_back("p" + std::to_string(i * 7919 % 2000));  // ids in no sorted order
    journal->RecordStart(FullRecord(ids.back()));
  }
  for (int i = 0; i < 2000; i += 2) journal->RecordDone(Done(ids[i]));
  EXPECT_EQ(journal->pending(), 2000u);
  ASSERT_TRUE(journal->Flush().ok());
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(rows[i].id, ids[i]);
    EXPECT_EQ(rows[i].running(), i % 2 == 1);
  }
}

TEST_F(JournalTest, LockedDatabaseFailsTheFlushAndKeepsTheWholeBatchForTheNext) {
  auto journal = OpenJournal({.sync_interval = std::chrono::milliseconds(1000),
                              .busy_timeout = std::chrono::milliseconds(50)});
  journal->RecordStart(FullRecord("committed"));
  ASSERT_TRUE(journal->Flush().ok());

  // Another connection (a person's sqlite3 shell) holds the write lock.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  for (int i = 0; i < 10; ++i) journal->RecordStart(FullRecord("q" + std::to_string(i)));
  journal->RecordDone(Done("committed"));
  auto status = journal->Flush();
  EXPECT_EQ(status.code(), base::Code::kUnavailable) << status.message();
  EXPECT_NE(status.message().find("journal.db"), std::string::npos) << status.message();
  EXPECT_EQ(journal->pending(), 11u);

  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ASSERT_TRUE(journal->Flush().ok());
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), 11u);
  EXPECT_EQ(rows[0].ended_by, "client");
  EXPECT_EQ(rows[10].id, "q9");
}

TEST_F(JournalTest, ForgetDeletesTheRowAndAStartForgottenBeforeAnyFlushIsNeverWritten) {
  auto journal = OpenJournal();
  journal->RecordStart(FullRecord("kept"));
  journal->RecordStart(FullRecord("forgotten"));
  ASSERT_TRUE(journal->Flush().ok());
  journal->RecordForget("forgotten");
  journal->RecordStart(FullRecord("brief"));
  journal->RecordDone(Done("brief"));
  journal->RecordForget("brief");
  EXPECT_EQ(journal->pending(), 1u);  // only the delete of "forgotten"
  journal->RecordForget("never-existed");
  journal->RecordDone(Done("forgotten"));  // after its forget: ignored
  ASSERT_TRUE(journal->Flush().ok());
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, "kept");
}

TEST_F(JournalTest, OutputTotalsRecordedAfterTheDoneStateReplaceItsOwn) {
  auto journal = OpenJournal();
  journal->RecordStart(FullRecord("a"));
  journal->RecordStart(FullRecord("b"));
  ASSERT_TRUE(journal->Flush().ok());
  journal->RecordDone(Done("a"));
  ASSERT_TRUE(journal->Flush().ok());
  journal->RecordOutput("a", 12345, "");  // leftovers wrote on after the done state
  journal->RecordDone(Done("b"));
  journal->RecordOutput("b", 99, "truncated");  // merges into b's queued done state
  ASSERT_TRUE(journal->Flush().ok());
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].total_bytes, 12345u);
  EXPECT_EQ(rows[0].spool_error, "");
  EXPECT_EQ(rows[0].ended_by, "client");
  EXPECT_EQ(rows[1].total_bytes, 99u);
  EXPECT_EQ(rows[1].spool_error, "truncated");
  EXPECT_EQ(rows[1].ended_by, "client");
}

TEST_F(JournalTest, RunningRowsOfOtherInstancesAreWhatRecoveryMarksLost) {
  auto journal = OpenJournal();
  for (const char* id : {"old-running", "old-done", "new-running", "old-running-2"}) {
    ProcessRecord r = FullRecord(id);
    r.instance = std::string(id).starts_with("old") ? "dead-instance" : "this-instance";
    journal->RecordStart(r);
  }
  journal->RecordDone(Done("old-done"));
  auto running = journal->LoadRunning("this-instance");
  ASSERT_TRUE(running.ok()) << running.status().message();
  ASSERT_EQ(running->size(), 2u);
  EXPECT_EQ((*running)[0].id, "old-running");
  EXPECT_EQ((*running)[1].id, "old-running-2");

  for (const auto& r : *running) journal->RecordLost(r.id, 1764430009000, 77);
  ASSERT_TRUE(journal->Flush().ok());
  EXPECT_TRUE(journal->LoadRunning("this-instance")->empty());
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].ended_by, "lost");
  EXPECT_EQ(rows[0].exit_code, -1);
  EXPECT_EQ(rows[0].exit_signal, 0);
  EXPECT_EQ(rows[0].exited_at_ms, 1764430009000);
  EXPECT_EQ(rows[0].done_at_ms, 1764430009000);
  EXPECT_EQ(rows[0].total_bytes, 77u);
  EXPECT_TRUE(rows[2].running());
}

TEST_F(JournalTest, IdempotencyKeysAreFoundPerChatUntilForgottenAndAcrossReopen) {
  {
    auto journal = OpenJournal();
    ProcessRecord a = FullRecord("a");
    a.chat_id = "chat-a";
    a.idempotency_key = "k1";
    ProcessRecord b = FullRecord("b");
    b.chat_id = "";
    b.idempotency_key = "k1";
    ProcessRecord c = FullRecord("c");
    c.chat_id = "chat-a";
    c.idempotency_key = "";
    journal->RecordStart(a);
    journal->RecordStart(b);
    journal->RecordStart(c);
    // Queued records are visible to a lookup: it flushes first.
    auto found = journal->FindByIdempotencyKey("chat-a", "k1");
    ASSERT_TRUE(found.ok()) << found.status().message();
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->id, "a");
  }
  auto journal = OpenJournal();
  EXPECT_EQ((*journal->FindByIdempotencyKey("chat-a", "k1"))->id, "a");
  EXPECT_EQ((*journal->FindByIdempotencyKey("", "k1"))->id, "b");
  EXPECT_FALSE(journal->FindByIdempotencyKey("chat-b", "k1")->has_value());
  EXPECT_FALSE(journal->FindByIdempotencyKey("chat-a", "k2")->has_value());
  EXPECT_FALSE(journal->FindByIdempotencyKey("chat-a", "")->has_value());  // c has no key
  EXPECT_EQ((*journal->FindByIdempotencyKey(std::string_view(), "k1"))->id, "b");
  journal->RecordForget("a");
  EXPECT_FALSE(journal->FindByIdempotencyKey("chat-a", "k1")->has_value());
}

TEST_F(JournalTest, ASecondHolderOfAKeyInOneChatIsJournaledWithoutItAndTheFirstKeepsIt) {
  auto journal = OpenJournal();
  ProcessRecord first = FullRecord("first");
  first.idempotency_key = "same";
  ProcessRecord second = FullRecord("second");
  second.idempotency_key = "same";
  journal->RecordStart(first);
  ASSERT_TRUE(journal->Flush().ok());
  journal->RecordStart(second);
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(journal->Flush().ok());
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("second"), std::string::npos);
  EXPECT_EQ((*journal->FindByIdempotencyKey(first.chat_id, "same"))->id, "first");
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].id, "second");
  EXPECT_EQ(rows[1].idempotency_key, "");
}

TEST_F(JournalTest, RecordsQueuedAtDestructionAreCommitted) {
  {
    auto journal = OpenJournal();
    journal->RecordStart(FullRecord("a"));
  }
  auto journal = OpenJournal();
  EXPECT_EQ(LoadAll(*journal).size(), 1u);
}

TEST_F(JournalTest, CommitsBetweenSyncsAreUnsyncedUntilSync) {
  auto journal = OpenJournal(
      {.sync_interval = std::chrono::hours(1), .busy_timeout = std::chrono::milliseconds(1000)});
  EXPECT_FALSE(journal->unsynced());
  journal->RecordStart(FullRecord("a"));
  ASSERT_TRUE(journal->Flush().ok());
  EXPECT_FALSE(journal->unsynced());  // the first commit is synced
  journal->RecordStart(FullRecord("b"));
  ASSERT_TRUE(journal->Flush().ok());
  EXPECT_TRUE(journal->unsynced());  // within the hour: not synced
  ASSERT_TRUE(journal->Sync().ok());
  EXPECT_FALSE(journal->unsynced());
  EXPECT_TRUE(journal->Sync().ok());  // nothing to do
}

TEST_F(JournalTest, EverySyncIntervalSettingCommits) {
  for (int interval : {0, 1, 1000000}) {
    std::remove(path().c_str());
    auto journal = OpenJournal({.sync_interval = std::chrono::milliseconds(interval)});
    for (int i = 0; i < 5; ++i) {
      journal->RecordStart(FullRecord(std::to_string(i)));
      ASSERT_TRUE(journal->Flush().ok());
    }
    EXPECT_EQ(LoadAll(*journal).size(), 5u) << interval;
  }
}

TEST_F(JournalTest, ARepeatedStartOfOneIdReplacesItsRowInsteadOfFailingEveryLaterFlush) {
  auto journal = OpenJournal();
  journal->RecordStart(FullRecord("a"));
  ASSERT_TRUE(journal->Flush().ok());
  ProcessRecord again = FullRecord("a");
  again.command = "second";
  journal->RecordStart(again);
  ASSERT_TRUE(journal->Flush().ok());
  journal->RecordStart(FullRecord("b"));
  ASSERT_TRUE(journal->Flush().ok());
  auto rows = LoadAll(*journal);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].command, "second");
}

// Timings are printed, never asserted: the machine is shared.
TEST_F(JournalTest, ReportsReopenTimeWith1024RememberedProcesses) {
  using Clock = std::chrono::steady_clock;
  {
    auto journal = OpenJournal();
    for (int i = 0; i < 1024; ++i) {
      journal->RecordStart(FullRecord(std::to_string(i)));
      journal->RecordDone(Done(std::to_string(i)));
    }
    ASSERT_TRUE(journal->Flush().ok());
  }
  const auto t0 = Clock::now();
  auto journal = OpenJournal();
  const auto t1 = Clock::now();
  auto rows = LoadAll(*journal);
  const auto t2 = Clock::now();
  EXPECT_EQ(rows.size(), 1024u);
  std::printf(
      "[ journal  ] reopen with 1,024 rows: open and quick_check %.1f ms, LoadAll %.1f ms\n",
      std::chrono::duration<double, std::milli>(t1 - t0).count(),
      std::chrono::duration<double, std::milli>(t2 - t1).count());
}

// Timings are printed, never asserted: the machine is shared.
TEST_F(JournalTest, ReportsCommitTimes) {
  using Clock = std::chrono::steady_clock;
  auto journal = OpenJournal();
  std::vector<double> single_us;
  for (int i = 0; i < 300; ++i) {
    journal->RecordStart(FullRecord("single-" + std::to_string(i)));
    const auto t0 = Clock::now();
    ASSERT_TRUE(journal->Flush().ok());
    single_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(single_us.begin(), single_us.end());

  // 1,000 starts in one second arrive as batches of a loop turn: 10 turns of 100 here.
  const auto t0 = Clock::now();
  for (int turn = 0; turn < 10; ++turn) {
    for (int i = 0; i < 100; ++i) {
      journal->RecordStart(FullRecord("batch-" + std::to_string(turn * 100 + i)));
    }
    ASSERT_TRUE(journal->Flush().ok());
  }
  const double batch_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::printf(
      "[ journal  ] one-row commit: median %.0f us, p90 %.0f us, max %.0f us; "
      "1,000 starts in 10 commits: %.1f ms\n",
      single_us[single_us.size() / 2], single_us[single_us.size() * 9 / 10], single_us.back(),
      batch_ms);
  EXPECT_EQ(LoadAll(*journal).size(), 1300u);
}

}  // namespace
}  // namespace corral::store
