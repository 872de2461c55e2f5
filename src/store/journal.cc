#include "store/journal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/unique_fd.h"

namespace corral::store {
namespace {

// The columns of a row, in the order every statement binds and reads them.
constexpr std::array<std::string_view, 25> kColumns = {
    "id",           "chat_id",     "command",           "workdir",        "background",
    "stdin_mode",   "tty_rows",    "tty_cols",          "timeout_ms",     "started_at_ms",
    "exited_at_ms", "done_at_ms",  "exit_code",         "exit_signal",    "ended_by",
    "pid",          "pgid",        "leader_start_time", "instance",       "cgroup",
    "total_bytes",  "spool_error", "idempotency_key",   "request_digest", "seq"};
constexpr int kWrittenColumns = 24;  // every column but seq, which SQLite assigns in start order

std::string ColumnList(int count) {
  std::string list;
  for (int i = 0; i < count; ++i) {
    if (i) list += ", ";
    list += kColumns[i];
  }
  return list;
}

std::string InsertSql() {
  std::string sql = "INSERT INTO processes (" + ColumnList(kWrittenColumns) + ") VALUES (";
  for (int i = 0; i < kWrittenColumns; ++i) sql += i ? ", ?" : "?";
  // A second start with an id already remembered is a caller's bug; it replaces the row rather
  // than failing every later batch.
  sql += ") ON CONFLICT(id) DO UPDATE SET ";
  for (int i = 1; i < kWrittenColumns; ++i) {
    if (i > 1) sql += ", ";
    sql += std::string(kColumns[i]) + " = excluded." + std::string(kColumns[i]);
  }
  return sql;
}

std::string SelectSql(std::string_view where) {
  return "SELECT " + ColumnList(static_cast<int>(kColumns.size())) + " FROM processes " +
         std::string(where) + " ORDER BY seq";
}

void BindText(sqlite3_stmt* s, int i, std::string_view text) {
  // A null pointer would bind SQL NULL, which equals nothing: an empty view is the empty text.
  // SQLITE_STATIC: every bound string outlives the statement's step and reset.
  sqlite3_bind_text(s, i, text.data() ? text.data() : "", static_cast<int>(text.size()),
                    SQLITE_STATIC);
}

void BindInt(sqlite3_stmt* s, int i, std::int64_t value) { sqlite3_bind_int64(s, i, value); }

void BindOptional(sqlite3_stmt* s, int i, const std::optional<std::int64_t>& value) {
  if (value) {
    sqlite3_bind_int64(s, i, *value);
  } else {
    sqlite3_bind_null(s, i);
  }
}

void BindRow(sqlite3_stmt* s, const ProcessRecord& r, bool with_key) {
  int i = 0;
  BindText(s, ++i, r.id);
  BindText(s, ++i, r.chat_id);
  BindText(s, ++i, r.command);
  BindText(s, ++i, r.workdir);
  BindInt(s, ++i, r.background);
  BindText(s, ++i, r.stdin_mode);
  BindInt(s, ++i, r.tty_rows);
  BindInt(s, ++i, r.tty_cols);
  BindInt(s, ++i, r.timeout_ms);
  BindInt(s, ++i, r.started_at_ms);
  BindOptional(s, ++i, r.exited_at_ms);
  BindOptional(s, ++i, r.done_at_ms);
  BindOptional(s, ++i, r.exit_code);
  BindInt(s, ++i, r.exit_signal);
  BindText(s, ++i, r.ended_by);
  BindInt(s, ++i, r.pid);
  BindInt(s, ++i, r.pgid);
  BindInt(s, ++i, static_cast<std::int64_t>(r.leader_start_time));
  BindText(s, ++i, r.instance);
  BindText(s, ++i, r.cgroup);
  BindInt(s, ++i, static_cast<std::int64_t>(r.total_bytes));
  BindText(s, ++i, r.spool_error);
  if (with_key && !r.idempotency_key.empty()) {
    BindText(s, ++i, r.idempotency_key);
  } else {
    sqlite3_bind_null(s, ++i);
  }
  BindText(s, ++i, r.request_digest);
}

std::string Text(sqlite3_stmt* s, int i) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : "";
}

std::int64_t Int(sqlite3_stmt* s, int i) { return sqlite3_column_int64(s, i); }

std::optional<std::int64_t> Optional(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(s, i);
}

ProcessRecord ReadRow(sqlite3_stmt* s) {
  ProcessRecord r;
  int i = -1;
  r.id = Text(s, ++i);
  r.chat_id = Text(s, ++i);
  r.command = Text(s, ++i);
  r.workdir = Text(s, ++i);
  r.background = Int(s, ++i) != 0;
  r.stdin_mode = Text(s, ++i);
  r.tty_rows = static_cast<int>(Int(s, ++i));
  r.tty_cols = static_cast<int>(Int(s, ++i));
  r.timeout_ms = Int(s, ++i);
  r.started_at_ms = Int(s, ++i);
  r.exited_at_ms = Optional(s, ++i);
  r.done_at_ms = Optional(s, ++i);
  if (auto code = Optional(s, ++i)) r.exit_code = static_cast<int>(*code);
  r.exit_signal = static_cast<int>(Int(s, ++i));
  r.ended_by = Text(s, ++i);
  r.pid = Int(s, ++i);
  r.pgid = Int(s, ++i);
  r.leader_start_time = static_cast<std::uint64_t>(Int(s, ++i));
  r.instance = Text(s, ++i);
  r.cgroup = Text(s, ++i);
  r.total_bytes = static_cast<std::uint64_t>(Int(s, ++i));
  r.spool_error = Text(s, ++i);
  r.idempotency_key = Text(s, ++i);
  r.request_digest = Text(s, ++i);
  return r;
}

void ApplyDone(ProcessRecord& r, const DoneRecord& d) {
  r.exit_code = d.exit_code;
  r.exit_signal = d.exit_signal;
  r.ended_by = d.ended_by;
  r.exited_at_ms = d.exited_at_ms;
  r.done_at_ms = d.done_at_ms;
  r.total_bytes = d.total_bytes;
  r.spool_error = d.spool_error;
}

}  // namespace

