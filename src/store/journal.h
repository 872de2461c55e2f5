#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace corral::store {

// One process as the journal remembers it (DESIGN §7.4). Never an environment value: the
// request's env only enters through `request_digest`, a one-way SHA-256.
struct ProcessRecord {
  std::string id;       // the process's uuid
  std::string chat_id;  // canonical chat uuid; empty: started without a chat
  std::string command;
  std::string workdir;  // resolved
  bool background = false;
  std::string stdin_mode = "null";  // "null", "pipe" or "tty"
  int tty_rows = 0;                 // 0 and 0 when not on a terminal
  int tty_cols = 0;
  std::int64_t timeout_ms = 0;               // 0: no deadline
  std::int64_t started_at_ms = 0;            // unix time in ms
  std::optional<std::int64_t> exited_at_ms;  // unix ms; unset while running
  std::optional<std::int64_t> done_at_ms;    // unix ms it was reported done; retention counts
                                             // from it; unset while running
  std::optional<int> exit_code;              // as reported (-1 for a signal or lost); unset
                                             // while running
  int exit_signal = 0;                       // terminating signal number; 0 for none
  std::string ended_by;                      // "exit", "signal", "client", "deadline",
                                             // "shutdown", "lost"; empty while running
  std::int64_t pid = 0;                      // the leader (the shell); 0 if unknown
  std::int64_t pgid = 0;                     // its process group
  std::uint64_t leader_start_time = 0;       // /proc/PID/stat field 22 of the leader
  std::string instance;                      // CORRAL_INSTANCE of the server that ran it
  std::string cgroup;                        // its cgroup's path; empty when none
  std::uint64_t total_bytes = 0;             // output bytes written to the spool
  std::string spool_error;                   // why the spool is incomplete; empty when whole
  std::string idempotency_key;               // empty: started without one
  std::string request_digest;                // store::RequestDigest of the request; may be
                                             // empty when there is no key

  bool running() const { return !done_at_ms.has_value(); }
  bool operator==(const ProcessRecord&) const = default;
};

// A process reported done (RecordDone); the fields mean what ProcessRecord's do.
struct DoneRecord {
  std::string id;
  int exit_code = 0;
  int exit_signal = 0;
  std::string ended_by;
  std::int64_t exited_at_ms = 0;
  std::int64_t done_at_ms = 0;
  std::uint64_t total_bytes = 0;
  std::string spool_error;
};

struct JournalOptions {
  // Commits write the WAL without fsync (synchronous=NORMAL); the first commit after this long
  // since the last synced one is synced (synchronous=FULL for that one transaction), which makes
  // every earlier commit durable too. It bounds what a power loss may cost. Zero: every commit
  // is synced.
  std::chrono::milliseconds sync_interval{1000};
  // How long a commit waits for a lock held by another connection (a person's `sqlite3` shell
  // reading the file) before Flush fails with kUnavailable. Short: Flush runs on the event loop.
  std::chrono::milliseconds busy_timeout{1000};
};

// The SQLite journal of every remembered process: one row per process, written at start, at
// done and at forget (the row is deleted: a forgotten process is gone, with its idempotency
// key). Single-threaded: one object, used from one thread.
//
// Writes only queue in memory; Flush() commits everything queued in one transaction. The
// caller flushes once per event-loop turn, and before it answers a start or reports a done
// state, which gives DESIGN §7.4's promise: an answered start and a reported done state are
// committed first.
//
// Durability: the journal is in WAL mode with synchronous=NORMAL. A commit that Flush reported
// survives the death of the process (SIGKILL, OOM kill, a crash): it is in the WAL, in the OS's
// page cache. A power loss or kernel crash may lose the commits made since the last synced one,
// at most `sync_interval` of them (1 s by default; see unsynced() for quiet periods), and never
// corrupts the journal: WAL frames are checksummed and a torn tail is dropped at the next open.
//
// A queued write is kept until a Flush commits it: a failed Flush rolls back and keeps every
// queued record for the next one. The queue holds at most one entry per process (a start and
// its done state merge; a start forgotten before any commit is never written), so it is bounded
// by the processes touched since the last successful Flush.
class Journal {
 public:
  // The schema version this build writes. A journal whose `PRAGMA user_version` is higher
  // comes from a newer corral and is refused rather than rewritten.
  static constexpr int kSchemaVersion = 1;

