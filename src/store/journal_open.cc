// Opening a journal: telling a damaged file from an unusable one, moving damage aside, and the
// schema's versioned migrations.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "store/journal.h"

namespace corral::store {
namespace {

// "corl" in PRAGMA application_id marks a file as a corral journal, so that another program's
// database at this path is recognised as not ours (and moved aside) instead of migrated.
constexpr int kApplicationId = 0x636f726c;

// Version 1: one row per process. `seq` gives the start order. Neither foreign keys nor
// triggers: every write touches one row by id.
int CreateVersion1(sqlite3* db) {
  return sqlite3_exec(db, R"sql(
    CREATE TABLE processes (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      chat_id TEXT NOT NULL,
      command TEXT NOT NULL,
      workdir TEXT NOT NULL,
      background INTEGER NOT NULL,
      stdin_mode TEXT NOT NULL,
      tty_rows INTEGER NOT NULL,
      tty_cols INTEGER NOT NULL,
      timeout_ms INTEGER NOT NULL,
      started_at_ms INTEGER NOT NULL,
      exited_at_ms INTEGER,
      done_at_ms INTEGER,
      exit_code INTEGER,
      exit_signal INTEGER NOT NULL,
      ended_by TEXT NOT NULL,
      pid INTEGER NOT NULL,
      pgid INTEGER NOT NULL,
      leader_start_time INTEGER NOT NULL,
      instance TEXT NOT NULL,
      cgroup TEXT NOT NULL,
      total_bytes INTEGER NOT NULL,
      spool_error TEXT NOT NULL,
      idempotency_key TEXT,
      request_digest TEXT NOT NULL
    );
    CREATE UNIQUE INDEX processes_by_key ON processes (chat_id, idempotency_key)
      WHERE idempotency_key IS NOT NULL;
    CREATE INDEX processes_running ON processes (instance) WHERE done_at_ms IS NULL;
  )sql",
                      nullptr, nullptr, nullptr);
}

// kMigrations[v] takes a journal from schema version v to v + 1, inside a transaction that also
// sets the new version; version 0 is an empty file. A new version appends its function here.
using Migration = int (*)(sqlite3*);
constexpr std::array<Migration, Journal::kSchemaVersion> kMigrations = {CreateVersion1};

// Result codes that mean the file is not a readable journal, as opposed to one we may not open
// or write (permissions, a full disk), which is reported and never moved aside.
bool IsDamage(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
    case SQLITE_ERROR:  // a statement our schema should accept failed: not our schema
    case SQLITE_SCHEMA:
    case SQLITE_MISMATCH:
    case SQLITE_CONSTRAINT:
      return true;
    default:
      return rc == SQLITE_IOERR_SHORT_READ;  // truncated
  }
}

// Runs `sql` and collects the first column of every row it returns.
int Run(sqlite3* db, const char* sql, std::vector<std::string>* rows = nullptr) {
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &statement, nullptr);
  if (rc != SQLITE_OK) return rc;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    if (rows) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
      rows->emplace_back(text ? text : "");
    }
  }
  sqlite3_finalize(statement);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

// One integer a statement answers (a pragma or a count); -1 when it fails.
std::int64_t RunInteger(sqlite3* db, const char* sql, int& rc) {
  std::vector<std::string> rows;
  rc = Run(db, sql, &rows);
  if (rc != SQLITE_OK || rows.empty()) return -1;
  return std::strtoll(rows.front().c_str(), nullptr, 10);
}

// The first problem PRAGMA quick_check reports, which says enough: a badly damaged file yields
// hundreds, in one row or many, after a "*** in database main ***" title.
std::string FirstComplaint(const std::vector<std::string>& rows) {
  for (const auto& row : rows) {
    std::size_t start = 0;
    while (start < row.size()) {
      const std::size_t end = std::min(row.find('\n', start), row.size());
      std::string line = row.substr(start, end - start);
      if (!line.empty() && !line.starts_with("***")) return line.substr(0, 200);
      start = end + 1;
    }
  }
  return "no answer";
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Renames the journal and its -wal and -shm to `<path>.corrupt-<unix time>[-n]`, returning
// the new name of the journal.
base::Result<std::string> MoveAside(const std::string& path) {
  std::string aside = path + ".corrupt-" + std::to_string(base::UnixNow());
  for (int n = 2; Exists(aside) || Exists(aside + "-wal"); ++n) {
    aside = path + ".corrupt-" + std::to_string(base::UnixNow()) + "-" + std::to_string(n);
  }
  for (const char* suffix : {"-wal", "-shm", ""}) {
    const std::string from = path + suffix;
    if (::rename(from.c_str(), (aside + suffix).c_str()) != 0 && errno != ENOENT) {
      return base::Status(base::Code::kInternal,
                          "cannot move damaged journal " + from + " aside: " + strerror(errno));
    }
  }
  return aside;
}

}  // namespace