void Journal::DatabaseCloser::operator()(sqlite3* db) const { sqlite3_close(db); }
void Journal::StatementFinalizer::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

Journal::Journal(std::string path, Database db, JournalOptions options)
    : path_(std::move(path)), db_(std::move(db)), options_(options) {}

Journal::~Journal() {
  if (auto status = Flush(); !status.ok()) {
    base::LogWarning("journal: records lost at close: " + status.message());
  }
}

base::Status Journal::Prepare() {
  struct Entry {
    Statement* statement;
    std::string sql;
  };
  const std::string insert = InsertSql();
  const Entry entries[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&sync_full_, "PRAGMA synchronous = FULL"},
      {&sync_normal_, "PRAGMA synchronous = NORMAL"},
      {&insert_, insert},
      {&update_done_,
       "UPDATE processes SET exit_code = ?2, exit_signal = ?3, ended_by = ?4, "
       "exited_at_ms = ?5, done_at_ms = ?6, total_bytes = ?7, spool_error = ?8 WHERE id = ?1"},
      {&update_output_, "UPDATE processes SET total_bytes = ?2, spool_error = ?3 WHERE id = ?1"},
      {&delete_, "DELETE FROM processes WHERE id = ?1"},
      {&select_all_, SelectSql("")},
      {&select_by_key_, SelectSql("WHERE chat_id = ?1 AND idempotency_key = ?2")},
      {&select_running_, SelectSql("WHERE done_at_ms IS NULL AND instance != ?1")},
  };
  for (const auto& entry : entries) {
    sqlite3_stmt* statement = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), entry.sql.data(), static_cast<int>(entry.sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    if (rc != SQLITE_OK) return Error("preparing \"" + entry.sql.substr(0, 40) + "...\"");
    entry.statement->reset(statement);
  }
  return base::Status::Ok();
}