  // Opens the journal at `path`, creating it if missing and migrating it to kSchemaVersion.
  // A file that is not a readable journal (garbage, truncated, corrupt, failing `PRAGMA
  // quick_check`, another program's database) is damaged: it is renamed to
  // `<path>.corrupt-<unix time>` (with its -wal and -shm), its new name and the reason are
  // logged with base::LogWarning, and a fresh journal is created in its place.
  // Errors: kFailedPrecondition, with a message fit to exit with, for a journal of a newer
  // schema version (the file is left as it is); kInternal when the file cannot be opened,
  // moved or created (permissions, a full disk).
  static base::Result<std::unique_ptr<Journal>> Open(const std::string& path,
                                                     JournalOptions options = {});

  // Flushes what is queued (a failure is logged) and closes the database.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Queue a start. REQUIRES: no remembered row has record.id (one that does is replaced rather
  // than left to fail every later Flush). If another remembered process of
  // the same chat already holds record.idempotency_key, the row is written without the key (the
  // first holder keeps it; the caller looks the key up before starting anything) and a warning
  // is logged.
  void RecordStart(const ProcessRecord& record);
  // Queue a done state.
  void RecordDone(const DoneRecord& done);
  // Queue the spool's final state after a done process's pipe reached end of file (leftovers
  // may write after the done state was reported).
  void RecordOutput(std::string_view id, std::uint64_t total_bytes, std::string_view spool_error);
  // Queue "ran under a dead server": exit_code -1, no signal, ended_by "lost", exited and done
  // at `at_ms`.
  void RecordLost(std::string_view id, std::int64_t at_ms, std::uint64_t total_bytes = 0);
  // Queue the deletion of the process's row; records queued for it after this are ignored.
  // Forgetting an unknown id changes nothing.
  void RecordForget(std::string_view id);

  // Commits every queued record in one transaction. Never throws. Errors: kUnavailable when
  // the database stayed locked for busy_timeout; kInternal for I/O errors (a full disk). On an
  // error nothing of the batch is committed and everything stays queued.
  base::Status Flush();
  // Processes with queued records.
  std::size_t pending() const { return pending_.size(); }

  // True when some commit is not yet synced to disk (a power loss could still take it). The
  // caller keeps the durability promise through quiet periods: when a Flush leaves this true,
  // it calls Sync() sync_interval later (a busy journal syncs itself within its flushes).
  bool unsynced() const { return unsynced_; }
  // Makes every commit durable now (one fdatasync of the WAL); nothing to do when !unsynced().
  // Errors: kInternal when the OS refuses; the commits stay unsynced.
  base::Status Sync();

  // Reads see every record queued before them: they Flush first, and fail with its error.
  // Every remembered process, in start order.
  base::Result<std::vector<ProcessRecord>> LoadAll();
  // The remembered process of `chat_id` (empty: no chat) started with `key`, if any.
  base::Result<std::optional<ProcessRecord>> FindByIdempotencyKey(std::string_view chat_id,
                                                                  std::string_view key);
  // The processes not reported done whose instance is not `except_instance`: what a dead server
  // left running, which recovery must end and RecordLost. In start order.
  base::Result<std::vector<ProcessRecord>> LoadRunning(std::string_view except_instance);

  struct DatabaseCloser {
    void operator()(sqlite3* db) const;
  };
  struct StatementFinalizer {
    void operator()(sqlite3_stmt* statement) const;
  };
  using Database = std::unique_ptr<sqlite3, DatabaseCloser>;
  using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

 private:
  // What is queued for one process. `row` is a start not yet committed, with any later done
  // state applied to it; otherwise the updates for a committed row.
  struct Pending {
    std::optional<ProcessRecord> row;
    std::optional<DoneRecord> done;
    std::optional<std::pair<std::uint64_t, std::string>> output;  // total bytes, spool error
    bool forget = false;
    std::uint64_t order = 0;  // start order within the queue
  };

  Journal(std::string path, Database db, JournalOptions options);
  base::Status Prepare();
  Pending& Touch(std::string_view id);
  base::Status WriteBatch();
  base::Status Insert(const ProcessRecord& row);
  base::Status Execute(sqlite3_stmt* statement);
  base::Status Error(std::string_view what) const;
  base::Result<std::vector<ProcessRecord>> Query(sqlite3_stmt* statement);

  std::string path_;
  Database db_;
  JournalOptions options_;
  std::unordered_map<std::string, Pending> pending_;
  std::uint64_t next_order_ = 0;
  base::SteadyClock::time_point last_sync_{};
  bool synced_ever_ = false;
  bool unsynced_ = false;

  Statement begin_, commit_, rollback_, sync_full_, sync_normal_;
  Statement insert_, update_done_, update_output_, delete_;
  Statement select_all_, select_by_key_, select_running_;
};

}  // namespace corral::store