base::Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path,
                                                     JournalOptions options) {
  // One attempt at opening `path`: the journal; or `damage` says why the file is not one; or
  // `error` says why it could not be used.
  struct Attempt {
    std::unique_ptr<Journal> journal;
    std::string damage;
    base::Status error;
    static Attempt Damaged(std::string reason) { return {nullptr, std::move(reason), {}}; }
    static Attempt Failed(base::Status error) { return {nullptr, "", std::move(error)}; }
  };
  auto attempt = [&]() -> Attempt {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(
        path.c_str(), &raw,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
        nullptr);
    Database db(raw);
    auto failed = [&](std::string_view step) -> Attempt {
      std::string reason = std::string(step) + ": " + sqlite3_errstr(rc);
      if (db && std::string_view(sqlite3_errmsg(db.get())) != sqlite3_errstr(rc)) {
        reason += std::string(" (") + sqlite3_errmsg(db.get()) + ")";
      }
      if (IsDamage(rc)) return Attempt::Damaged(reason);
      return Attempt::Failed(
          {base::Code::kInternal, "cannot open journal " + path + ": " + reason});
    };
    if (rc != SQLITE_OK) return failed("open");
    if (sqlite3_db_readonly(db.get(), "main") == 1) {  // SQLite falls back to read-only quietly
      return Attempt::Failed(
          {base::Code::kInternal, "cannot open journal " + path + ": it is not writable"});
    }
    sqlite3_busy_timeout(db.get(), static_cast<int>(options.busy_timeout.count()));
    // Until the file is known good, closing it must not delete its -wal (SQLite does when the
    // last connection closes): the WAL of a damaged journal is moved aside with it.
    int persist_wal = 1;
    sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);

    // Reading the schema reads the header: garbage fails here with "file is not a database".
    int tables = static_cast<int>(RunInteger(db.get(), "SELECT count(*) FROM sqlite_schema", rc));
    if (rc != SQLITE_OK) return failed("reading the schema");
    std::vector<std::string> rows;
    if ((rc = Run(db.get(), "PRAGMA quick_check", &rows)) != SQLITE_OK) {
      return failed("quick_check");
    }
    if (rows.size() != 1 || rows.front() != "ok") {
      return Attempt::Damaged("quick_check: " + FirstComplaint(rows));
    }
    const auto application_id = RunInteger(db.get(), "PRAGMA application_id", rc);
    if (rc != SQLITE_OK) return failed("reading application_id");
    const auto version = RunInteger(db.get(), "PRAGMA user_version", rc);
    if (rc != SQLITE_OK) return failed("reading user_version");
    const bool empty = tables == 0 && version == 0 && application_id == 0;
    if (!empty && application_id != kApplicationId) {
      return Attempt::Damaged("not a corral journal (application_id " +
                              std::to_string(application_id) + ", " + std::to_string(tables) +
                              " tables)");
    }
    if (version > kSchemaVersion) {
      return Attempt::Failed({base::Code::kFailedPrecondition,
                              "journal " + path + " has schema version " + std::to_string(version) +
                                  ", newer than version " + std::to_string(kSchemaVersion) +
                                  " that this corral knows: run a newer corral, or use another "
                                  "--state-dir"});
    }

    rows.clear();
    if ((rc = Run(db.get(), "PRAGMA journal_mode = WAL", &rows)) != SQLITE_OK) {
      return failed("setting WAL mode");
    }
    if (rows.empty() || rows.front() != "wal") {
      return Attempt::Failed(
          {base::Code::kInternal, "cannot open journal " + path + ": the file system has no WAL"});
    }
    for (auto v = version; v < kSchemaVersion; ++v) {
      const std::string set_version = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                                      "; PRAGMA user_version = " + std::to_string(v + 1);
      if ((rc = Run(db.get(), "BEGIN IMMEDIATE")) != SQLITE_OK) return failed("migrating");
      if ((rc = kMigrations[v](db.get())) != SQLITE_OK ||
          (rc = sqlite3_exec(db.get(), set_version.c_str(), nullptr, nullptr, nullptr)) !=
              SQLITE_OK ||
          (rc = Run(db.get(), "COMMIT")) != SQLITE_OK) {
        Attempt result = failed("migrating to version " + std::to_string(v + 1));
        Run(db.get(), "ROLLBACK");
        return result;
      }
    }
    // journal_size_limit: after a checkpoint the WAL is cut back to 4 MiB rather than keeping
    // the size of its largest burst.
    if ((rc = Run(db.get(), "PRAGMA synchronous = NORMAL")) != SQLITE_OK ||
        (rc = Run(db.get(), "PRAGMA journal_size_limit = 4194304")) != SQLITE_OK) {
      return failed("setting synchronous");
    }
    persist_wal = 0;
    sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
    auto journal = std::unique_ptr<Journal>(new Journal(path, std::move(db), options));
    if (auto status = journal->Prepare(); !status.ok()) {
      // A statement of ours that does not compile against the file's tables: not our schema.
      rc = sqlite3_extended_errcode(journal->db_.get());
      if (IsDamage(rc)) return Attempt::Damaged("schema does not match: " + status.message());
      return Attempt::Failed(status);
    }
    return {std::move(journal), "", {}};
  };

  Attempt first = attempt();
  if (first.journal || !first.error.ok()) {
    if (first.journal) return std::move(first.journal);
    return first.error;
  }
  auto aside = MoveAside(path);
  if (!aside.ok()) return aside.status();
  base::LogWarning("journal " + path + " is damaged (" + first.damage + "); moved it aside to " +
                   *aside + " and started a fresh journal");
  Attempt fresh = attempt();
  if (fresh.journal) return std::move(fresh.journal);
  if (!fresh.error.ok()) return fresh.error;
  return base::Status(base::Code::kInternal,
                      "cannot create a fresh journal " + path + ": " + fresh.damage);
}

}  // namespace corral::store