base::Status Journal::Error(std::string_view what) const {
  const int rc = sqlite3_extended_errcode(db_.get());
  const int primary = rc & 0xff;
  const auto code = primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? base::Code::kUnavailable
                                                                       : base::Code::kInternal;
  // The statement's text can be long: its start says which one it was.
  if (what.size() > 60) what = what.substr(0, 60);
  return {code, "journal " + path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_.get()) +
                    " (" + sqlite3_errstr(rc) + ")"};
}

base::Status Journal::Execute(sqlite3_stmt* statement) {
  int rc;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
  }
  base::Status status = rc == SQLITE_DONE ? base::Status::Ok() : Error(sqlite3_sql(statement));
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
  return status;
}

Journal::Pending& Journal::Touch(std::string_view id) {
  auto [it, inserted] = pending_.try_emplace(std::string(id));
  if (inserted) it->second.order = next_order_++;
  return it->second;
}

void Journal::RecordStart(const ProcessRecord& record) {
  Pending& p = Touch(record.id);
  const auto order = p.order;
  p = Pending{};
  p.row = record;
  p.order = order;
}

void Journal::RecordDone(const DoneRecord& done) {
  Pending& p = Touch(done.id);
  if (p.forget) return;
  if (p.row) {
    ApplyDone(*p.row, done);
  } else {
    p.done = done;
    p.output.reset();  // the done state carries the output's totals too
  }
}

void Journal::RecordOutput(std::string_view id, std::uint64_t total_bytes,
                           std::string_view spool_error) {
  Pending& p = Touch(id);
  if (p.forget) return;
  if (p.row) {
    p.row->total_bytes = total_bytes;
    p.row->spool_error = spool_error;
  } else if (p.done) {
    p.done->total_bytes = total_bytes;
    p.done->spool_error = spool_error;
  } else {
    p.output.emplace(total_bytes, std::string(spool_error));
  }
}

void Journal::RecordLost(std::string_view id, std::int64_t at_ms, std::uint64_t total_bytes) {
  RecordDone({.id = std::string(id),
              .exit_code = -1,
              .exit_signal = 0,
              .ended_by = "lost",
              .exited_at_ms = at_ms,
              .done_at_ms = at_ms,
              .total_bytes = total_bytes,
              .spool_error = {}});
}

void Journal::RecordForget(std::string_view id) {
  auto it = pending_.find(std::string(id));
  if (it != pending_.end() && it->second.row) {
    pending_.erase(it);  // never committed: nothing to delete
    return;
  }
  Pending& p = Touch(id);
  const auto order = p.order;
  p = Pending{};
  p.forget = true;
  p.order = order;
}

base::Status Journal::Insert(const ProcessRecord& row) {
  BindRow(insert_.get(), row, /*with_key=*/true);
  int rc = sqlite3_step(insert_.get());
  const bool key_taken = (rc & 0xff) == SQLITE_CONSTRAINT && !row.idempotency_key.empty();
  base::Status status = rc == SQLITE_DONE || key_taken ? base::Status::Ok() : Error("insert");
  sqlite3_reset(insert_.get());
  sqlite3_clear_bindings(insert_.get());
  if (!key_taken) return status;
  // Only the (chat, key) index can refuse it: the id conflict is an upsert.
  base::LogWarning("journal: idempotency key of process " + row.id +
                   " already held by another process of its chat; journaled without it");
  BindRow(insert_.get(), row, /*with_key=*/false);
  return Execute(insert_.get());
}

base::Status Journal::WriteBatch() {
  std::vector<std::pair<const std::string*, const Pending*>> batch;
  batch.reserve(pending_.size());
  for (const auto& [id, p] : pending_) batch.emplace_back(&id, &p);
  std::sort(batch.begin(), batch.end(),
            [](const auto& a, const auto& b) { return a.second->order < b.second->order; });

  if (auto status = Execute(begin_.get()); !status.ok()) return status;
  base::Status status;
  for (const auto& [id, p] : batch) {
    if (p->row) {
      status = Insert(*p->row);
    } else if (p->forget) {
      BindText(delete_.get(), 1, *id);
      status = Execute(delete_.get());
    } else if (p->done) {
      sqlite3_stmt* s = update_done_.get();
      const DoneRecord& d = *p->done;
      BindText(s, 1, *id);
      BindInt(s, 2, d.exit_code);
      BindInt(s, 3, d.exit_signal);
      BindText(s, 4, d.ended_by);
      BindInt(s, 5, d.exited_at_ms);
      BindInt(s, 6, d.done_at_ms);
      BindInt(s, 7, static_cast<std::int64_t>(d.total_bytes));
      BindText(s, 8, d.spool_error);
      status = Execute(s);
    } else if (p->output) {
      sqlite3_stmt* s = update_output_.get();
      BindText(s, 1, *id);
      BindInt(s, 2, static_cast<std::int64_t>(p->output->first));
      BindText(s, 3, p->output->second);
      status = Execute(s);
    }
    if (!status.ok()) break;
  }
  if (status.ok()) status = Execute(commit_.get());
  // A failed COMMIT may leave the transaction open (SQLITE_BUSY); a failed statement always
  // does. Roll back so that the next Flush starts clean and writes the whole queue again.
  if (!status.ok() && !sqlite3_get_autocommit(db_.get())) {
    static_cast<void>(Execute(rollback_.get()));  // the first error is the one to report
  }
  return status;
}

base::Status Journal::Flush() {
  if (pending_.empty()) return base::Status::Ok();
  const auto now = base::SteadyClock::now();
  const bool sync = !synced_ever_ || now - last_sync_ >= options_.sync_interval;
  if (sync) {
    if (auto status = Execute(sync_full_.get()); !status.ok()) return status;
  }
  base::Status status = WriteBatch();
  if (sync) {
    if (auto restored = Execute(sync_normal_.get()); !restored.ok() && status.ok()) {
      status = restored;
    }
  }
  if (!status.ok()) return status;
  pending_.clear();
  if (sync) {
    last_sync_ = now;
    synced_ever_ = true;
  }
  unsynced_ = !sync;
  return status;
}

base::Status Journal::Sync() {
  if (!unsynced_) return base::Status::Ok();
  // The commits are whole in the WAL (each appended its frames and commit mark); syncing the
  // file is what a synchronous=FULL commit would have done. No -wal: nothing is waiting in one.
  const std::string wal = path_ + "-wal";
  base::UniqueFd fd(::open(wal.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd && errno != ENOENT) {
    return {base::Code::kInternal, "journal " + wal + ": open: " + std::strerror(errno)};
  }
  if (fd && ::fdatasync(fd.get()) != 0) {
    return {base::Code::kInternal, "journal " + wal + ": fdatasync: " + std::strerror(errno)};
  }
  unsynced_ = false;
  last_sync_ = base::SteadyClock::now();
  synced_ever_ = true;
  return base::Status::Ok();
}

base::Result<std::vector<ProcessRecord>> Journal::Query(sqlite3_stmt* statement) {
  std::vector<ProcessRecord> rows;
  int rc;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) rows.push_back(ReadRow(statement));
  base::Status status = rc == SQLITE_DONE ? base::Status::Ok() : Error("reading");
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
  if (!status.ok()) return status;
  return rows;
}

base::Result<std::vector<ProcessRecord>> Journal::LoadAll() {
  if (auto status = Flush(); !status.ok()) return status;
  return Query(select_all_.get());
}

base::Result<std::optional<ProcessRecord>> Journal::FindByIdempotencyKey(std::string_view chat_id,
                                                                         std::string_view key) {
  if (auto status = Flush(); !status.ok()) return status;
  if (key.empty()) return std::optional<ProcessRecord>();
  BindText(select_by_key_.get(), 1, chat_id);
  BindText(select_by_key_.get(), 2, key);
  auto rows = Query(select_by_key_.get());
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<ProcessRecord>();
  return std::optional<ProcessRecord>(std::move(rows->front()));
}

base::Result<std::vector<ProcessRecord>> Journal::LoadRunning(std::string_view except_instance) {
  if (auto status = Flush(); !status.ok()) return status;
  BindText(select_running_.get(), 1, except_instance);
  return Query(select_running_.get());
}

}  // namespace corral::store
